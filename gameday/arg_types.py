"""argparse `type=` converters shared by the gameday subcommands: a bad flag value becomes a
one-line usage error that names the value and the bound (exit 2), never a traceback.

(loadtests/config.py keeps its own few: it runs inside Locust, below the gameday package.)"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole_number(minimum: int) -> Callable[[str], int]:
    """An integer >= minimum."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from exc
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"{value} is negative" if minimum == 0 else f"{value} must be >= {minimum}")
        return value

    return convert


def number(minimum: float, *, strict: bool = False,
           what: str = "a number") -> Callable[[str], float]:
    """A float >= minimum (> minimum when strict)."""

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from exc
        if value < minimum or (strict and value == minimum):
            bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
            raise argparse.ArgumentTypeError(
                f"{value:g} is negative" if (minimum == 0 and not strict)
                else f"{value:g} must be {bound}")
        return value

    return convert


def rate(maximum: float, what: str = "requests per second") -> Callable[[str], float]:
    """A finite float > 0 and <= maximum (`inf`, `nan`, 0 and negatives are refused)."""

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {what}") from exc
        if not math.isfinite(value) or value <= 0 or value > maximum:
            raise argparse.ArgumentTypeError(
                f"{text!r}: need a number of {what} > 0 and <= {maximum:g}")
        return value

    return convert
