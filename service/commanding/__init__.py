"""The command side: command models, their handling on the subject streams, the 双公示 importer."""
