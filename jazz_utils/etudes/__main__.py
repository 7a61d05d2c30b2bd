"""``python -m jazz_utils.etudes [--check] [--out DIR]``: regenerate or check the bundled corpus."""

from __future__ import annotations

import sys

from jazz_utils.etudes.build import main

if __name__ == "__main__":
    sys.exit(main())
