"""Every error the chaos package raises on purpose, under one base: `ChaosError`.

Catch `ChaosError` for "the harness refused or could not do what was asked" (the runner turns
it into an `error` outcome, the CLI into an exit code); catch a subclass when the answer
differs. Each class also keeps the built-in base it had before there was a common one
(ValueError for bad input, KeyError for a missing name, RuntimeError for a failed action), so
code that catches those goes on working.

A leaf module: it imports nothing from the project, so any module may raise from it.
"""

from __future__ import annotations

from dataclasses import dataclass


class ChaosError(Exception):
    """Base of every chaos error."""


# -- input: experiment files, names, selections -------------------------------------------------


@dataclass(frozen=True)
class SpecError:
    """One problem in an experiment file, with where it is."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"


class InvalidExperiment(ChaosError, ValueError):
    """An experiment file that does not load; `errors` lists every problem found."""

    def __init__(self, errors: list[SpecError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class UnknownName(ChaosError, KeyError, ValueError):
    """A name no registry holds (fault, probe, action, verdict metric); the message names the
    known ones. A KeyError for mapping-style lookups, a ValueError for input checks."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class TargetSelectionError(ChaosError, ValueError):
    """A malformed target selection, or one with nothing to choose from."""


class UnresolvedVariable(ChaosError, KeyError):
    """A `${...}` names nothing saved so far."""


# -- safety ---------------------------------------------------------------------------------------


class UnsafeTarget(ChaosError, RuntimeError):
    """The CLI refuses to act on this endpoint or account."""


# -- doing: faults, steps, actions, the ledger ----------------------------------------------------


class InjectionFailed(ChaosError, RuntimeError):
    """The fault could not be set, or did not land; the run/command fails."""


class FaultConflict(InjectionFailed):
    """Another active fault already holds this target."""


class UnknownTarget(InjectionFailed, ValueError):
    """A fault names a target that does not exist (a service, function, replica or alarm):
    bad input, found while planning, before anything is touched. A ValueError too, so the CLI
    answers it as it answers every other bad input (exit 2), and an InjectionFailed for the
    callers that plan faults (the runner's plan and steps)."""


class StepError(ChaosError, RuntimeError):
    """A step could not be carried out (the run errors)."""


class ActionFailed(ChaosError, RuntimeError):
    """The action could not do what it says; the run fails."""


class AuditUnavailable(ChaosError, RuntimeError):
    """The audit module does not exist (yet) in this checkout."""


class LedgerCorrupt(ChaosError, RuntimeError):
    """The ledger file cannot be read as a list of faults."""
