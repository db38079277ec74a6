"""gameday package."""

import time

#: When this process loaded the package: the first thing the `gameday` console script does, so
#: the "command to the first request" budget counts every import after the interpreter's own
#: start-up. (The process's creation time is not used: a shell that execs its last command,
#: as `bash -c "pip install … && gameday run"` does, would make it count the install too.)
IMPORTED_AT = time.time()
