"""Credit reports at the edge: the PDF (`pdf.py`), issuing one for a caller and answering with
its bytes (`issuing.py`), the API's routes (`routes.py`, bodies in `schemas.py`), and the public
pages: verifying a report without an account and a subject's own report (`pages.py`)."""
