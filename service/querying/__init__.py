"""The read side a querying agency uses (逢批必查): credit status by subject or by code, a batch
of codes, and what the log and its signed checkpoints say about an answer. The API's query
routes and the console's pages call the same functions here."""
