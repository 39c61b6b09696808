"""The Fleming-Harrington weights of a trial spec's fh and maxcombo tests, checked."""

from __future__ import annotations

from typing import Any

from sim.model.errors import InputError
from sim.model.limits import Limit, check_number


def parse_weights(an: dict[str, Any], test: str, file: str) -> tuple[tuple[float, float], ...]:
    """Fleming-Harrington (rho, gamma) pairs: ``rho``/``gamma`` of the fh test (default
    0, 0), or the ``combo`` list of pairs of MaxCombo (default the four of Lee 2007)."""
    weight = Limit(0.0, 10.0, False)
    if test == "fh":
        pair = (an.get("rho", 0.0), an.get("gamma", 0.0))
        for key, v in zip(("rho", "gamma"), pair, strict=True):
            check_number(v, weight, file, f"analysis.{key}")
        return ((float(pair[0]), float(pair[1])),)
    combo = an.get("combo", [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    if (not isinstance(combo, list) or not 2 <= len(combo) <= 6
            or not all(isinstance(c, list) and len(c) == 2 for c in combo)):
        raise InputError(file, "analysis.combo", f"expected 2 to 6 [rho, gamma] pairs, got {combo!r}",
                         "e.g. [[0, 0], [0, 1], [1, 0], [1, 1]]")
    for c in combo:
        for v in c:
            check_number(v, weight, file, "analysis.combo")
    return tuple((float(c[0]), float(c[1])) for c in combo)
