"""Costs, life-years and QALYs, accumulated by the pathway's walk as it goes.

The walk (``pathway.walk``) calls these functions only when it is given an ``econ``
vector (offsets ``EP``, ``sim.model.economic_inputs``) and an ``erow`` (columns ``E``,
``sim.model.outputs``); without them the calls are removed at compile time, so the
records and the speed of a run without economics are unchanged.

Health states for utilities: ``DISEASE`` (active leukaemia: waiting for a product,
after non-response or relapse, on salvage), ``TREATMENT`` (infusion to the response
assessment), ``REMISSION`` and ``REMISSION_HSCT`` (after a consolidative transplant).
The walk reports each change of state; the interval just ended is valued then, and the
last one at the end of follow-up (death or the horizon). A remission lasting more than
``long_term.years`` is valued from then on at the age-adjusted general-population
utility, ``c0 + c_male * p_male - c_age * age - c_age2 * age^2`` (age in years at that
time), times ``long_term_multiplier`` (and the transplant multiplier after a transplant).

Discounting is continuous: a cost at day t is weighted by exp(-rho t) and a utility
flow u over [a, b) days contributes u * integral_a^b exp(-rho t) dt / 365.25 QALYs, with
rho = ln(1 + r) / 365.25 per day for the annual rate r (costs and outcomes apart), so a
whole year is discounted by exactly 1 / (1 + r). Costs per cycle or month are spread
evenly over the time they run. Nothing after the horizon is counted.

Cost of the arithmetic (the walk without economics takes ~0.5-1.3 us per patient):

* a call between compiled functions that passes arrays costs ~50 ns (measured: the same
  helper with scalar arguments is inlined and costs nothing), so the hooks the walk
  calls, the only functions that take ``econ`` and ``erow``, are inlined into it
  (``inline="always"``: overhead of the baseline kernel from +47% to +41-42%, of the
  comparator from +32% to +22-27%, shared cores); every helper below them takes and
  returns scalars;
* exp costs ~10-17 ns, so each discount factor is computed once and carried: a state's
  factor at its start is kept in the row (the life-year slots, written only at the
  end), the factor at its end is the start's times exp(-rho (b - a)), a polynomial when
  rho (b - a) is below 3e-3 (a treatment month, a toxicity episode), and costs at the
  same day share it when the two discount rates are equal: 3.7 exp calls per patient
  instead of 22.7 (NUMBA_DISABLE_JIT count, baseline scenario). Results differ from
  direct evaluation only by float64 rounding (relative 1e-13 at most).

Simplifications (they live here): apheresis is charged once per infusion cycle that
reaches infusion; a toxicity's disutility and ICU days stop at death; the salvage
course is charged once: under CAR-T when the last episode of active disease starts,
unless the patient died waiting for a product, at the blinatumomab price (the CAR-T
strategies draw no regimen); under standard care at day 0, at the price of the
patient's regimen, whatever follows (a transplant too); immunoglobulin replacement runs from each CR for
``ivig.months`` or to relapse or death, whatever the target.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from sim.engine import codes
from sim.model.economic_inputs import EP
from sim.model.outputs import CostCategory, E

DISEASE, TREATMENT, REMISSION, REMISSION_HSCT = 0, 1, 2, 3
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0
_INF = math.inf
# plain ints for compiled code
_CART, _TOX, _HSCT, _MAINT, _BCA, _SALV, _FU, _EOL = (int(c) for c in CostCategory)
_COST, _COST_DISC = int(E.COST), int(E.COST_DISC)
_LY, _LY_DISC, _QALY, _QALY_DISC = int(E.LY), int(E.LY_DISC), int(E.QALY), int(E.QALY_DISC)
_SERIES_BELOW = 1e-3  # r * L below which the moments use their series (no cancellation)
_RHO_C, _RHO_O = int(EP.DISCOUNT_COSTS_PER_YEAR), int(EP.DISCOUNT_OUTCOMES_PER_YEAR)
#: the life-year slots are written only at the end: until then they hold (time, outcome
#: discount factor at that time) of the current health state's start
_T_SEEN, _D_SEEN = _LY, _LY_DISC
#: |rho * dt| below which exp(-rho dt) and the discount integral use their polynomials
#: (truncation below x^6 / 720 ~ 1e-18 relative, under float64 rounding)
_POLY_BELOW = 3e-3


@nb.njit(cache=True)
def discount_integral(rho: float, a: float, b: float) -> float:
    """integral_a^b exp(-rho t) dt (0 when b <= a)."""
    if not b > a:
        return 0.0
    da = 1.0 if a == 0.0 else math.exp(-rho * a)
    return _integral(rho, da, _shift(da, rho * (b - a)), b - a)


@nb.njit(cache=True)
def _shift(d: float, x: float) -> float:
    """d * exp(-x), by its Taylor polynomial when |x| is small."""
    if abs(x) < _POLY_BELOW:
        return d * (1.0 - x * (1.0 - x * (0.5 - x * (1.0 / 6.0 - x * (1.0 / 24.0 - x / 120.0)))))
    return d * math.exp(-x)


@nb.njit(cache=True)
def _integral(rho: float, da: float, db: float, length: float) -> float:
    """integral over [a, a + length) of exp(-rho t) dt, given da = exp(-rho a) and
    db = exp(-rho (a + length)) (a polynomial when rho * length is small: no cancellation)."""
    if not length > 0.0:
        return 0.0
    x = rho * length
    if x < _POLY_BELOW:
        return da * length * (1.0 - x * (0.5 - x * (1.0 / 6.0 - x * (1.0 / 24.0 - x * (1.0 / 120.0 - x / 720.0)))))
    return (da - db) / rho


@nb.njit(cache=True)
def _factor(t_seen: float, d_seen: float, rho_o: float, rho: float, t: float) -> float:
    """exp(-rho t); the outcome rate's factor at the current state's start (t_seen) is d_seen."""
    if t == 0.0 or rho == 0.0:
        return 1.0
    if t == t_seen and rho == rho_o:
        return d_seen
    return math.exp(-rho * t)


@nb.njit(cache=True, inline="always")
def _seen(econ: np.ndarray, erow: np.ndarray, rho: float, t: float) -> float:
    """:func:`_factor` with the row's remembered factor."""
    return _factor(erow[_T_SEEN], erow[_D_SEEN], econ[_RHO_O], rho, t)


@nb.njit(cache=True, inline="always")
def _add(erow: np.ndarray, category: int, amount: float, d: float) -> None:
    """A one-off cost ``amount`` with discount factor ``d``."""
    erow[_COST + category] += amount
    erow[_COST_DISC + category] += amount * d


@nb.njit(cache=True)
def _moments(length: float, r: float, e: float):
    """(I0, I1, I2), I_k = integral_0^L x^k exp(-r x) dx, with e = exp(-r L)."""
    rl = r * length
    if rl < _SERIES_BELOW:  # four terms: relative error below (rL)^4 / 24
        i0 = i1 = i2 = 0.0
        term = 1.0
        for j in range(4):
            i0 += term * length ** (j + 1) / (j + 1)
            i1 += term * length ** (j + 2) / (j + 2)
            i2 += term * length ** (j + 3) / (j + 3)
            term *= -r / (j + 1)
        return i0, i1, i2
    i0 = (1.0 - e) / r
    i1 = (i0 - length * e) / r
    i2 = (2.0 * i1 - length * length * e) / r
    return i0, i1, i2


@nb.njit(cache=True)
def _stream(rho: float, per_day: float, a: float, b: float, da: float, horizon: float):
    """A cost at ``per_day`` over [a, b) days (``da``: the cost factor at a):
    (cost, discounted cost, factor at the clipped end)."""
    b = min(b, horizon)
    if not b > a:
        return 0.0, 0.0, da
    db = _shift(da, rho * (b - a))
    return per_day * (b - a), per_day * _integral(rho, da, db, b - a), db


@nb.njit(cache=True)
def _flow(rho: float, u: float, a: float, b: float, da: float, horizon: float):
    """A constant utility ``u`` (negative: a disutility) over [a, b) days, ``da`` the
    outcome factor at a: (QALYs, discounted QALYs, factor at the clipped end)."""
    b = min(b, horizon)
    if not b > a:
        return 0.0, 0.0, da
    db = _shift(da, rho * (b - a))
    if u == 0.0:
        return 0.0, 0.0, db
    return u * (b - a) / DAYS_PER_YEAR, u * _integral(rho, da, db, b - a) / DAYS_PER_YEAR, db


@nb.njit(cache=True)
def _norm(rho: float, n0: float, c1: float, c2: float, multiplier: float, a: float, b: float, da: float,
          age0_years: float, horizon: float):
    """``multiplier`` x the general-population utility n0 - c1 age - c2 age^2 of the
    patient's age then, over [a, b) days (exact integral of the quadratic in age); ``da``
    the outcome factor at a: (QALYs, discounted QALYs, factor at the clipped end)."""
    b = min(b, horizon)
    if not b > a:
        return 0.0, 0.0, da
    length = (b - a) / DAYS_PER_YEAR
    r = rho * DAYS_PER_YEAR
    small = r * length < _SERIES_BELOW
    e = 1.0 if small else math.exp(-r * length)
    db = _shift(da, r * length) if small else da * e
    if multiplier == 0.0:
        return 0.0, 0.0, db
    age = age0_years + a / DAYS_PER_YEAR
    d0 = n0 - c1 * age - c2 * age * age
    d1 = -(c1 + 2.0 * c2 * age)
    d2 = -c2
    i0, i1, i2 = _moments(length, r, e)
    return (multiplier * (d0 * length + d1 * length ** 2 / 2.0 + d2 * length ** 3 / 3.0),
            multiplier * da * (d0 * i0 + d1 * i1 + d2 * i2), db)


@nb.njit(cache=True, inline="always")
def _norms(econ: np.ndarray):
    """(intercept at the cohort's share of men, age, age^2 coefficients)."""
    return (econ[EP.NORMS_INTERCEPT] + econ[EP.NORMS_MALE] * econ[EP.NORMS_P_MALE], econ[EP.NORMS_AGE_PER_YEAR],
            econ[EP.NORMS_AGE2_PER_YEAR2])


def norm_flow(econ: np.ndarray, erow: np.ndarray, multiplier: float, a: float, b: float, age0_years: float,
              horizon: float) -> None:
    """:func:`_norm` added to a row, from day 0's factor (a reference for tests)."""
    rho = econ[_RHO_O]
    n0, c1, c2 = econ[EP.NORMS_INTERCEPT] + econ[EP.NORMS_MALE] * econ[EP.NORMS_P_MALE], econ[
        EP.NORMS_AGE_PER_YEAR], econ[EP.NORMS_AGE2_PER_YEAR2]
    q, qd, _ = _norm(rho, n0, c1, c2, multiplier, a, b, math.exp(-rho * a), age0_years, horizon)
    erow[_QALY] += q
    erow[_QALY_DISC] += qd


@nb.njit(cache=True)
def _close(state: int, a: float, b: float, da: float, age0_years: float, horizon: float, rho: float,
           u_disease: float, u_treatment: float, u_remission: float, m_hsct: float, m_long: float,
           long_days: float, n0: float, c1: float, c2: float):
    """The state held over [a, b) days, ``da`` its factor at a: (QALYs, discounted QALYs)
    of its first utility and of the long-term norms after a long remission (added to
    the row in that order), and the outcome factor at min(b, horizon)."""
    if state == DISEASE:
        q, qd, d = _flow(rho, u_disease, a, b, da, horizon)
        return q, qd, 0.0, 0.0, d
    if state == TREATMENT:
        q, qd, d = _flow(rho, u_treatment, a, b, da, horizon)
        return q, qd, 0.0, 0.0, d
    m = m_hsct if state == REMISSION_HSCT else 1.0
    switch = a + long_days
    q, qd, d = _flow(rho, m * u_remission, a, min(b, switch), da, horizon)
    q2 = qd2 = 0.0
    if b > switch:
        q2, qd2, d = _norm(rho, n0, c1, c2, m * m_long, switch, b, d, age0_years, horizon)
    return q, qd, q2, qd2, d


@nb.njit(cache=True, inline="always")
def _close_row(econ: np.ndarray, erow: np.ndarray, state: int, a: float, b: float, age0_years: float,
               horizon: float) -> float:
    """:func:`_close` of the row's current state (its start factor remembered), added
    to the row; returns the outcome factor at min(b, horizon)."""
    rho = econ[_RHO_O]
    n0, c1, c2 = _norms(econ)
    q, qd, q2, qd2, d = _close(state, a, b, _factor(erow[_T_SEEN], erow[_D_SEEN], rho, rho, a), age0_years,
                               horizon, rho, econ[EP.UTILITY_DISEASE], econ[EP.UTILITY_TREATMENT],
                               econ[EP.UTILITY_REMISSION], econ[EP.UTILITY_AFTER_HSCT_MULTIPLIER],
                               econ[EP.UTILITY_LONG_TERM_MULTIPLIER], econ[EP.LONG_TERM_YEARS] * DAYS_PER_YEAR, n0, c1,
                               c2)
    erow[_QALY] += q
    erow[_QALY_DISC] += qd
    if q2 != 0.0 or qd2 != 0.0:
        erow[_QALY] += q2
        erow[_QALY_DISC] += qd2
    return d


@nb.njit(cache=True, inline="always")
def _move(econ: np.ndarray, erow: np.ndarray, state: int, start: float, new_state: int, t: float,
          age0_years: float, horizon: float):
    d = _close_row(econ, erow, state, start, t, age0_years, horizon)
    erow[_T_SEEN] = t
    erow[_D_SEEN] = d if t <= horizon else math.exp(-econ[_RHO_O] * t)
    return new_state, t


@nb.njit(cache=True, inline="always")
def begin(erow: np.ndarray):
    """Clear the row; every patient starts with active disease at day 0: (state, start)."""
    erow[:] = 0.0
    erow[_D_SEEN] = 1.0  # the factor at day 0
    return DISEASE, 0.0


@nb.njit(cache=True, inline="always")
def transition(econ: np.ndarray, erow: np.ndarray, state: int, start: float, new_state: int, t: float,
               age0_years: float, horizon: float):
    """The patient moves to ``new_state`` at day ``t``: value the state left; (state, start)."""
    return _move(econ, erow, state, start, new_state, t, age0_years, horizon)


@nb.njit(cache=True, inline="always")
def infusion(econ: np.ndarray, erow: np.ndarray, state: int, start: float, t_cycle: float, t_inf: float,
             ld_days: float, source: int, age0_years: float, horizon: float):
    """An infusion at ``t_inf`` of a cycle that started at ``t_cycle``: apheresis,
    product (by cell source), lymphodepletion and the infusion admission; the patient
    is on treatment from then on. Returns (state, start)."""
    state, start = _move(econ, erow, state, start, TREATMENT, t_inf, age0_years, horizon)
    rho = econ[_RHO_C]
    d = _seen(econ, erow, rho, t_inf)
    if t_cycle <= horizon:
        _add(erow, _CART, econ[EP.COST_APHERESIS], 1.0 if t_cycle == 0.0 else _shift(d, -rho * (t_inf - t_cycle)))
    if t_inf <= horizon:
        _add(erow, _CART, econ[EP.COST_PRODUCT + source], d)
    if t_inf - ld_days <= horizon:
        _add(erow, _CART, econ[EP.COST_LYMPHODEPLETION], _shift(d, -rho * ld_days))
    if t_inf <= horizon:
        _add(erow, _CART, econ[EP.COST_INFUSION_ADMISSION], d)
    return state, start


@nb.njit(cache=True)
def _episode(rho: float, disutility: float, d_inf: float, onset: float, days: float, t_inf: float,
             alive_until: float, horizon: float):
    """A disutility from ``onset`` days after the infusion for ``days`` days (to death at
    most): (QALYs, discounted QALYs), both negative."""
    a = t_inf + onset
    if not a < alive_until:
        return 0.0, 0.0
    q, qd, _ = _flow(rho, -disutility, a, min(a + days, alive_until), _shift(d_inf, rho * onset), horizon)
    return q, qd


@nb.njit(cache=True, inline="always")
def toxicity(econ: np.ndarray, erow: np.ndarray, t_inf: float, crs_grade: int, crs_onset: float,
             crs_days: float, icans_grade: int, icans_onset: float, icans_days: float, gvhd_grade: int,
             gvhd_onset: float, icu_days: float, icu_admit: float, toci_day: float, steroid_day: float,
             alive_until: float, horizon: float) -> None:
    """Costs and disutilities of one infusion's CRS, ICANS, ICU stay, CRS drugs and
    severe acute GVHD (times in days after infusion; nothing after ``alive_until``)."""
    ro, rc = econ[_RHO_O], econ[_RHO_C]
    do = _seen(econ, erow, ro, t_inf)
    dc = _seen(econ, erow, rc, t_inf)
    if crs_grade > 0:
        q, qd = _episode(ro, econ[EP.DISUTILITY_CRS_G1 + crs_grade - 1], do, crs_onset, crs_days, t_inf,
                         alive_until, horizon)
        erow[_QALY] += q
        erow[_QALY_DISC] += qd
        if toci_day < _INF and t_inf + toci_day < alive_until and t_inf + toci_day <= horizon:
            _add(erow, _TOX, econ[EP.COST_TOCILIZUMAB], _shift(dc, rc * toci_day))
        if steroid_day < _INF and t_inf + steroid_day < alive_until and t_inf + steroid_day <= horizon:
            _add(erow, _TOX, econ[EP.COST_CORTICOSTEROIDS], _shift(dc, rc * steroid_day))
    if icans_grade > 0:
        q, qd = _episode(ro, econ[EP.DISUTILITY_ICANS_G1 + icans_grade - 1], do, icans_onset, icans_days, t_inf,
                         alive_until, horizon)
        erow[_QALY] += q
        erow[_QALY_DISC] += qd
    if icu_days > 0.0 and t_inf + icu_admit < alive_until and t_inf + icu_admit <= horizon:
        days = min(icu_days, alive_until - (t_inf + icu_admit))
        _add(erow, _TOX, days * econ[EP.COST_ICU_PER_DAY], _shift(dc, rc * icu_admit))
    if gvhd_grade >= 3 and t_inf + gvhd_onset < alive_until:
        if t_inf + gvhd_onset <= horizon:
            _add(erow, _TOX, econ[EP.COST_GVHD_SEVERE], _shift(dc, rc * gvhd_onset))
        q, qd = _episode(ro, econ[EP.DISUTILITY_GVHD_SEVERE], do, gvhd_onset, econ[EP.GVHD_DISUTILITY_DAYS], t_inf,
                         alive_until, horizon)
        erow[_QALY] += q
        erow[_QALY_DISC] += qd


@nb.njit(cache=True, inline="always")
def remission(econ: np.ndarray, erow: np.ndarray, state: int, start: float, consolidation: int,
              hsct_done: bool, t_hsct: float, t_resp: float, t_end_cr: float, age0_years: float, horizon: float):
    """A CR assessed at ``t_resp`` that lasts until ``t_end_cr`` (relapse or death):
    transplant, maintenance cycles and immunoglobulin replacement. Returns (state, start)."""
    rc = econ[_RHO_C]
    d = _seen(econ, erow, rc, t_resp)
    cycle_days = econ[EP.MAINTENANCE_CYCLE_DAYS]
    per_cycle = econ[EP.COST_MAINTENANCE_PER_CYCLE + consolidation]
    if per_cycle != 0.0:
        c, cd, _ = _stream(rc, per_cycle / cycle_days, t_resp,
                           min(t_end_cr, t_resp + econ[EP.MAINTENANCE_MAX_CYCLES] * cycle_days), d, horizon)
        erow[_COST + _MAINT] += c
        erow[_COST_DISC + _MAINT] += cd
    per_day = econ[EP.COST_IVIG_PER_MONTH] / DAYS_PER_MONTH
    if per_day != 0.0:
        c, cd, _ = _stream(rc, per_day, t_resp, min(t_end_cr, t_resp + econ[EP.IVIG_MONTHS] * DAYS_PER_MONTH), d,
                           horizon)
        erow[_COST + _BCA] += c
        erow[_COST_DISC + _BCA] += cd
    if hsct_done:
        state, start = _move(econ, erow, state, start, REMISSION_HSCT, t_hsct, age0_years, horizon)
        if t_hsct <= horizon:
            _add(erow, _HSCT, econ[EP.COST_HSCT], _seen(econ, erow, rc, t_hsct))
    return state, start


@nb.njit(cache=True, inline="always")
def salvage(econ: np.ndarray, erow: np.ndarray, regimen: int, t: float, horizon: float) -> None:
    """A salvage course of ``regimen`` (``SalvageRegimen``) starting at day ``t``."""
    if t <= horizon:
        _add(erow, _SALV, econ[EP.COST_SALVAGE_COURSE + regimen], _seen(econ, erow, econ[_RHO_C], t))


@nb.njit(cache=True, inline="always")
def end(econ: np.ndarray, erow: np.ndarray, state: int, start: float, t_dead: float, cause: int,
        t_first_inf: float, salvage_regimen: int, age0_years: float, horizon: float) -> None:
    """Death at ``t_dead`` (or follow-up to the horizon): the last state, life-years,
    salvage (``salvage_regimen``'s course, none if negative: already charged), follow-up
    and end-of-life costs."""
    t_end = min(t_dead, horizon)
    ro, rc = econ[_RHO_O], econ[_RHO_C]
    d_end = _close_row(econ, erow, state, start, t_end, age0_years, horizon)
    if start > t_end:  # the last state began after the horizon: its factor is not the end's
        d_end = math.exp(-ro * t_end)
    dc_end = d_end if rc == ro else (1.0 if t_end == 0.0 else math.exp(-rc * t_end))
    if salvage_regimen >= 0 and state == DISEASE and start < t_end and cause != codes.BEFORE_INFUSION:
        _add(erow, _SALV, econ[EP.COST_SALVAGE_COURSE + salvage_regimen], _seen(econ, erow, rc, start))
    if not math.isnan(t_first_inf):
        stop = min(t_end, t_first_inf + econ[EP.FOLLOW_UP_MONTHS] * DAYS_PER_MONTH)
        per_day = econ[EP.COST_FOLLOW_UP_PER_MONTH] / DAYS_PER_MONTH
        if t_first_inf < stop and per_day != 0.0:
            # the stream's end factor: the end of follow-up's when they coincide (no exp)
            da = 1.0 if t_first_inf == 0.0 else math.exp(-rc * t_first_inf)
            db = dc_end if stop == t_end else _shift(da, rc * (stop - t_first_inf))
            erow[_COST + _FU] += per_day * (stop - t_first_inf)
            erow[_COST_DISC + _FU] += per_day * _integral(rc, da, db, stop - t_first_inf)
    if t_dead <= horizon:
        _add(erow, _EOL, econ[EP.COST_END_OF_LIFE], dc_end)
    erow[_LY] = t_end / DAYS_PER_YEAR
    erow[_LY_DISC] = _integral(ro, 1.0, d_end, t_end) / DAYS_PER_YEAR
