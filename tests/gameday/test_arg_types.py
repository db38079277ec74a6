"""The subcommands' numeric flag converters: bad values are usage errors naming the value."""

from __future__ import annotations

import argparse

import pytest

from gameday.arg_types import number, whole_number


def test_whole_number_bounds() -> None:
    assert whole_number(0)("0") == 0
    assert whole_number(1)("7") == 7
    with pytest.raises(argparse.ArgumentTypeError, match="'x' is not an integer"):
        whole_number(1)("x")
    with pytest.raises(argparse.ArgumentTypeError, match="-1 is negative"):
        whole_number(0)("-1")
    with pytest.raises(argparse.ArgumentTypeError, match="0 must be >= 1"):
        whole_number(1)("0")


def test_number_bounds() -> None:
    assert number(0)("0") == 0.0
    assert number(0, strict=True)("0.5") == 0.5
    with pytest.raises(argparse.ArgumentTypeError, match="'soon' is not a number of seconds"):
        number(0, what="a number of seconds")("soon")
    with pytest.raises(argparse.ArgumentTypeError, match="-2 is negative"):
        number(0)("-2")
    with pytest.raises(argparse.ArgumentTypeError, match="0 must be > 0"):
        number(0, strict=True)("0")


def test_the_cli_turns_them_into_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    from gameday.cli import build_parser

    with pytest.raises(SystemExit) as raised:
        build_parser().parse_args(["up", "--replace-delay", "-1"])
    assert raised.value.code == 2
    assert "argument --replace-delay: -1 is negative" in capsys.readouterr().err
