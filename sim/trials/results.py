"""Simulated trials and their analysis: ``SimulatedTrials`` (the patients of K trials)
and ``TrialResults`` (tests, boundaries and stopping at every size and look)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from sim.stats import maxcombo
from sim.trials.analyse import _analyse
from sim.trials.spec import _RULE, _TEST, TrialSpec
from sim.trials.spending import SequentialPlan, spent


@dataclass(frozen=True)
class SimulatedTrials:
    """K simulated trials of the largest size N: per-patient arrays shaped (K, N).

    ``t_event``: survival endpoints: event day from randomisation (inf: no event within
    the kernel horizon); binary endpoints: the day the patient counts as a responder
    (CR) or a case (grade >= 3 CRS), inf if never; ``t_denominator`` (binary only): the
    day the patient enters the denominator. ``arm``: 1 = experimental (B);
    ``entry``: randomisation day from the first randomisation; ``dropout``: days from
    randomisation to dropout."""

    spec: TrialSpec
    seed: int
    t_event: np.ndarray
    arm: np.ndarray
    entry: np.ndarray
    dropout: np.ndarray
    t_denominator: np.ndarray | None = None

    @property
    def trials(self) -> int:
        return self.t_event.shape[0]

    @property
    def n_max(self) -> int:
        return self.t_event.shape[1]

    def cutoff(self, k: int, n: int, look: int = -1) -> float | None:
        """Cut-off day of trial k at size n for a look (plain numpy; None: the look did
        not happen); the reference the compiled analysis is tested against."""
        spec = self.spec
        entry = self.entry[k, :n]
        if spec.followup_rule == "min_followup":
            return float(entry[-1] + spec.min_followup_days)
        if spec.followup_rule == "calendar":
            return float(spec.cutoff_days)
        last = entry[-1] + spec.max_followup_days
        t = self.t_event[k, :n]
        cal = np.sort(np.where(t <= self.dropout[k, :n], entry + t, np.inf))
        looks = spec.look_events()
        d = looks[look]
        hit = d <= n and cal[d - 1] <= last
        if not hit and (look % len(looks)) != len(looks) - 1:
            return None
        return float(cal[d - 1]) if hit else float(last)

    def observed(self, k: int, n: int, look: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(time, event, arm) of trial k at size n after censoring at a look's cut-off
        (plain numpy: the reference for the compiled analysis; survival endpoints)."""
        cutoff = self.cutoff(k, n, look)
        entry = self.entry[k, :n]
        keep = entry <= cutoff
        cens = np.minimum(self.dropout[k, :n], cutoff - entry)
        t = self.t_event[k, :n]
        event = (t <= self.dropout[k, :n]) & (entry + t <= cutoff)
        return np.where(event, t, cens)[keep], event[keep], self.arm[k, :n][keep].copy()

    def analyse(self, sizes: Any) -> TrialResults:
        """The spec's test of every trial at every size in ``sizes`` (each <= N) and look."""
        spec = self.spec
        sizes = np.asarray(sizes, dtype=np.int64).ravel()
        if sizes.size and (sizes.min() < 2 or sizes.max() > self.n_max):
            raise ValueError(f"sizes must lie in [2, {self.n_max}]")
        looks = np.asarray(spec.look_events(), np.int64)
        fractions = np.asarray(spec.look_fractions(), np.float64)
        shape = (self.trials, sizes.size, looks.size)
        z, p, est, aux, oe, var, dur = (np.zeros(shape) for _ in range(7))
        p[:] = 1.0
        counts = np.zeros((*shape, 4), np.int64)
        done = np.zeros(shape, np.bool_)
        reached = np.zeros(shape[:2], np.bool_)
        c = len(spec.fh_weights)
        combo_cov = np.zeros((*shape, c, c) if spec.test == "maxcombo" and looks.size > 1 else (1, 1, 1, c, c))
        rule = _RULE[spec.followup_rule]
        fu = {0: spec.min_followup_days, 1: spec.cutoff_days, 2: spec.max_followup_days}[rule]
        t2 = self.t_denominator if self.t_denominator is not None else self.t_event
        _analyse(self.t_event, t2, self.arm, self.entry, self.dropout, sizes, rule, float(fu), looks, fractions,
                 _TEST[spec.test], spec.sides, spec.direction, float(spec.historical_hazard_per_day or 0.0),
                 float(spec.p0 or 0.5), z, p, est, aux, oe, var, counts, dur, done, reached,
                 np.array([w[0] for w in spec.fh_weights]), np.array([w[1] for w in spec.fh_weights]),
                 float(spec.km_days), decision_levels(spec), combo_cov)
        return TrialResults(spec, sizes, z, p, est, aux, oe, var, counts, dur, done, reached,
                            combo_cov if spec.test == "maxcombo" and looks.size > 1 else None)


@dataclass(frozen=True)
class TrialResults:
    """Per trial (axis 0), size (axis 1) and look (axis 2) analysis results; the
    two-dimensional properties describe the analysis at which each trial ends (the
    look where it stopped for efficacy, else its final analysis)."""

    spec: TrialSpec
    sizes: np.ndarray
    z_looks: np.ndarray
    p_looks: np.ndarray
    estimate_looks: np.ndarray
    aux_looks: np.ndarray
    o_minus_e_looks: np.ndarray
    variance_looks: np.ndarray
    counts_looks: np.ndarray  # (..., 4): x_a, n_a, x_b, n_b (survival: events and patients)
    duration_looks: np.ndarray
    done: np.ndarray
    reached: np.ndarray  # D events reached (event-driven rule; True otherwise)
    combo_cov_looks: np.ndarray | None = None  # MaxCombo with looks: (..., c, c) its statistics' covariance per look

    @property
    def alpha(self) -> float:
        return self.spec.alpha

    @property
    def looks(self) -> int:
        return self.z_looks.shape[2]

    @property
    def rate_looks(self) -> bool:
        """Interims of a rate endpoint: information is patients in the denominator, and the
        planned maximum is each grid size's n."""
        return self.looks > 1 and self.spec.followup_rule != "events"

    @cached_property
    def plan(self) -> SequentialPlan | None:
        """The planned group-sequential design (None without interim looks); for a rate
        endpoint on the fraction scale (planned information 1)."""
        if self.looks == 1:
            return None
        return sequential_plan(self.spec, 1.0 if self.rate_looks else None)

    def _planned_info(self) -> tuple[float, ...]:
        return self.spec.look_fractions() if self.rate_looks else tuple(map(float, self.spec.look_events()))

    def boundaries(self) -> np.ndarray:
        """Planned efficacy boundaries on the favourable-z scale, one per look (at the
        planned information; each trial's own are recomputed at its observed information)."""
        if self.plan is None:
            return np.array([math.nan])
        if self.combo_cov_looks is not None:  # no planned covariance: the trials' median (first size)
            b = np.where(self.done[:, 0], self.look_boundaries[0][:, 0], np.nan)
            b[~np.isfinite(b)] = np.nan
            with np.errstate(all="ignore"):
                return np.array([np.nanmedian(col) if np.isfinite(col).any() else math.inf for col in b.T])
        return self.plan.bounds(self._planned_info())[0]

    def futility_boundaries(self) -> np.ndarray:
        """Planned futility boundaries (favourable z; -inf: none), one per look."""
        if self.plan is None:
            return np.array([-math.inf])
        return self.plan.bounds(self._planned_info())[1]

    @cached_property
    def look_boundaries(self) -> tuple[np.ndarray, np.ndarray]:
        """(efficacy, futility) boundary of every trial, size and look, recomputed at the
        information each trial observed at its looks (events; for a rate endpoint the
        patients in the denominator, of n planned); inf / -inf where a look did not happen."""
        assert self.plan is not None
        if self.combo_cov_looks is not None:
            return self._combo_boundaries()
        K, G, L = self.z_looks.shape
        c = self.counts_looks
        info = (c[..., 1] + c[..., 3] if self.rate_looks else c[..., 0] + c[..., 2]).astype(np.float64)
        # a weighted log-rank spends at its event fraction, its looks correlated as its variances
        weighted = self.spec.test == "fh"
        b = np.full((K, G, L), math.inf)
        a = np.full((K, G, L), -math.inf)
        for g in range(G):
            plan = sequential_plan(self.spec, float(self.sizes[g])) if self.rate_looks else self.plan
            rows = np.where(self.done[:, g], info[:, g], -1.0)
            if weighted:
                rows = np.concatenate([rows, np.where(self.done[:, g], self.aux_looks[:, g], -1.0)], axis=1)
            uniq, inverse = np.unique(rows, axis=0, return_inverse=True)
            bu = np.full((uniq.shape[0], L), math.inf)
            au = np.full((uniq.shape[0], L), -math.inf)
            for u, row in enumerate(uniq):
                at = np.flatnonzero(row[:L] >= 0.0)
                if weighted:
                    bu[u, at], au[u, at] = plan.bounds(row[L:][at], spend_at=row[:L][at])
                else:
                    bu[u, at], au[u, at] = plan.bounds(row[at])
            inverse = inverse.reshape(-1)
            b[:, g], a[:, g] = bu[inverse], au[inverse]
        return b, a

    def _combo_boundaries(self) -> tuple[np.ndarray, np.ndarray]:
        """MaxCombo's (efficacy, futility) boundaries per trial, size and look: alpha spent
        at each look's event fraction of D (the final look spending what is left; two
        sides: twice the one-sided spending of alpha / 2), each boundary solved under the
        joint normal of every look's statistics (:func:`sim.stats.maxcombo.sequential_bounds`);
        futility: the fixed thresholds, capped at the efficacy boundary."""
        assert self.combo_cov_looks is not None
        spec = self.spec
        K, G, L = self.z_looks.shape
        events = (self.counts_looks[..., 0] + self.counts_looks[..., 2]).astype(np.float64)
        cum = spec.sides * spent(np.minimum(events / spec.events, 1.0), spec.alpha / spec.sides, spec.spending)
        cum[..., L - 1] = spec.alpha
        cum = np.where(self.done, cum, 0.0)
        before = np.concatenate([np.zeros((K, G, 1)), np.maximum.accumulate(cum, axis=2)[..., :-1]], axis=2)
        spend = np.where(self.done, np.maximum(cum - before, 0.0), 0.0)
        c = self.combo_cov_looks.shape[-1]
        b = np.empty(K * G * L)
        maxcombo.sequential_bounds_many(self.combo_cov_looks.reshape(K * G, L, c, c), self.done.reshape(K * G, L),
                                        spend.reshape(K * G, L), spec.sides, maxcombo.SEQUENTIAL_POINTS,
                                        b.reshape(K * G, L))
        b = b.reshape(K, G, L)
        a = np.full((K, G, L), -math.inf)
        for k, f in enumerate(spec.futility_z):
            a[:, :, k] = np.where(self.done[:, :, k], np.minimum(f, b[:, :, k]), -math.inf)
        return b, a

    @cached_property
    def _stopping(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._stop()

    def _stop(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reject, look index at which each trial ends, stopped for futility)."""
        if self.looks == 1:
            none = np.zeros(self.z_looks.shape[:2], np.int64)
            return self.p_looks[:, :, 0] < self.alpha, none, none.astype(np.bool_)
        b, a = self.look_boundaries
        favourable = self.spec.direction * self.z_looks
        zf = np.abs(self.z_looks) if self.spec.sides == 2 else favourable
        cross = self.done & (zf >= b)
        # futility: an interim whose favourable statistic is at or below its bound (and
        # does not cross for efficacy) ends the trial without rejection
        futile = self.done & ~cross & (favourable <= a)
        stop = cross | futile
        any_stop = stop.any(axis=2)
        first = np.where(any_stop, np.argmax(stop, axis=2), self.looks - 1)
        at = first[:, :, None]
        reject = np.take_along_axis(cross, at, axis=2)[:, :, 0] & any_stop
        futility = np.take_along_axis(futile, at, axis=2)[:, :, 0] & any_stop
        return reject, first, futility

    @property
    def futility_stop(self) -> np.ndarray:
        """Trials (axis 0) at each size that stopped at an interim for futility."""
        return self._stopping[2]

    @property
    def reject(self) -> np.ndarray:
        return self._stopping[0]

    @property
    def stop_look(self) -> np.ndarray:
        return self._stopping[1]

    def _at_end(self, a: np.ndarray) -> np.ndarray:
        return np.take_along_axis(a, self.stop_look[:, :, None], axis=2)[:, :, 0]

    @property
    def z(self) -> np.ndarray:
        return self._at_end(self.z_looks)

    @property
    def p(self) -> np.ndarray:
        return self._at_end(self.p_looks)

    @property
    def chi2(self) -> np.ndarray:
        return self.z**2

    @property
    def estimate(self) -> np.ndarray:
        return self._at_end(self.estimate_looks)

    @property
    def o_minus_e(self) -> np.ndarray:
        return self._at_end(self.o_minus_e_looks)

    @property
    def variance(self) -> np.ndarray:
        return self._at_end(self.variance_looks)

    @property
    def counts(self) -> np.ndarray:
        return np.take_along_axis(self.counts_looks, self.stop_look[:, :, None, None], axis=2)[:, :, 0]

    @property
    def events(self) -> np.ndarray:
        """Events (survival) or numerator count (binary endpoints) at the end of each trial."""
        c = self.counts
        return c[..., 0] + c[..., 2]

    @property
    def duration_days(self) -> np.ndarray:
        return self._at_end(self.duration_looks)

    @property
    def power(self) -> np.ndarray:
        return self.reject.mean(axis=0)


def decision_levels(spec: TrialSpec) -> np.ndarray:
    """The levels a p-value of the spec is compared with: alpha, and for several
    comparisons with a shared control also alpha / j (Bonferroni, Holm's steps)."""
    j = len(spec.arms) - 1 if spec.design == "multi_arm" else 1
    return np.array([spec.alpha / i for i in range(1, j + 1)])


def sequential_plan(spec: TrialSpec, planned: float | None = None) -> SequentialPlan:
    """Lan-DeMets plan of a spec with interims, for ``planned`` maximum information
    (default: D events): efficacy at one-sided alpha / sides; futility beta = 1 - power
    under ``futility_hr``, whose drift per sqrt(event) is ``-log(HR) sqrt(p (1 - p))``
    for two arms with allocation share p (Schoenfeld 1981) and ``-log(HR)`` for the
    one-sample log-rank (rate endpoints: fixed ``futility_z`` only)."""
    drift = 0.0
    if spec.futility_hr is not None:
        p = spec.p_experimental
        drift = -math.log(spec.futility_hr) * (1.0 if spec.design == "single_arm" else math.sqrt(p * (1.0 - p)))
    return SequentialPlan(float(spec.events) if planned is None else planned, spec.alpha / spec.sides, spec.spending,
                          futility=spec.futility,
                          beta=1.0 - spec.power, drift_per_sqrt_info=drift, futility_z=spec.futility_z)
