"""TPE with the space given (sweep's workers) proposes exactly what Optuna's TPE proposes when it
infers the space from the trials, at a cost that does not grow with every trial's distributions."""

from __future__ import annotations

import optuna
from conftest import ROOT

from sweep.study.optuna_study import (
    FixedSpaceTPESampler,
    make_sampler,
    space_distributions,
    trial_seed,
)
from sweep.study.space import load_space


def test_fixed_space_tpe_draws_what_optunas_tpe_draws() -> None:
    space = load_space(ROOT / "search_spaces" / "btc-4h.yaml")
    dists = space_distributions(space)
    assert set(dists) == {p.path for p in space.params}
    filler = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for i in range(30):
        t = filler.ask()
        space.suggest(t)
        filler.tell(t, float((i * 13) % 7))
    s = space.settings
    for number in range(30, 36):
        seed = trial_seed(s, number)
        got = []
        for fixed in (True, False):
            study = optuna.create_study(
                direction="maximize",
                sampler=make_sampler(
                    s, 0, len(space.params), seed=seed, search_space=dists if fixed else None
                ),
            )
            study.add_trials(filler.trials)
            t = study.ask()
            got.append(space.suggest(t))
            assert isinstance(study.sampler, FixedSpaceTPESampler) is fixed
        assert got[0] == got[1]
