"""``python -m grader``: see ``grader.cli``."""

import sys

from grader.cli import main

# Guarded: the batch grader's local Dask workers start as fresh processes that import
# the main module again, and must not run the command a second time.
if __name__ == "__main__":
    sys.exit(main())
