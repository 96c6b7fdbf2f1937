"""The operator's page: a station's or a ledger's units on a live web page (see docs/station.md).

`board` holds what the page shows and knows nothing of the web; `app` is the Starlette
application over a board; `server` runs it with uvicorn on a thread of its own.
"""
