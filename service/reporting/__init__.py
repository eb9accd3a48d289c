"""The credit office's figures, read from the report read models: plain frozen answers that the
API serialises and pages and workbooks render, each with the records behind its figure."""
