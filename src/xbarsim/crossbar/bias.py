"""Write bias schemes: which devices see which fraction of a write pulse (layer 2).

A pulse of amplitude V is applied to the selected device (row r, column c). The scheme
fixes what every other device sees:

========  =========================  ======================
scheme    same row or same column    all other devices
========  =========================  ======================
V/2       +V/2 (half-selected)       0
V/3       +V/3                       -V/3 (opposite polarity)
none      0 (ideal selector, 1T1R)   0
========  =========================  ======================
"""

from __future__ import annotations

from enum import StrEnum


class BiasScheme(StrEnum):
    """Write bias scheme of a passive crossbar."""

    V2 = "V/2"
    V3 = "V/3"
    NONE = "none"

    @property
    def line_fraction(self) -> float:
        """Fraction of the pulse seen by devices sharing the selected row or column."""
        return {BiasScheme.V2: 0.5, BiasScheme.V3: 1.0 / 3.0, BiasScheme.NONE: 0.0}[self]

    @property
    def other_fraction(self) -> float:
        """Fraction of the pulse seen by devices on neither selected line (signed)."""
        return -1.0 / 3.0 if self is BiasScheme.V3 else 0.0
