"""The study verdict: every branch of :func:`sweep.study.verdict.decide`, and its wording."""

from __future__ import annotations

import math

import pytest

from sweep.study.verdict import (
    MIN_TRIALS,
    STUDY_FAILURE_PREFIX,
    Verdict,
    decide,
    resolve_study_gate,
    verdict_line,
)

DEFAULTS = resolve_study_gate(None)
ALL_ON = resolve_study_gate({"max_pbo": 0.5})  # PBO made a check, as a space file can
GOOD = {"min_dsr": 0.99, "max_pbo": 0.1, "max_timing_p": 0.01}


def test_defaults_for_studies_and_null_switches_a_check_off() -> None:
    assert DEFAULTS == {"min_dsr": 0.95, "max_pbo": None, "max_timing_p": 0.05}
    assert ALL_ON == {"min_dsr": 0.95, "max_pbo": 0.5, "max_timing_p": 0.05}
    got = resolve_study_gate({"min_dsr": 0.9, "max_pbo": None, "min_sharpe": 2.0})
    assert got == {"min_dsr": 0.9, "max_pbo": None, "max_timing_p": 0.05}


def test_every_check_passing_is_an_edge_with_each_check_named() -> None:
    v = decide(MIN_TRIALS, GOOD, ALL_ON)
    assert v.verdict == "edge" and v.is_edge
    assert v.reasons == ["DSR 0.99 >= 0.95", "PBO 0.10 <= 0.50", "timing p 0.01 <= 0.05"]
    assert v.failures("s") == []


def test_by_default_pbo_is_not_a_check_so_a_shared_real_signal_is_not_vetoed() -> None:
    # planted-s4 of the verdict bench: a real signal, DSR 0.98, timing p 0.001, PBO 0.58
    v = decide(60, {"min_dsr": 0.98, "max_pbo": 0.58, "max_timing_p": 0.001}, DEFAULTS)
    assert v.verdict == "edge"
    assert v.reasons == ["DSR 0.98 >= 0.95", "timing p 0.001 <= 0.05"]
    assert decide(
        60, {"min_dsr": 0.98, "max_pbo": 0.58, "max_timing_p": 0.001}, ALL_ON
    ).verdict == ("no_edge")


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("min_dsr", 0.22, "DSR 0.22 < 0.95"),
        ("max_pbo", 0.53, "PBO 0.53 > 0.50"),
        ("max_timing_p", 0.41, "timing p 0.41 > 0.05"),
    ],
)
def test_any_failing_check_is_no_edge_and_named_first(key: str, value: float, reason: str) -> None:
    v = decide(60, {**GOOD, key: value}, ALL_ON)
    assert v.verdict == "no_edge"
    assert v.reasons[0] == reason
    assert len(v.reasons) == 3  # the passing checks follow, so every value is shown


@pytest.mark.parametrize("missing", [None, math.nan])
def test_a_check_that_cannot_be_computed_fails_and_says_why(missing: float | None) -> None:
    v = decide(60, {**GOOD, "min_dsr": missing}, DEFAULTS, why_missing={"min_dsr": "no trades"})
    assert v.verdict == "no_edge"
    assert v.reasons[0] == "DSR not available (no trades)"


def test_a_switched_off_check_is_not_judged_even_when_missing() -> None:
    gate = {**DEFAULTS, "max_timing_p": None}
    v = decide(60, {**GOOD, "max_timing_p": None}, gate)
    assert v.verdict == "edge" and all("timing" not in r for r in v.reasons)


def test_every_check_off_is_an_edge_that_says_so() -> None:
    off = {k: None for k in DEFAULTS}
    v = decide(60, {k: None for k in DEFAULTS}, off)
    assert v.verdict == "edge" and v.reasons == ["every study-level check is switched off"]


def test_too_few_trials_is_undecided_saying_how_many_are_needed() -> None:
    v = decide(MIN_TRIALS - 8, GOOD, DEFAULTS)
    assert v.verdict == "undecided"
    assert v.reasons == [
        f"{MIN_TRIALS - 8} completed trials; at least {MIN_TRIALS} are needed to judge (run 8 more)"
    ]
    assert MIN_TRIALS <= 20  # a 60-trial study always decides
    assert decide(60, GOOD, DEFAULTS).verdict != "undecided"


def test_failures_put_the_verdict_in_one_study_entry() -> None:
    v = decide(60, {**GOOD, "max_pbo": 0.7}, ALL_ON)
    (entry,) = v.failures("noise-a")
    assert entry.startswith(STUDY_FAILURE_PREFIX + "noise-a found no edge — PBO 0.70 > 0.50")
    assert "; passed: DSR " in entry  # the checks it passed are set apart, never a reason
    (undecided,) = decide(3, GOOD, DEFAULTS).failures("s")
    assert undecided.startswith(STUDY_FAILURE_PREFIX + "s is undecided — 3 completed trials")


def test_the_summary_line() -> None:
    line = verdict_line("no_edge", ["DSR 0.22 < 0.95", "PBO 0.53 > 0.50"])
    assert line == "verdict: no edge — DSR 0.22 < 0.95, PBO 0.53 > 0.50"
    # a check that passed is not a reason for no edge: it is said apart
    line = verdict_line("no_edge", ["DSR 0.53 < 0.95", "timing p 0.009 <= 0.05"])
    assert line == "verdict: no edge — DSR 0.53 < 0.95; passed: timing p 0.009 <= 0.05"
    line = verdict_line("edge", ["DSR 0.97 >= 0.95", "timing p 0.01 <= 0.05"])
    assert line == "verdict: edge — DSR 0.97 >= 0.95, timing p 0.01 <= 0.05"
    line = verdict_line("no_edge", ["DSR not available (no returns)", "timing p 0.2 > 0.05"])
    assert line == "verdict: no edge — DSR not available (no returns), timing p 0.2 > 0.05"
    assert verdict_line(None, None).startswith("verdict: not judged yet")
    assert Verdict("edge", ["x"]).to_dict() == {"verdict": "edge", "verdict_reasons": ["x"]}
