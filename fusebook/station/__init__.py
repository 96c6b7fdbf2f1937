"""The factory station: many units at once on one host, each port a worker (see docs/station.md).

The station is built on fusebook.api and is exported by it; importing the api first keeps
that order whichever module a user imports.
"""

import fusebook.api  # noqa: F401
