"""Every chaos error has one base (so callers catch ChaosError, not a hand-picked tuple) and
keeps the built-in base callers caught before there was one."""

from __future__ import annotations

import inspect

import pytest

from chaos import exceptions
from chaos.exceptions import ChaosError


def _errors() -> list[type[BaseException]]:
    return [cls for _, cls in inspect.getmembers(exceptions, inspect.isclass)
            if issubclass(cls, BaseException) and cls is not ChaosError]


def test_every_chaos_error_derives_from_the_base() -> None:
    errors = _errors()
    assert len(errors) >= 10
    assert all(issubclass(cls, ChaosError) for cls in errors), errors


@pytest.mark.parametrize(("name", "builtin"), [
    ("InvalidExperiment", ValueError), ("TargetSelectionError", ValueError),
    ("UnresolvedVariable", KeyError), ("UnknownName", KeyError), ("UnknownName", ValueError),
    ("UnsafeTarget", RuntimeError), ("InjectionFailed", RuntimeError),
    ("FaultConflict", RuntimeError), ("StepError", RuntimeError),
    ("ActionFailed", RuntimeError), ("LedgerCorrupt", RuntimeError),
    ("AuditUnavailable", RuntimeError),
])
def test_each_keeps_its_builtin_base(name: str, builtin: type[Exception]) -> None:
    assert issubclass(getattr(exceptions, name), builtin)


def test_the_modules_raise_the_shared_classes() -> None:
    from chaos.faults.base import Fault  # noqa: F401 - the faults package loads
    from chaos.ledger import LedgerCorrupt
    from chaos.safety import UnsafeTarget
    from chaos.targets import TargetSelectionError
    from chaos.variables import UnresolvedVariable

    assert (LedgerCorrupt, UnsafeTarget, TargetSelectionError, UnresolvedVariable) == (
        exceptions.LedgerCorrupt, exceptions.UnsafeTarget, exceptions.TargetSelectionError,
        exceptions.UnresolvedVariable)
