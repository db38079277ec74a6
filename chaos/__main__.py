"""`python -m chaos COMMAND` is the same as `gameday chaos COMMAND`."""

import sys

from chaos.cli import main

sys.exit(main())
