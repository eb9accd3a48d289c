"""The credit office's figures (信用办考核): read-side queries over the read models the runner keeps
current, each answering with plain frozen dataclasses that the API, a page and a workbook render,
and with the rows behind every figure."""
