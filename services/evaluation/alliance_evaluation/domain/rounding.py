"""Rounding done once, at the very end: scores are exact fractions until they are shown."""

from __future__ import annotations

from fractions import Fraction


def rounded(value: Fraction, digits: int = 2) -> float:
    """Half-up rounding of an exact value, done once at the end (never on partial sums)."""
    scale: int = 10**digits  # floor(v·s + 1/2) in integers: Fraction arithmetic was a third of a rescore's time
    n, d = value.numerator, value.denominator
    return ((2 * n * scale + d) // (2 * d)) / scale  # int / int: correctly rounded, as Fraction.__float__
