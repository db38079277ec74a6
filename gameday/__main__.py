"""`python -m gameday` is the same as the `gameday` console script."""

import sys

from gameday.cli import main

sys.exit(main())
