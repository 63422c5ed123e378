"""A study's verdict: ``edge``, ``no_edge`` or ``undecided``, said plainly.

A number the user must know how to read is not a verdict. Every study ends with one word and its
reasons, from three study-level checks of its chosen trial:

* **DSR** (deflated Sharpe ratio) >= ``gate.min_dsr`` (0.95 for studies): the chosen Sharpe ratio
  is significant once the number of trials tried, and the spread of their Sharpe ratios, are
  accounted for;
* **PBO** (probability of backtest overfitting) <= ``gate.max_pbo``: off by default for studies
  (see below);
* **timing p** <= ``gate.max_timing_p`` (0.05): the chosen trial's entries beat random entries
  with the same number of trades and the same exits on the same bars, corrected for choosing the
  best of the study's trials (White's Reality Check), so long-only exposure to a rising market
  is not mistaken for skill.

``null`` switches a check off.

PBO is computed and shown for every study, but it is not a default check: it asks whether the
choice *among* configurations holds out of sample (is the in-sample best above the out-of-sample
median?), not whether there is an edge. When most configurations share a real signal, their
ranks are close to a coin toss and PBO nears 0.5 whatever the edge: on the verdict bench a
planted signal with DSR 0.98, timing p 0.001 and a holdout Sharpe of 3.0 had PBO 0.58, while
noise paths ranged from 0.16 to 0.74. So the summary shows a PBO above :data:`PBO_CAUTION` as a
caution next to the verdict, and ``gate.max_pbo: 0.5`` in a space file makes it a check again.

A check whose value cannot be computed counts as failing and is named. With fewer than
:data:`MIN_TRIALS` completed trials there is too little to judge: ``undecided``, saying how many
are needed. Otherwise ``edge`` only when every enabled check passes.

The verdict is written into every row of the study's trials (``gate_failures`` entries that start
with ``study:``, and ``gate_passed`` false unless the verdict is ``edge``), so the seed's
leaderboard query (``WHERE gate_passed = true``) never lists a trial of a study that found no
edge. The per-run gate checks are kept as they were; the choice of trial ignores the study
entries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sweep.store.registry import Connection, query

__all__ = [
    "MIN_TRIALS",
    "PBO_CAUTION",
    "STUDY_CHECKS",
    "STUDY_FAILURE_PREFIX",
    "Verdict",
    "decide",
    "reasons_text",
    "resolve_study_gate",
    "verdict_line",
    "write_verdict",
]

VerdictWord = Literal["edge", "no_edge", "undecided"]

# Completed trials needed before a study is judged: DSR needs a spread of trial Sharpe ratios
# and PBO a matrix of trials; below this both are too noisy to mean anything. At most 20 (a
# 60-trial study always decides).
MIN_TRIALS = 20

# key in gate: -> (label, study default, is_minimum)
STUDY_CHECKS: dict[str, tuple[str, float | None, bool]] = {
    "min_dsr": ("DSR", 0.95, True),
    "max_pbo": ("PBO", None, False),  # a caution, not a default check (module docstring)
    "max_timing_p": ("timing p", 0.05, False),
}
STUDY_FAILURE_PREFIX = "study: "
PBO_CAUTION = 0.5
"""Above this, PBO is shown as a caution when it is not a check: the in-sample best configuration
is more often than not below the out-of-sample median."""
PENDING = STUDY_FAILURE_PREFIX + "verdict pending (the study has not ended)"


@dataclass(frozen=True)
class Verdict:
    """The word, the reasons (one per check, failing ones first), and the checks' values."""

    verdict: VerdictWord
    reasons: list[str]
    values: dict[str, float | None] = field(default_factory=dict)

    @property
    def is_edge(self) -> bool:
        return self.verdict == "edge"

    def failures(self, study_name: str) -> list[str]:
        """What the study adds to each trial row's ``gate_failures``: one entry, nothing for an
        edge (``study: btc-4h found no edge — DSR 0.22 < 0.95, PBO 0.53 > 0.50``)."""
        if self.is_edge:
            return []
        said = "found no edge" if self.verdict == "no_edge" else "is undecided"
        return [f"{STUDY_FAILURE_PREFIX}{study_name} {said} — {reasons_text(self.reasons)}"]

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "verdict_reasons": list(self.reasons)}


def resolve_study_gate(gate_block: Any) -> dict[str, float | None]:
    """The study-level thresholds from a space file's ``gate:`` block: a key it names (``null``
    included) is taken as written, the others get the study defaults. Resolved when the study
    starts and stored with it, so a later change of defaults cannot re-judge an old study."""
    block = gate_block if isinstance(gate_block, Mapping) else {}
    out: dict[str, float | None] = {}
    for key, (_, default, _) in STUDY_CHECKS.items():
        v = block.get(key, default)
        out[key] = None if v is None else float(v)
    return out


def _fmt(v: float) -> str:
    return f"{v:.2f}" if abs(v) >= 0.01 or v == 0 else f"{v:.3f}"


def decide(
    n_completed: int,
    values: Mapping[str, float | None],
    thresholds: Mapping[str, float | None],
    *,
    why_missing: Mapping[str, str] | None = None,
) -> Verdict:
    """The verdict from the checks' ``values`` (keys ``min_dsr``, ``max_pbo``,
    ``max_timing_p``: the DSR, PBO and timing p) against ``thresholds`` (None = off)."""
    why_missing = why_missing or {}
    shown = {k: values.get(k) for k in STUDY_CHECKS}
    if n_completed < MIN_TRIALS:
        return Verdict(
            "undecided",
            [
                f"{n_completed} completed trials; at least {MIN_TRIALS} are needed to judge "
                f"(run {MIN_TRIALS - n_completed} more)"
            ],
            shown,
        )
    failing: list[str] = []
    passing: list[str] = []
    for key, (label, _, is_min) in STUDY_CHECKS.items():
        limit = thresholds.get(key)
        if limit is None:
            continue
        v = values.get(key)
        if v is None or not math.isfinite(v):
            reason = why_missing.get(key, "could not be computed")
            failing.append(f"{label} not available ({reason})")
            continue
        ok = v >= limit if is_min else v <= limit
        if ok:
            passing.append(f"{label} {_fmt(v)} {'>=' if is_min else '<='} {_fmt(limit)}")
        else:
            failing.append(f"{label} {_fmt(v)} {'<' if is_min else '>'} {_fmt(limit)}")
    if failing:
        return Verdict("no_edge", failing + passing, shown)
    if not passing:
        return Verdict("edge", ["every study-level check is switched off"], shown)
    return Verdict("edge", passing, shown)


def verdict_line(verdict: str | None, reasons: list[str] | None) -> str:
    """``verdict: no edge — DSR 0.22 < 0.95, PBO 0.53 > 0.50, timing p 0.41 > 0.05``."""
    if verdict is None:
        return "verdict: not judged yet (the study has not ended)"
    word = verdict.replace("_", " ")
    return f"verdict: {word}" + (f" — {reasons_text(reasons)}" if reasons else "")


def reasons_text(reasons: list[str]) -> str:
    """The reasons as one phrase: when some checks failed, the ones that passed are set apart
    (``DSR 0.53 < 0.95; passed: timing p 0.009 <= 0.05``), so that a passing check is never
    read as a reason for no edge."""
    passed = [r for r in reasons if " >= " in r or " <= " in r]
    failed = [r for r in reasons if r not in passed]
    if not failed or not passed:
        return ", ".join(reasons)
    return ", ".join(failed) + "; passed: " + ", ".join(passed)


def recorded_failures(conn: Connection, study_name: str) -> list[str] | None:
    """The study-level entries a new row of this study's trials takes now: the recorded
    verdict's (none for an edge), pending while the study runs; None for an unknown study."""
    row = conn.execute(query("study_verdict"), {"study_name": study_name}).fetchone()
    if row is None:
        return None
    status, word, reasons = row
    if status == "running" or word is None:
        return [PENDING]
    return Verdict(word, list(reasons or [])).failures(study_name)


def provenance_failures(conn: Connection, study_name: str) -> list[str]:
    """What a run of an exported file adds to its gate failures: its study's verdict, read from
    the registry it runs against. A ✓ never vouches for a winner whose study found no edge."""
    got = recorded_failures(conn, study_name)
    if got is None:
        return [
            f"{STUDY_FAILURE_PREFIX}verdict unknown — study {study_name} is not in this "
            "registry, so nothing vouches for choosing this config"
        ]
    return got


def write_verdict(conn: Connection, study_name: str, verdict: Verdict | None) -> int:
    """Put the study-level outcome into every row of the study's trials (holdout looks included):
    the earlier study entries of ``gate_failures`` are replaced, and ``gate_passed`` is true only
    for an ``ok`` row with no failure left. ``None``: the study is running (pending). Returns the
    number of rows updated."""
    failures = [PENDING] if verdict is None else verdict.failures(study_name)
    with conn.transaction():
        cur = conn.execute(
            query("apply_study_verdict"), {"study_name": study_name, "failures": failures}
        )
    return int(cur.rowcount or 0)
