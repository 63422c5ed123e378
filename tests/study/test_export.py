"""`sweep export`: a study's trial as a fixed experiment file that reproduces it exactly.

One small study (and one multi-objective study) run once per module on a database of their own;
the export checks read it. ``--jobs 1`` with a seeded sampler makes the trials the same each run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import optuna
import pytest
import yaml
from conftest import ROOT, StudyDir, optuna_trials, sql, tiny_space
from hypothesis import HealthCheck, given, settings

from sweep.core.config import dump_yaml
from sweep.core.experiment import load_experiment, validate_experiment
from sweep.store.db import sqlalchemy_url
from sweep.study.optuna_study import trial_experiment_id
from sweep.study.space import RANGE_KEYS, SearchSpace, load_space, parse_space

STUDY = "exp-single"
MULTI = "exp-multi"


def registered(url: str, study: str) -> dict[int, dict[str, Any]]:
    """Trial number -> its experiment config and latest result, from the registry."""
    rows = sql(
        url,
        "SELECT DISTINCT ON (e.experiment_id) e.experiment_id, e.trial_number, e.config, "
        "r.status, r.metrics, r.gate_failures FROM experiments e "
        "JOIN model_results r USING (experiment_id) "
        "WHERE e.study_name = %s ORDER BY e.experiment_id, r.id DESC",
        (study,),
    )
    return {int(r["trial_number"]): r for r in rows}


def has_range(node: Any) -> bool:
    if isinstance(node, dict):
        return any(k in node for k in RANGE_KEYS) or any(has_range(v) for v in node.values())
    if isinstance(node, list):
        return any(has_range(v) for v in node)
    return False


@pytest.fixture(scope="module")
def sd(module_db: str, tmp_path_factory: pytest.TempPathFactory) -> StudyDir:
    """A single- and a multi-objective study, each with failing trials among the good ones."""
    d = StudyDir(tmp_path_factory.mktemp("export"), module_db)
    single = tiny_space(STUDY)
    single["target"]["threshold"] = {"choice": [0.006, 0.01, 5.0]}
    d.write("single.yaml", single)
    p = d.sweep("run", "single.yaml", "--trials", "8", "--jobs", "1", "--no-progress")
    assert p.returncode == 0, p.stderr

    multi = tiny_space(MULTI)
    multi["sweep"] = {
        "objective": ["sharpe", "max_drawdown"],
        "direction": ["maximize", "minimize"],
        "sampler": "nsgaii",
        "seed": 3,
        # Optuna's own best_trials is then the front of the gate-passing trials, which is where
        # sweep's rule looks too (the test's independent reference)
        "constraints": "gate",
    }
    # Loose enough that some trials are feasible on their walk-forward folds: the test compares
    # with Optuna's own front of the feasible trials.
    multi["gate"] = {"min_sharpe": -3.0, "min_win_rate": 0.2, "min_trades": 5}
    d.write("multi.yaml", multi)
    p = d.sweep("run", "multi.yaml", "--trials", "8", "--jobs", "2", "--no-progress")
    assert p.returncode == 0, p.stderr
    # NSGA-II's population lives in each worker: the user is told, once
    assert p.stderr.count("the 2 workers run independent nsgaii searches") == 1, p.stderr

    states = [t.state.name for t in optuna_trials(module_db, STUDY)]
    assert states.count("FAIL") >= 1 and states.count("COMPLETE") >= 3, states
    return d


def expected_best(url: str, study: str) -> int:
    """Single objective, the documented rule: the highest Sharpe among the trials that passed
    the gate's per-run checks (all ok trials when none did), ties to the lowest trial number."""
    ok = {n: r for n, r in registered(url, study).items() if r["status"] == "ok"}
    passed = {
        n: r
        for n, r in ok.items()
        if all(f.startswith(("study: ", "dsr ", "pbo ")) for f in (r["gate_failures"] or []))
    }
    pool = passed or ok
    return max(pool, key=lambda n: (pool[n]["metrics"]["sharpe"], -n))


def test_export_best_writes_a_fixed_config_with_provenance(sd: StudyDir) -> None:
    best = expected_best(sd.url, STUDY)
    eid = trial_experiment_id(STUDY, best)
    p = sd.sweep("export", STUDY, "-o", "out/best.yaml")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"✓ wrote out/best.yaml ({eid})"

    text = (sd.path / "out" / "best.yaml").read_text()
    lines = text.splitlines()
    header = [ln for ln in lines if ln.startswith("#")]
    assert lines[: len(header)] == header, "the provenance header comes first"
    assert any(f"study: {STUDY}, trial {best} ({eid}; Optuna trial {best})" in ln for ln in header)
    assert any(ln.startswith("# objectives: sharpe (maximize) = ") for ln in header)
    sha = sql(sd.url, "SELECT data_fingerprint->>'sha256' AS s FROM model_results LIMIT 1")[0]["s"]
    assert any(sha[:16] in ln for ln in header)

    data = yaml.safe_load(text)
    assert "sweep" not in data
    assert not has_range(data)
    assert data["experiment_id"] == eid
    cfg = load_experiment(sd.path / "out" / "best.yaml")
    reg = registered(sd.url, STUDY)[best]
    assert cfg.provenance is not None
    assert (cfg.provenance.study, cfg.provenance.trial) == (STUDY, best)
    # the same config the trial ran, its folds written out; provenance is metadata only
    assert cfg.model_copy(update={"provenance": None}) == validate_experiment(reg["config"])
    assert cfg.training.cv is not None
    assert cfg.fingerprint() == validate_experiment(reg["config"]).fingerprint()
    meta = sql(sd.url, "SELECT * FROM sweep_studies WHERE study_name = %s", (STUDY,))
    assert meta[0]["best_experiment_id"] == eid


# Study-level statistics the study writes onto its chosen trial's row (not the trial's own run).
STUDY_LEVEL = {"dsr", "pbo", "n_trials_study"}


def rerun(sd: StudyDir, *export_args: str) -> dict[str, Any]:
    p = sd.sweep("export", *export_args, "-o", "repro.yaml", "--force")  # each run replaces it
    assert p.returncode == 0, p.stderr
    run = sd.sweep("run", "repro.yaml", "--json")
    assert run.returncode == 0, run.stderr
    out: dict[str, Any] = json.loads(run.stdout)
    assert out["status"] == "ok"
    rows = sql(
        sd.url,
        "SELECT metrics FROM model_results WHERE experiment_id = %s ORDER BY id",
        (out["experiment_id"],),
    )
    assert len(rows) == 2, "the run adds a result row to the trial's own experiment"
    return out


def test_running_the_exported_best_reproduces_its_metrics_exactly(sd: StudyDir) -> None:
    best = expected_best(sd.url, STUDY)
    before = registered(sd.url, STUDY)[best]["metrics"]
    out = rerun(sd, STUDY)
    assert out["experiment_id"] == trial_experiment_id(STUDY, best)
    assert set(before) - set(out["metrics"]) <= STUDY_LEVEL
    assert out["metrics"] == {k: v for k, v in before.items() if k not in STUDY_LEVEL}


def test_running_an_exported_trial_reproduces_its_metrics_exactly(sd: StudyDir) -> None:
    reg = registered(sd.url, STUDY)
    best = expected_best(sd.url, STUDY)
    other = max(n for n, r in reg.items() if r["status"] == "ok" and n != best)
    out = rerun(sd, STUDY, "--trial", str(other))  # --trial takes the id's number
    assert out["experiment_id"] == trial_experiment_id(STUDY, other)
    assert out["metrics"] == reg[other]["metrics"]


def test_export_of_a_chosen_trial(sd: StudyDir) -> None:
    reg = registered(sd.url, STUDY)
    best = expected_best(sd.url, STUDY)
    other = min(n for n, r in reg.items() if r["status"] == "ok" and n != best)
    p = sd.sweep("export", STUDY, "--trial", str(other))
    assert p.returncode == 0, p.stderr
    data = yaml.safe_load(p.stdout)
    assert data["experiment_id"] == trial_experiment_id(STUDY, other)
    assert f"# study: {STUDY}, trial {other} " in p.stdout
    assert data.pop("provenance") == {"study": STUDY, "trial": other}
    assert validate_experiment(data) == validate_experiment(reg[other]["config"])
    trial = optuna_trials(sd.url, STUDY)[other]
    assert data["target"]["horizon"] == trial.params["target.horizon"]
    assert data["backtest"]["entry_threshold"] == trial.params["backtest.entry_threshold"]
    assert "+".join(data["feature_groups"]) == trial.params["feature_groups"]


def test_multi_objective_export_picks_the_best_first_objective_on_the_pareto_front(
    sd: StudyDir,
) -> None:
    trials = optuna_trials(sd.url, MULTI)
    # Optuna's own Pareto front, independent of sweep's rule implementation: of the feasible
    # (gate-passing) trials, or of all completed ones when none is feasible
    storage = optuna.storages.RDBStorage(sqlalchemy_url(sd.url))
    try:
        study = optuna.load_study(study_name=MULTI, storage=storage)
        front = study.best_trials
        directions = study.directions
    finally:
        storage.engine.dispose()
    assert front and len(trials) == 8, "the fixture's gate leaves some trials feasible"
    assert directions
    want = max(front, key=lambda t: (t.values[0], -t.number)).number
    p = sd.sweep("export", MULTI)
    assert p.returncode == 0, p.stderr
    data = yaml.safe_load(p.stdout)
    assert data["experiment_id"] == trial_experiment_id(MULTI, want)
    assert "# objectives: sharpe (maximize) = " in p.stdout
    assert "max_drawdown (minimize) = " in p.stdout
    data.pop("provenance")
    assert validate_experiment(data) == validate_experiment(
        registered(sd.url, MULTI)[want]["config"]
    )


@pytest.mark.parametrize("case", ["unknown study", "failed trial", "no such trial"])
def test_export_errors_exit_2_with_one_line_and_write_nothing(sd: StudyDir, case: str) -> None:
    failed = next(t.number for t in optuna_trials(sd.url, STUDY) if t.state.name == "FAIL")
    args = {
        "unknown study": ("no-such-study",),
        "failed trial": (STUDY, "--trial", str(failed)),
        "no such trial": (STUDY, "--trial", "999"),
    }[case]
    out = sd.path / f"err-{case.replace(' ', '-')}.yaml"
    p = sd.sweep("export", *args, "-o", str(out))
    assert p.returncode == 2
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    assert ("STUDY" if case == "unknown study" else "--trial") in lines[0]
    assert not out.exists()


def round_trip(space: SearchSpace, values: dict[str, Any], eid: str, tmp: Path) -> None:
    fixed = space.apply(values, eid)
    path = tmp / f"{eid}.yaml"
    path.write_text(dump_yaml(fixed, "round trip"))
    assert load_experiment(path) == validate_experiment(fixed)


def test_space_round_trip_of_every_registered_trial(sd: StudyDir, tmp_path: Path) -> None:
    space = load_space(sd.path / "single.yaml")
    reg = registered(sd.url, STUDY)
    for t in optuna_trials(sd.url, STUDY):
        eid = trial_experiment_id(STUDY, t.number)
        round_trip(space, t.params, eid, tmp_path)
        # and the file reproduces the registered config of that trial
        assert load_experiment(tmp_path / f"{eid}.yaml") == validate_experiment(
            reg[t.number]["config"]
        )


def values_for(space: SearchSpace) -> st.SearchStrategy[dict[str, Any]]:
    """Any point of the space, drawn from each parameter's Optuna distribution."""
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for p in space.params:
        d = p.distribution
        if isinstance(d, optuna.distributions.CategoricalDistribution):
            parts[p.path] = st.sampled_from(list(d.choices))
        elif isinstance(d, optuna.distributions.IntDistribution):
            parts[p.path] = st.integers(0, (d.high - d.low) // d.step).map(
                lambda k, d=d: d.low + k * d.step
            )
        else:
            assert isinstance(d, optuna.distributions.FloatDistribution)
            parts[p.path] = st.floats(d.low, d.high, allow_nan=False, allow_infinity=False)
    return st.fixed_dictionaries(parts)


SPACES = {
    "btc-4h": load_space(ROOT / "search_spaces" / "btc-4h.yaml"),
    "btc-4h-barrier": load_space(ROOT / "search_spaces" / "btc-4h-barrier.yaml"),
    "tiny": parse_space(tiny_space("rt-tiny")),
}


@pytest.mark.parametrize("which", sorted(SPACES))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_space_round_trip_property(which: str, data: st.DataObject, tmp_path: Path) -> None:
    space = SPACES[which]
    values = data.draw(values_for(space))
    round_trip(space, values, f"{space.study_name}-t0042", tmp_path)
