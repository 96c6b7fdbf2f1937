"""`python -m fusebook` runs the command line."""

import sys

from fusebook.cli.main import main

sys.exit(main())
