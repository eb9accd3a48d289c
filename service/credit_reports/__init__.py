"""Credit reports (信用报告) and special credit reports (专项信用报告) that anyone can verify: what
a report holds, computed from the subject's events at a signed checkpoint (`contents.py`, with
the as-of machinery of `projections.credit_file.as_of`), which events that is (`basis.py`), the
reports kept once issued and their verification (`reports.py`, `tables.py`), and the digest and
signature that tie a report's contents to the signed log (`sealing.py`), and a report
recomputed offline from a signed export of its subject (`offline.py`). Rendering the PDF is the
edge's (`api/credit_reports/pdf.py`), handed in when a report is issued."""
