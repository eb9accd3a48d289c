"""The credit domain: subjects, their recorded facts and the rules over them. Pure Python."""
