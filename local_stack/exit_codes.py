"""The exit codes of every command line of the harness, defined once.

`gameday ...` and `python -m chaos ...` (the same commands) return these; README's table is
this table (tests/stack/test_exit_codes.py compares them). Here, in local_stack, because both
CLIs (gameday above chaos above loadtests above local_stack) must read one definition.

One meaning per code, whatever the command:

- a command that needs a stack exits UNAVAILABLE when there is none (`status`, `audit`,
  `traces`, `load` without `--host`, `chaos inject|run|status`); the commands that make things
  go away (`down`, `chaos cleanup`, `chaos reap`) are idempotent and exit OK when there is
  nothing to stop, saying so;
- a command with a natural end that a signal cut short exits INTERRUPTED/TERMINATED (`run`,
  `load`, `chaos run`); for a command whose documented end *is* Ctrl-C or SIGTERM (`up`, the
  wait of `run --keep` and of `load --web`, `chaos inject` ending its fault early) that signal
  is the normal end: OK.
"""

from __future__ import annotations

import signal
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    UNAVAILABLE = 3
    INTERRUPTED = 128 + signal.SIGINT  # 130
    TERMINATED = 128 + signal.SIGTERM  # 143


MEANING: dict[ExitCode, str] = {
    ExitCode.OK: "done: every hypothesis held, the fault was injected and undone, nothing to "
                 "stop (`down`, `chaos cleanup` with no stack)",
    ExitCode.FAILED: "the command ran and the answer is no: a hypothesis or verdict failed, a "
                     "fault did not land (undone at once), something could not be undone or "
                     "was left running, the audit found problems, an SLO gate was missed",
    ExitCode.USAGE: "bad input, named: a flag, an experiment file, an unknown experiment, "
                    "fault, service or function, a target outside loopback, a missing "
                    "prerequisite",
    ExitCode.UNAVAILABLE: "nothing to act on: no stack running where the command needs one, "
                          "the stack did not start or stopped working, the load target or "
                          "Grafana never answered",
    ExitCode.INTERRUPTED: "interrupted by SIGINT (Ctrl-C): faults rolled back, reports written",
    ExitCode.TERMINATED: "interrupted by SIGTERM: the same",
}


def for_signal(signum: int) -> ExitCode:
    """The exit code of a run cut short by `signum` (SIGTERM: 143, anything else: 130)."""
    return ExitCode.TERMINATED if signum == signal.SIGTERM else ExitCode.INTERRUPTED
