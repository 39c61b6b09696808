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

Simplifications (they live here): apheresis is charged once per infusion cycle that
reaches infusion; a toxicity's disutility and ICU days stop at death; the salvage
course is charged once, when the last episode of active disease starts, unless the
patient died waiting for a product; immunoglobulin replacement runs from each CR for
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


@nb.njit(cache=True)
def discount_integral(rho: float, a: float, b: float) -> float:
    """integral_a^b exp(-rho t) dt (0 when b <= a)."""
    if not b > a:
        return 0.0
    if rho == 0.0:
        return b - a
    return math.exp(-rho * a) * -math.expm1(-rho * (b - a)) / rho


@nb.njit(cache=True)
def _moments(length: float, r: float):
    """(I0, I1, I2), I_k = integral_0^L x^k exp(-r x) dx."""
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
    e = math.exp(-rl)
    i0 = -math.expm1(-rl) / r
    i1 = (i0 - length * e) / r
    i2 = (2.0 * i1 - length * length * e) / r
    return i0, i1, i2


@nb.njit(cache=True)
def cost_at(econ: np.ndarray, erow: np.ndarray, category: int, amount: float, t: float, horizon: float) -> None:
    """A one-off cost at day ``t`` (ignored after the horizon)."""
    if amount != 0.0 and t <= horizon:
        erow[_COST + category] += amount
        erow[_COST_DISC + category] += amount * math.exp(-econ[EP.DISCOUNT_COSTS_PER_YEAR] * t)


@nb.njit(cache=True)
def cost_stream(econ: np.ndarray, erow: np.ndarray, category: int, per_day: float, a: float, b: float,
                horizon: float) -> None:
    """A cost running at ``per_day`` over [a, b) days."""
    b = min(b, horizon)
    if per_day != 0.0 and b > a:
        erow[_COST + category] += per_day * (b - a)
        erow[_COST_DISC + category] += per_day * discount_integral(econ[EP.DISCOUNT_COSTS_PER_YEAR], a, b)


@nb.njit(cache=True)
def utility_flow(econ: np.ndarray, erow: np.ndarray, u: float, a: float, b: float, horizon: float) -> None:
    """QALYs of a constant utility ``u`` (negative: a disutility) over [a, b) days."""
    b = min(b, horizon)
    if u != 0.0 and b > a:
        erow[_QALY] += u * (b - a) / DAYS_PER_YEAR
        erow[_QALY_DISC] += u * discount_integral(econ[EP.DISCOUNT_OUTCOMES_PER_YEAR], a, b) / DAYS_PER_YEAR


@nb.njit(cache=True)
def norm_flow(econ: np.ndarray, erow: np.ndarray, multiplier: float, a: float, b: float, age0_years: float,
              horizon: float) -> None:
    """QALYs over [a, b) days at ``multiplier`` x the general-population utility of the
    patient's age then (exact integral of the quadratic in age)."""
    b = min(b, horizon)
    if multiplier == 0.0 or not b > a:
        return
    c1 = econ[EP.NORMS_AGE_PER_YEAR]
    c2 = econ[EP.NORMS_AGE2_PER_YEAR2]
    age = age0_years + a / DAYS_PER_YEAR
    d0 = econ[EP.NORMS_INTERCEPT] + econ[EP.NORMS_MALE] * econ[EP.NORMS_P_MALE] - c1 * age - c2 * age * age
    d1 = -(c1 + 2.0 * c2 * age)
    d2 = -c2
    length = (b - a) / DAYS_PER_YEAR
    erow[_QALY] += multiplier * (d0 * length + d1 * length ** 2 / 2.0 + d2 * length ** 3 / 3.0)
    r = econ[EP.DISCOUNT_OUTCOMES_PER_YEAR] * DAYS_PER_YEAR
    i0, i1, i2 = _moments(length, r)
    erow[_QALY_DISC] += multiplier * math.exp(-r * a / DAYS_PER_YEAR) * (d0 * i0 + d1 * i1 + d2 * i2)


@nb.njit(cache=True)
def _close(econ: np.ndarray, erow: np.ndarray, state: int, a: float, b: float, age0_years: float,
           horizon: float) -> None:
    """Value the state held over [a, b) days."""
    if state == DISEASE:
        utility_flow(econ, erow, econ[EP.UTILITY_DISEASE], a, b, horizon)
    elif state == TREATMENT:
        utility_flow(econ, erow, econ[EP.UTILITY_TREATMENT], a, b, horizon)
    else:
        m = econ[EP.UTILITY_AFTER_HSCT_MULTIPLIER] if state == REMISSION_HSCT else 1.0
        switch = a + econ[EP.LONG_TERM_YEARS] * DAYS_PER_YEAR
        utility_flow(econ, erow, m * econ[EP.UTILITY_REMISSION], a, min(b, switch), horizon)
        if b > switch:
            norm_flow(econ, erow, m * econ[EP.UTILITY_LONG_TERM_MULTIPLIER], switch, b, age0_years, horizon)


@nb.njit(cache=True)
def begin(erow: np.ndarray):
    """Clear the row; every patient starts with active disease at day 0: (state, start)."""
    erow[:] = 0.0
    return DISEASE, 0.0


@nb.njit(cache=True)
def transition(econ: np.ndarray, erow: np.ndarray, state: int, start: float, new_state: int, t: float,
               age0_years: float, horizon: float):
    """The patient moves to ``new_state`` at day ``t``: value the state left; (state, start)."""
    _close(econ, erow, state, start, t, age0_years, horizon)
    return new_state, t


@nb.njit(cache=True)
def infusion(econ: np.ndarray, erow: np.ndarray, state: int, start: float, t_cycle: float, t_inf: float,
             ld_days: float, source: int, age0_years: float, horizon: float):
    """An infusion at ``t_inf`` of a cycle that started at ``t_cycle``: apheresis,
    product (by cell source), lymphodepletion and the infusion admission; the patient
    is on treatment from then on. Returns (state, start)."""
    cost_at(econ, erow, _CART, econ[EP.COST_APHERESIS], t_cycle, horizon)
    cost_at(econ, erow, _CART, econ[EP.COST_PRODUCT + source], t_inf, horizon)
    cost_at(econ, erow, _CART, econ[EP.COST_LYMPHODEPLETION], t_inf - ld_days, horizon)
    cost_at(econ, erow, _CART, econ[EP.COST_INFUSION_ADMISSION], t_inf, horizon)
    return transition(econ, erow, state, start, TREATMENT, t_inf, age0_years, horizon)


@nb.njit(cache=True)
def _episode(econ: np.ndarray, erow: np.ndarray, disutility: float, a: float, b: float, alive_until: float,
             horizon: float) -> None:
    if a < alive_until:
        utility_flow(econ, erow, -disutility, a, min(b, alive_until), horizon)


@nb.njit(cache=True)
def toxicity(econ: np.ndarray, erow: np.ndarray, t_inf: float, crs_grade: int, crs_onset: float,
             crs_days: float, icans_grade: int, icans_onset: float, icans_days: float, gvhd_grade: int,
             gvhd_onset: float, icu_days: float, icu_admit: float, toci_day: float, steroid_day: float,
             alive_until: float, horizon: float) -> None:
    """Costs and disutilities of one infusion's CRS, ICANS, ICU stay, CRS drugs and
    severe acute GVHD (times in days after infusion; nothing after ``alive_until``)."""
    if crs_grade > 0:
        a = t_inf + crs_onset
        _episode(econ, erow, econ[EP.DISUTILITY_CRS_G1 + crs_grade - 1], a, a + crs_days, alive_until, horizon)
        if toci_day < _INF and t_inf + toci_day < alive_until:
            cost_at(econ, erow, _TOX, econ[EP.COST_TOCILIZUMAB], t_inf + toci_day, horizon)
        if steroid_day < _INF and t_inf + steroid_day < alive_until:
            cost_at(econ, erow, _TOX, econ[EP.COST_CORTICOSTEROIDS], t_inf + steroid_day, horizon)
    if icans_grade > 0:
        a = t_inf + icans_onset
        _episode(econ, erow, econ[EP.DISUTILITY_ICANS_G1 + icans_grade - 1], a, a + icans_days, alive_until,
                 horizon)
    if icu_days > 0.0 and t_inf + icu_admit < alive_until:
        days = min(icu_days, alive_until - (t_inf + icu_admit))
        cost_at(econ, erow, _TOX, days * econ[EP.COST_ICU_PER_DAY], t_inf + icu_admit, horizon)
    if gvhd_grade >= 3 and t_inf + gvhd_onset < alive_until:
        a = t_inf + gvhd_onset
        cost_at(econ, erow, _TOX, econ[EP.COST_GVHD_SEVERE], a, horizon)
        _episode(econ, erow, econ[EP.DISUTILITY_GVHD_SEVERE], a, a + econ[EP.GVHD_DISUTILITY_DAYS], alive_until,
                 horizon)


@nb.njit(cache=True)
def remission(econ: np.ndarray, erow: np.ndarray, state: int, start: float, consolidation: int,
              hsct_done: bool, t_hsct: float, t_resp: float, t_end_cr: float, age0_years: float, horizon: float):
    """A CR assessed at ``t_resp`` that lasts until ``t_end_cr`` (relapse or death):
    transplant, maintenance cycles and immunoglobulin replacement. Returns (state, start)."""
    cycle_days = econ[EP.MAINTENANCE_CYCLE_DAYS]
    per_cycle = econ[EP.COST_MAINTENANCE_PER_CYCLE + consolidation]
    stop = min(t_end_cr, t_resp + econ[EP.MAINTENANCE_MAX_CYCLES] * cycle_days)
    cost_stream(econ, erow, _MAINT, per_cycle / cycle_days, t_resp, stop, horizon)
    stop = min(t_end_cr, t_resp + econ[EP.IVIG_MONTHS] * DAYS_PER_MONTH)
    cost_stream(econ, erow, _BCA, econ[EP.COST_IVIG_PER_MONTH] / DAYS_PER_MONTH, t_resp, stop, horizon)
    if hsct_done:
        cost_at(econ, erow, _HSCT, econ[EP.COST_HSCT], t_hsct, horizon)
        return transition(econ, erow, state, start, REMISSION_HSCT, t_hsct, age0_years, horizon)
    return state, start


@nb.njit(cache=True)
def end(econ: np.ndarray, erow: np.ndarray, state: int, start: float, t_dead: float, cause: int,
        t_first_inf: float, age0_years: float, horizon: float) -> None:
    """Death at ``t_dead`` (or follow-up to the horizon): the last state, life-years,
    salvage, follow-up and end-of-life costs."""
    t_end = min(t_dead, horizon)
    _close(econ, erow, state, start, t_end, age0_years, horizon)
    erow[_LY] = t_end / DAYS_PER_YEAR
    erow[_LY_DISC] = discount_integral(econ[EP.DISCOUNT_OUTCOMES_PER_YEAR], 0.0, t_end) / DAYS_PER_YEAR
    if state == DISEASE and start < t_end and cause != codes.BEFORE_INFUSION:
        cost_at(econ, erow, _SALV, econ[EP.COST_SALVAGE_COURSE], start, horizon)
    if not math.isnan(t_first_inf):
        stop = min(t_end, t_first_inf + econ[EP.FOLLOW_UP_MONTHS] * DAYS_PER_MONTH)
        cost_stream(econ, erow, _FU, econ[EP.COST_FOLLOW_UP_PER_MONTH] / DAYS_PER_MONTH, t_first_inf, stop, horizon)
    cost_at(econ, erow, _EOL, econ[EP.COST_END_OF_LIFE], t_dead, horizon)
