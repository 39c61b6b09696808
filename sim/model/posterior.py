"""The calibrated posterior sample (``params/posterior.parquet``) and theta vectors built
from it.

File layout: one row per posterior draw (equally weighted), a ``draw_id`` column and one
float64 column per calibrated theta slot, labelled as :func:`sim.model.parameters.theta_labels`
labels them (``"name"`` or ``"name[element]"``). The file's 'cartsim' metadata records how
it was made (method, seed, prior file, effective sample size).

Only disease and treatment-effect parameters are calibrated, never cohort or policy
values, so a posterior draw can be laid over any scenario. A parameter the scenario sets
itself (its ``[overrides]``, cohort or policy) keeps the scenario's value: a what-if
scenario's question is not undone by the posterior.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.model.errors import InputError
from sim.model.limits import check_number, value_range
from sim.model.parameter_set import SIMPLEX_TOLERANCE, ParameterSet
from sim.model.parameters import OFFSETS, SPEC_BY_NAME, SPECS, Family, Support, theta_labels

METADATA_KEY = b"cartsim"
POSTERIOR_PATH = Path(__file__).resolve().parents[2] / "params" / "posterior.parquet"


def _slot_of_label() -> dict[str, tuple[str, int]]:
    """theta label -> (parameter name, theta offset)."""
    out: dict[str, tuple[str, int]] = {}
    for spec in SPECS:
        off = OFFSETS[spec.name]
        if spec.length == 1:
            out[spec.name] = (spec.name, off)
        else:
            for i, lab in enumerate(spec.element_labels):
                out[f"{spec.name}[{lab}]"] = (spec.name, off + i)
    return out


SLOT_OF_LABEL = _slot_of_label()
assert list(SLOT_OF_LABEL) == theta_labels()


@dataclass(frozen=True)
class Posterior:
    """Equally weighted posterior draws of the calibrated theta slots."""

    labels: list[str]  # theta labels, one per column of ``values``
    values: np.ndarray = field(repr=False)  # (draws, len(labels)) float64
    meta: dict[str, Any] = field(default_factory=dict)
    file: str = ""

    @property
    def draws(self) -> int:
        return int(self.values.shape[0])

    @property
    def parameter_names(self) -> list[str]:
        """The calibrated parameters (each once, in file order)."""
        return list(dict.fromkeys(SLOT_OF_LABEL[lab][0] for lab in self.labels))

    def thetas(self, params: ParameterSet, n_draws: int | None = None, start: int = 0) -> np.ndarray:
        """Theta vectors (rows) for draws ``start .. start+n_draws-1`` (cycling through the
        sample when more are asked for than it holds): ``params`` with the calibrated slots
        replaced, except parameters whose value ``params`` took from a scenario."""
        n = self.draws if n_draws is None else n_draws
        check_number(n, "draws", self.file or "posterior", "draws")
        rows = (start + np.arange(n)) % self.draws
        thetas = np.tile(params.theta(), (n, 1))
        for j, lab in enumerate(self.labels):
            name, off = SLOT_OF_LABEL[lab]
            if _set_by_scenario(params, name):
                continue
            thetas[:, off] = self.values[rows, j]
        return thetas


    def thetas_with_prior(self, params: ParameterSet, n_draws: int, seed: int, start: int = 0) -> np.ndarray:
        """Like :meth:`thetas`, but every uncertain parameter the calibration did not
        inform is also drawn, from its prior (``sim.model.uncertainty``): the full
        parameter uncertainty of a probabilistic analysis. Scenario-set values stay fixed."""
        from sim.model.uncertainty import sample_thetas, uncertain_names  # noqa: PLC0415 - avoids a cycle

        calibrated = set(self.parameter_names)
        others = [n for n in uncertain_names(params) if n not in calibrated and not _set_by_scenario(params, n)]
        thetas = sample_thetas(params, n_draws, seed, names=others) if others else np.tile(params.theta(), (n_draws, 1))
        mine = self.thetas(params, n_draws, start)
        for lab in self.labels:
            name, off = SLOT_OF_LABEL[lab]
            if not _set_by_scenario(params, name):
                thetas[:, off] = mine[:, off]
        return thetas


def _set_by_scenario(params: ParameterSet, name: str) -> bool:
    """True when the value came from a scenario or an override rather than a parameter
    file (parameter files live in ``params/``)."""
    origin = params.entries[name].origin
    return bool(origin) and Path(origin).parent.name != "params"


def load_posterior(path: Path | str | None = None, required: bool = False) -> Posterior | None:
    """The posterior sample at ``path`` (default ``params/posterior.parquet``), or None when
    the default file does not exist and ``required`` is false. A corrupt file, an unknown
    column or a value outside its parameter's admissible range is an InputError
    (:func:`check_posterior_table`)."""
    p = POSTERIOR_PATH if path is None else Path(path)
    if not p.is_file():
        if path is None and not required:
            return None
        raise InputError(str(p), "", "file not found", "a posterior written by `cartsim calibrate`")
    try:
        table = pq.read_table(p)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(str(p), "", f"not a readable Parquet file ({exc})",
                         "a posterior written by `cartsim calibrate`") from None
    names = [c for c in table.column_names if c != "draw_id"]
    for c in names:
        if c not in SLOT_OF_LABEL:
            raise InputError(str(p), c, "column is not a parameter slot", "theta labels such as 'relapse.median_days'")
    if len(set(table.column_names)) != len(table.column_names):
        twice = next(c for c in table.column_names if table.column_names.count(c) > 1)
        raise InputError(str(p), twice, "column appears more than once", "one column per theta slot")
    if not names or table.num_rows == 0:
        raise InputError(str(p), "", "posterior has no draws or no parameter columns")
    values = check_posterior_table(table, names, str(p))
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    try:
        meta = json.loads(raw) if raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(str(p), "metadata.cartsim", "metadata is not valid JSON", "a posterior written by "
                         "`cartsim calibrate`") from None
    return Posterior(names, values, meta if isinstance(meta, dict) else {}, str(p))


def _numeric_column(table: pa.Table, name: str, file: str) -> np.ndarray:
    column = table.column(name)
    if not (pa.types.is_floating(column.type) or pa.types.is_integer(column.type)):
        raise InputError(file, name, f"column holds {column.type} values, not numbers", "float64 numbers, one per draw")
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=float)


def check_posterior_table(table: pa.Table, names: list[str], file: str) -> np.ndarray:
    """The parameter columns ``names`` of a posterior table as a (draws, columns) float
    array, each value checked against its parameter's admissible range (the registry's
    support narrowed by ``sim.model.limits``) and each share vector's row sums against
    1 (within ``SIMPLEX_TOLERANCE``; a vector only partly present must not exceed 1).
    The first bad value is an InputError naming the column, its draw_id, the value
    and what is allowed."""
    if "draw_id" in table.column_names:
        column = table.column("draw_id")
        if not pa.types.is_integer(column.type) or column.null_count:
            raise InputError(file, "draw_id", f"column holds {column.type} values (or nulls)", "whole numbers")
        ids = column.to_numpy()
        if len(np.unique(ids)) != len(ids):
            raise InputError(file, "draw_id", "a draw id appears more than once", "distinct draw ids")
    else:
        ids = np.arange(table.num_rows)
    values = np.column_stack([_numeric_column(table, c, file) for c in names])
    shares: dict[str, list[int]] = {}
    for j, label in enumerate(names):
        spec = SPEC_BY_NAME[SLOT_OF_LABEL[label][0]]
        x = values[:, j]
        allowed = value_range(spec)
        bad = ~allowed.contains(x)
        if spec.support in (Support.COUNT, Support.FAMILY, Support.SWITCH):
            codes = {Support.FAMILY: len(Family), Support.SWITCH: 2}
            top = codes.get(spec.support)
            bad |= (x != np.round(x)) | ((x >= top) if top else False) | (x < (1 if top is None else 0))
        if bad.any():
            i = int(np.argmax(bad))
            what = "non-finite value" if not np.isfinite(x[i]) else f"value {x[i]!r} is out of range"
            raise InputError(file, f"{label} (draw_id {ids[i]})", what,
                             allowed.describe(spec.support.value, spec.unit))
        if spec.support is Support.SIMPLEX:
            shares.setdefault(spec.name, []).append(j)
    for name, cols in shares.items():
        total = values[:, cols].sum(axis=1)
        complete = len(cols) == SPEC_BY_NAME[name].length
        bad = np.abs(total - 1.0) > SIMPLEX_TOLERANCE if complete else total > 1.0 + SIMPLEX_TOLERANCE
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(file, f"{name} (draw_id {ids[i]})", f"shares sum to {total[i]:.9g}",
                             f"shares summing to {'1' if complete else 'at most 1'} "
                             f"(within {SIMPLEX_TOLERANCE:g})")
    return values
