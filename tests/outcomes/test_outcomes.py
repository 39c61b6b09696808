"""Endpoint definitions of sim.outcomes.summary on hand-built patient tables."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sim import api
from sim.model.outputs import COLUMNS
from sim.model.states import DeathCause, Response
from sim.outcomes.summary import DAYS_PER_MONTH, competing_risks, endpoint_data, summarise

NAN = math.nan


def patients(rows: list[dict]) -> pd.DataFrame:
    """A patient table with every public column; unspecified fields are 0 / NaN."""
    base = {c.name: (NAN if c.unit.startswith("days") or c.unit == "years" else 0) for c in COLUMNS}
    df = pd.DataFrame([{**base, **r} for r in rows])
    return df.astype({c.name: ("float32" if c.unit.startswith("days") or c.unit == "years" else "int8")
                      for c in COLUMNS})


ROWS = [
    # 0: never infused (manufacturing failure), dies of disease at day 100
    {"t_efs_days": 40.0, "t_death_days": 100.0, "t_last_days": 100.0, "death_cause": DeathCause.DISEASE},
    # 1: infused day 20, no response at day 48, dies day 200
    {"t_inf_days": 20.0, "n_infusions": 1, "response": Response.NO_RESPONSE, "t_efs_days": 48.0,
     "t_death_days": 200.0, "t_last_days": 200.0, "death_cause": DeathCause.DISEASE},
    # 2: infused day 10, MRD- CR, relapse day 300, alive at horizon 1000
    {"t_inf_days": 10.0, "n_infusions": 1, "response": Response.CR_MRD_NEG, "t_relapse_days": 300.0,
     "t_efs_days": 300.0, "t_last_days": 1000.0},
    # 3: infused day 15, MRD+ CR, non-relapse death day 150 (infection)
    {"t_inf_days": 15.0, "n_infusions": 1, "response": Response.CR_MRD_POS, "t_efs_days": 150.0,
     "t_death_days": 150.0, "t_last_days": 150.0, "death_cause": DeathCause.OTHER_NRM},
    # 4: infused day 12, MRD- CR, alive in CR at horizon, grade 3 CRS, grade 2 aGVHD
    {"t_inf_days": 12.0, "n_infusions": 1, "response": Response.CR_MRD_NEG, "t_last_days": 1000.0,
     "crs_grade": 3, "gvhd_grade": 2, "icans_grade": 1},
]


def test_os_from_infusion_and_from_decision():
    df = patients(ROWS)
    t, e = endpoint_data(df, "os", "infusion")
    assert np.allclose(t, [180.0, 990.0, 135.0, 988.0])
    assert list(e) == [True, False, True, False]
    t, e = endpoint_data(df, "os", "decision")
    assert np.allclose(t, [100.0, 200.0, 1000.0, 150.0, 1000.0])
    assert list(e) == [True, True, False, True, False]


def test_efs_counts_non_response_at_the_assessment_and_non_infusion_as_events():
    df = patients(ROWS)
    t, e = endpoint_data(df, "efs", "infusion")
    assert np.allclose(t, [28.0, 290.0, 135.0, 988.0])
    assert list(e) == [True, True, True, False]
    t, e = endpoint_data(df, "efs", "decision")
    assert np.allclose(t, [40.0, 48.0, 300.0, 150.0, 1000.0])
    assert list(e) == [True, True, True, True, False]


def test_lfs_is_among_first_infusion_responders_from_infusion_only():
    df = patients(ROWS)
    t, e = endpoint_data(df, "lfs", "infusion")
    assert np.allclose(t, [290.0, 135.0, 988.0])
    assert list(e) == [True, True, False]
    with pytest.raises(ValueError, match="infusion"):
        endpoint_data(df, "lfs", "decision")


def test_competing_risks_separate_relapse_from_non_relapse_death():
    df = patients(ROWS)
    cr = competing_risks(df)
    assert cr["n"] == 3
    # by 24 months: one relapse (day 290) and one NRM death (day 135) among 3 responders, no censoring before
    assert cr["cir_m24"] == pytest.approx(1 / 3)
    assert cr["nrm_m24"] == pytest.approx(1 / 3)
    assert cr["nrm_m6"] == pytest.approx(1 / 3)
    assert cr["cir_m6"] == pytest.approx(0.0)
    assert 12 * DAYS_PER_MONTH > 290


def test_no_number_past_the_maximum_follow_up():
    # the same patients followed to day 400 instead of 1000
    df = patients([{**r, "t_last_days": 400.0} if r["t_last_days"] == 1000.0 else r for r in ROWS])
    s = summarise(df)
    os_ = s["os"]  # from infusion: deaths at 135 and 180, censored at 388 and 390
    assert os_["max_followup_days"] == 390.0
    assert os_["m6"] == pytest.approx(0.5) and os_["m12"] == pytest.approx(0.5)  # 365.25 <= 390: inside
    assert os_["m24"] is None and os_["m24_ci"] == [None, None] and os_["rmst_m24_days"] is None
    assert os_["not_estimable"] == {"m24": "beyond the maximum follow-up of 390.0 d",
                                    "rmst_m24_days": "beyond the maximum follow-up of 390.0 d"}
    assert os_["median_days"] == 180.0  # reached inside the data
    assert s["efs"]["not_estimable"]["m24"] == "beyond the maximum follow-up of 388.0 d"
    assert s["lfs"]["m24"] is None and s["lfs"]["m12"] is not None
    cr = s["competing_risks"]
    assert cr["max_followup_days"] == 388.0
    assert cr["cir_m12"] == pytest.approx(1 / 3) and cr["nrm_m12"] == pytest.approx(1 / 3)
    assert cr["cir_m24"] is None and cr["nrm_m24"] is None
    assert s["cir_m24"] is None and s["nrm_m24"] is None
    assert s["not_estimable"] == {"cir_m24": "beyond the maximum follow-up of 388.0 d",
                                  "nrm_m24": "beyond the maximum follow-up of 388.0 d"}
    itt = s["itt"]["os"]  # from the decision: deaths at 100, 150, 200; censored at 400
    assert itt["m12"] == pytest.approx(0.4) and itt["m24"] is None
    assert itt["not_estimable"]["m24"] == "beyond the maximum follow-up of 400.0 d"
    # JSON-ready: None, never NaN (this hand-built table has NaN ICU days, so only the survival blocks)
    json.dumps({k: s[k] for k in ("os", "efs", "lfs", "itt", "competing_risks", "not_estimable")}, allow_nan=False)
    # followed to day 1000, every value is there and none has a reason
    full = summarise(patients(ROWS))
    assert full["os"]["m24"] == pytest.approx(0.5) and full["os"]["not_estimable"] == {}
    assert full["not_estimable"] == {} and full["cir_m24"] == pytest.approx(1 / 3)
    assert full["os"]["m12"] == os_["m12"] and full["os"]["m6_ci"] == os_["m6_ci"]


def test_a_curve_that_reached_zero_is_known_past_the_data_and_a_median_can_stay_unreached():
    dead = [{"t_inf_days": 10.0, "n_infusions": 1, "response": Response.NO_RESPONSE, "t_efs_days": 38.0,
             "t_death_days": d, "t_last_days": d, "death_cause": DeathCause.DISEASE} for d in (60.0, 110.0)]
    s = summarise(patients(dead))
    assert s["os"]["max_followup_days"] == 100.0
    assert s["os"]["m24"] == 0.0 and s["os"]["m24_ci"] == [0.0, 0.0]  # everybody dead by day 100
    assert s["os"]["rmst_m24_days"] == pytest.approx(50.0 + 0.5 * 50.0)
    assert s["os"]["not_estimable"] == {}
    # alive and censored early: above 1/2 to the end of the data
    alive = [{**r, "t_death_days": NAN, "death_cause": 0, "t_last_days": 200.0} for r in dead]
    alive[0]["t_death_days"], alive[0]["t_last_days"] = 60.0, 60.0
    alive.append({**alive[1], "t_last_days": 150.0})
    km = summarise(patients(alive))["os"]  # deaths: 1 of 3 at day 50; censored at 140, 190
    assert km["median_days"] is None and km["median_days_ci"][1] is None
    assert km["not_estimable"]["median_days"] == "not reached: above 1/2 to the maximum follow-up of 190.0 d"


def test_rates_are_over_infused_patients():
    s = summarise(patients(ROWS))
    assert s["infused"] == 4
    assert s["cr_rate"] == pytest.approx(3 / 4)
    assert s["mrd_neg_cr_rate"] == pytest.approx(2 / 4)
    assert s["crs_grade3plus"] == pytest.approx(1 / 4)
    assert s["icans_any"] == pytest.approx(1 / 4)
    assert s["icans_grade3plus"] == 0.0
    assert s["agvhd_grade2plus"] == pytest.approx(1 / 4)
    assert s["death_causes"]["disease"] == 2
    assert s["death_causes"]["alive"] == 2


def test_summary_of_a_simulated_run_is_consistent_with_its_table():
    result = api.run(patients=3000, seed=4)
    df, s = result.patients, result.summary
    infused = df["t_inf_days"].notna()
    assert s["infused"] == int(infused.sum())
    assert s["cr_rate"] == pytest.approx((df.loc[infused, "response"] >= Response.CR_MRD_POS).mean())
    assert sum(s["death_causes"].values()) == len(df)
    for endpoint in ("os", "efs", "lfs"):
        e = s[endpoint]
        assert 1.0 >= e["m6"] >= e["m12"] >= e["m24"] >= 0.0
        assert e["m12_ci"][0] <= e["m12"] <= e["m12_ci"][1]
    assert s["efs"]["m12"] <= s["os"]["m12"]
