"""How numbers are printed in eval and bench output (tables, reports, compare)."""

from __future__ import annotations


def num(value, nd: int = 3, none: str = "–") -> str:
    """A metric for a table: floats to `nd` decimals, None as a dash, anything else as text."""
    if value is None:
        return none
    if isinstance(value, float):
        return f"{value:.{nd}f}"
    return str(value)


def delta(a, b) -> str:
    """B - A for compare: "=" when unchanged, "" when either is undefined."""
    if a is None or b is None:
        return ""
    d = b - a
    return "=" if abs(d) < 5e-4 else f"{d:+.3f}"
