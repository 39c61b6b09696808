"""Where the parameter files' numbers come from.

Every ``source`` names a publication, a seed abstract (for the cohort and policy
descriptions of the study populations) or says plainly "Assumption: <reason>", and none
points into notes outside the repository. A prior (any parameter with an uncertainty
distribution, the calibrated ones above all) never rests on a seed abstract or on the
numbers it reports: those numbers are the calibration targets, and using them twice
makes the prior "fit" and the posterior overconfident.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from sim.calibration.imis import CALIBRATED
from sim.io.files import PARAMS_DIR, TARGETS_PATH

PARAMETER_FILES = ("defaults.toml", "calibrated.toml")
#: a publication year, a PMC id or a drug label
PUBLICATION = re.compile(r"\b(19|20)\d\d\b|\bPMC\d+|prescribing information|ashpublications\.org/", re.IGNORECASE)
PLAIN = re.compile(r"^(Assumption\b|Reference category)|\bassumption:", re.IGNORECASE)
SEED_ABSTRACT = re.compile(r"\bseed\b|\babstracts? 00[0-4]\b|[0-9a-f]{16}\.txt", re.IGNORECASE)


def _entries(path: Path) -> dict[str, dict[str, Any]]:
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    out: dict[str, dict[str, Any]] = {}

    def walk(table: dict[str, Any], prefix: str) -> None:
        for key, val in table.items():
            if isinstance(val, dict) and "value" in val:
                out[prefix + key] = val
            elif isinstance(val, dict):
                walk(val, f"{prefix}{key}.")

    walk(doc, "")
    return out


def seed_numbers(targets_doc: dict[str, Any]) -> list[re.Pattern[str]]:
    """Patterns of the numbers the seed abstracts report (from the targets file): each
    non-trivial count as "k/n" or "k of n", each Kaplan-Meier landmark in percent, each median in days."""
    pats: list[re.Pattern[str]] = []
    for t in targets_doc["target"]:
        count, n, reported = t.get("count"), t.get("n"), t["reported"]
        if isinstance(count, int) and isinstance(n, int) and 0 < count < n:
            pats.append(re.compile(rf"(?<![\d.]){count}\s*(/|of)\s*{n}(?![\d.])"))
        if re.fullmatch(r"(os|efs|lfs|cir)_m\d+", t["metric"]) and isinstance(reported, float):
            pct = f"{100 * reported:.1f}"
            if not pct.endswith(".0"):
                pats.append(re.compile(rf"(?<![\d.]){re.escape(pct)}(?![\d])"))
        if "median" in t["metric"] and isinstance(reported, (int, float)):
            pats.append(re.compile(rf"(?<![\d.]){int(reported)}(?![\d.])"))
    return pats


def seed_citations(text: str, patterns: list[re.Pattern[str]]) -> list[str]:
    """What in ``text`` cites a seed abstract or one of its numbers."""
    hits = [m.group(0) for m in SEED_ABSTRACT.finditer(text)]
    hits += [m.group(0) for p in patterns for m in p.finditer(text)]
    return hits


@pytest.fixture(scope="module")
def patterns() -> list[re.Pattern[str]]:
    return seed_numbers(tomllib.loads(TARGETS_PATH.read_text(encoding="utf-8")))


@pytest.mark.parametrize("file", PARAMETER_FILES)
def test_no_source_points_into_notes_outside_the_repository(file: str) -> None:
    text = (PARAMS_DIR / file).read_text(encoding="utf-8")
    for bad in ("external_priors", "../shared", "evidence/", "[V]", "[A]"):
        assert bad not in text, f"{file} mentions {bad!r}"


@pytest.mark.parametrize("file", PARAMETER_FILES)
def test_every_source_names_a_publication_a_seed_or_an_assumption(file: str) -> None:
    bad = {name: e["source"] for name, e in _entries(PARAMS_DIR / file).items()
           if not (PUBLICATION.search(e["source"]) or PLAIN.search(e["source"]) or SEED_ABSTRACT.search(e["source"]))}
    assert not bad, bad


@pytest.mark.parametrize("file", PARAMETER_FILES)
def test_no_prior_rests_on_a_seed_abstract(file: str, patterns: list[re.Pattern[str]]) -> None:
    entries = _entries(PARAMS_DIR / file)
    priors = {n for n, e in entries.items() if e["uncertainty"].get("dist") != "fixed"}
    assert set(CALIBRATED) <= priors
    offenders = {n: hits for n in sorted(priors)
                 if (hits := seed_citations(entries[n]["source"] + " " + entries[n].get("derivation", ""), patterns))}
    assert not offenders, offenders


def test_calibrated_derivations_say_their_prior_is_external() -> None:
    entries = _entries(PARAMS_DIR / "defaults.toml")
    missing = [n for n in CALIBRATED if "external evidence only" not in entries[n]["derivation"]
               and not PLAIN.search(entries[n]["source"])]
    assert not missing, missing


@pytest.mark.parametrize("text", [
    "Pooled 34/43 donor-derived and 18/22 from the study",  # a seed count
    "Jeffreys posterior of 12 of 14",
    "median EFS 212 d from infusion",  # a seed median
    "1-year OS 41.1% (19.15-63.05)",  # a seed landmark
    "as in seed 004",
    "see 004_ee06c7908afd55a8.txt",
])
def test_the_seed_check_catches_a_seed_citation(text: str, patterns: list[re.Pattern[str]]) -> None:
    assert seed_citations(text, patterns)


@pytest.mark.parametrize("text", [
    "CR 34 of 43 (Zhang C et al., Leukemia 2021;35:1563)",
    "best CR 68% (95% CI 53-81%, n=116)",
    "median 5.5 months (2121 d)",
])
def test_the_seed_check_passes_external_numbers(text: str, patterns: list[re.Pattern[str]]) -> None:
    assert not seed_citations(text, patterns)
