"""The 双公示 batch importer: a CSV or XLSX file from a recording agency, streamed to records."""
