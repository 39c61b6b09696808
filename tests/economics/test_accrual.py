"""Costs, life-years and QALYs accumulated in the walk: closed forms, exact counts of
every infusion and transplant, engine parity, records untouched."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import api
from sim.engine.des import run_des
from sim.engine.economy import discount_integral, norm_flow
from sim.engine.kernel import run_kernel, run_kernel_economics
from sim.io.files import load_economics
from sim.model.economic_inputs import EP
from sim.model.outputs import N_ECON_COLUMNS, E, F, I
from sim.model.outputs import CostCategory as C
from sim.model.scenario import Capacity

BASE = api.as_scenario(None)
UK = load_economics("uk_nhs")
LIFETIME = 100 * 365.25
YEAR = 365.25
#: a stressed pathway: re-infusions, transplants in several remissions, every cause of death
STRESS = {"policy.consolidation_shares": [0.2, 0.5, 0.2, 0.1], "policy.p_reinfuse_after_relapse": 0.8,
          "policy.p_reinfuse_after_nonresponse": 0.8, "policy.max_infusions": 4, "crs.p_death.g4": 0.3,
          "gvhd.p_any.donor": 0.3, "waiting.death_rate_per_day": 0.004}


def theta(overrides: dict | None = None) -> np.ndarray:
    return api.with_overrides(BASE, overrides or {}).params.theta()


def econ(**values: float) -> np.ndarray:
    vec = UK.vector()
    for name, v in values.items():
        vec[getattr(EP, name.upper())] = v
    return vec


def test_discounted_qalys_of_exponential_survival_match_the_closed_form():
    """Every patient dies while waiting, at Exp(lam): discounted QALYs with constant
    utility u to horizon T are u (1 - exp(-(r + lam) T)) / (r + lam)."""
    lam = math.log(2) / (2 * YEAR)  # median survival 2 years, per day
    horizon = 20 * YEAR
    th = theta({"waiting.death_rate_per_day": lam, "waiting.progression_rate_per_day": 0.0,
                "manufacturing.median_days.recipient": 36_000.0, "manufacturing.median_days.donor": 36_000.0,
                "manufacturing.median_days.universal": 36_000.0, "manufacturing.sdlog": 0.0,
                "background.smr": 1e-6})
    u = 0.7
    vec = econ(utility_disease=u)
    n = 200_000
    f, _, e = run_kernel_economics(th, vec, 11, n, horizon)
    rho = vec[EP.DISCOUNT_OUTCOMES_PER_YEAR]  # per day
    expected = u * -math.expm1(-(rho + lam) * horizon) / (rho + lam) / YEAR
    q = e[:, E.QALY_DISC]
    # Monte Carlo: 4 standard errors of the mean
    assert abs(q.mean() - expected) < 4 * q.std() / math.sqrt(n)
    # undiscounted life-years are the follow-up time itself, patient by patient
    np.testing.assert_allclose(e[:, E.LY] * YEAR, f[:, F.T_LAST_DAYS], rtol=2e-7)
    expected_ly = -math.expm1(-lam * horizon) / lam / YEAR
    assert abs(e[:, E.LY].mean() - expected_ly) < 4 * e[:, E.LY].std() / math.sqrt(n)
    # constant utility: QALYs = u x life-years exactly
    np.testing.assert_allclose(e[:, E.QALY], u * e[:, E.LY], rtol=1e-12)


def test_every_infusion_and_transplant_is_costed():
    """Undiscounted CAR-T cost = infusions x the per-infusion costs; transplant cost is a
    whole number of transplants, some patients having a second one."""
    th = theta({**STRESS, "policy.source_shares": [1.0, 0.0, 0.0], "policy.consolidation_shares": [0, 1, 0, 0],
                "hsct.p_eligible.after_one": 1.0, "hsct.p_eligible.after_two": 1.0,
                "policy.p_reinfuse_after_relapse": 1.0})
    vec = UK.vector()
    f, i, e = run_kernel_economics(th, vec, 5, 20_000, LIFETIME)
    per_infusion = (vec[EP.COST_APHERESIS] + vec[EP.COST_PRODUCT_RECIPIENT] + vec[EP.COST_LYMPHODEPLETION]
                    + vec[EP.COST_INFUSION_ADMISSION])
    np.testing.assert_allclose(e[:, E.COST + C.CART], i[:, I.N_INFUSIONS] * per_infusion, rtol=1e-12)
    assert i[:, I.N_INFUSIONS].max() >= 3
    transplants = e[:, E.COST + C.TRANSPLANT] / vec[EP.COST_HSCT]
    np.testing.assert_allclose(transplants, np.round(transplants), atol=1e-9)
    assert (transplants >= 2).any()
    assert (transplants >= 1).sum() >= np.isfinite(f[:, F.T_HSCT_DAYS]).sum()
    # discounting never raises a cost, and a zero rate leaves it as it is
    assert (e[:, E.COST_DISC:E.COST_DISC + len(C)] <= e[:, E.COST:E.COST + len(C)] + 1e-9).all()
    _, _, e0 = run_kernel_economics(th, econ(discount_costs_per_year=0.0, discount_outcomes_per_year=0.0), 5,
                                    2000, LIFETIME)
    np.testing.assert_allclose(e0[:, E.COST_DISC:E.COST_DISC + len(C)], e0[:, E.COST:E.COST + len(C)], rtol=1e-12)
    np.testing.assert_allclose(e0[:, E.QALY_DISC], e0[:, E.QALY], rtol=1e-12)


def test_records_are_unchanged_and_both_engines_give_the_same_economics():
    th = theta(STRESS)
    vec = UK.vector()
    f, i, e = run_kernel_economics(th, vec, 3, 3000, LIFETIME)
    kf, ki = run_kernel(th, 3, 3000, LIFETIME)
    assert np.array_equal(f, kf, equal_nan=True) and np.array_equal(i, ki)
    des = run_des(th, 3, 3000, LIFETIME, Capacity(accrual_per_month=7.0), econ=vec)
    assert des.eout is not None and des.eout.shape == (3000, N_ECON_COLUMNS)
    assert np.array_equal(des.eout, e)
    # a finite manufacturing capacity delays infusions: discounted CAR-T costs fall
    slow = run_des(th, 3, 3000, LIFETIME, Capacity(manufacturing_slots=1, accrual_per_month=7.0), econ=vec)
    assert slow.eout is not None
    infused = (i[:, I.N_INFUSIONS] > 0) & (slow.iout[:, I.N_INFUSIONS] > 0)
    assert slow.eout[infused, E.COST_DISC + C.CART].sum() < e[infused, E.COST_DISC + C.CART].sum()


def test_results_do_not_depend_on_threads_or_chunks():
    th, vec = theta(STRESS), UK.vector()
    _, _, one = run_kernel_economics(th, vec, 9, 1500, LIFETIME, threads=1)
    _, _, two = run_kernel_economics(th, vec, 9, 1500, LIFETIME, threads=2)
    _, _, tail = run_kernel_economics(th, vec, 9, 500, LIFETIME, first_patient_id=1000)
    assert np.array_equal(one, two) and np.array_equal(one[1000:], tail)


@pytest.mark.parametrize("rate", [0.0, 1e-9, 0.035, 0.15])
def test_age_adjusted_utility_integral_matches_quadrature(rate):
    vec = econ(discount_outcomes_per_year=math.log1p(rate) / YEAR)
    age0, a, b = 30.0, 400.0, 400.0 + 40 * YEAR
    row = np.zeros(N_ECON_COLUMNS)
    norm_flow(vec, row, 0.9, a, b, age0, math.inf)
    t = np.linspace(a, b, 400_001)
    age = age0 + t / YEAR
    u = 0.9 * (vec[EP.NORMS_INTERCEPT] + vec[EP.NORMS_MALE] * vec[EP.NORMS_P_MALE]
               - vec[EP.NORMS_AGE_PER_YEAR] * age - vec[EP.NORMS_AGE2_PER_YEAR2] * age**2)
    w = np.exp(-vec[EP.DISCOUNT_OUTCOMES_PER_YEAR] * t)
    assert row[E.QALY] == pytest.approx(np.trapezoid(u, t) / YEAR, rel=1e-9)
    assert row[E.QALY_DISC] == pytest.approx(np.trapezoid(u * w, t) / YEAR, rel=1e-9)
    assert discount_integral(0.0, 2.0, 5.0) == 3.0


SC = api.as_scenario("standard_care")


@pytest.mark.parametrize("regimen", ["blinatumomab", "inotuzumab", "chemotherapy"])
def test_standard_care_salvage_costs_its_regimens_course_at_day_0(regimen):
    """Every standard-care patient pays one course of their regimen, at day 0 (undiscounted
    = discounted), whatever follows; nobody pays CAR-T costs."""
    shares = [1.0 if r == regimen else 0.0 for r in ("blinatumomab", "inotuzumab", "chemotherapy")]
    th = api.with_overrides(SC, {"policy.salvage_shares": shares}).params.theta()
    prices = {"blinatumomab": 101.0, "inotuzumab": 203.0, "chemotherapy": 307.0}
    vec = econ(**{f"cost_salvage_course_{r}": p for r, p in prices.items()})
    _, _, e = run_kernel_economics(th, vec, 3, 5000, LIFETIME)
    np.testing.assert_array_equal(e[:, E.COST + C.SALVAGE], prices[regimen])
    np.testing.assert_array_equal(e[:, E.COST_DISC + C.SALVAGE], prices[regimen])
    assert (e[:, E.COST + C.CART] == 0.0).all()


def test_a_transplanted_standard_care_patient_pays_the_course_and_the_transplant():
    th = SC.params.theta()
    vec = UK.vector()
    f, _, e = run_kernel_economics(th, vec, 4, 20_000, LIFETIME)
    hsct = np.isfinite(f[:, F.T_HSCT_DAYS])
    assert hsct.sum() > 20  # the share transplanted (about 10%) leaves hundreds here
    courses = vec[[EP.COST_SALVAGE_COURSE_BLINATUMOMAB, EP.COST_SALVAGE_COURSE_INOTUZUMAB,
                   EP.COST_SALVAGE_COURSE_CHEMOTHERAPY]]
    # every patient, transplanted or not, pays exactly one of the regimens' courses
    paid = e[:, E.COST + C.SALVAGE]
    assert np.isin(paid, courses).all()
    assert len(np.unique(paid[hsct])) >= 2
    np.testing.assert_array_equal(e[hsct, E.COST + C.TRANSPLANT], vec[EP.COST_HSCT])
    rho = vec[EP.DISCOUNT_COSTS_PER_YEAR]  # per day
    np.testing.assert_allclose(e[hsct, E.COST_DISC + C.TRANSPLANT],
                               vec[EP.COST_HSCT] * np.exp(-rho * f[hsct, F.T_HSCT_DAYS].astype(np.float64)),
                               rtol=1e-6)
    assert (e[~hsct, E.COST + C.TRANSPLANT] == 0.0).all()
