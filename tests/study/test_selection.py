"""Robust selection as a pure rule: a plateau beats a spike; quantiles by nearest rank."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sweep.study.selection import Candidate, choose_robust, nearest_rank, robustness_score

# A spike: the best value, neighbours that collapse. A plateau: slightly lower, neighbours that
# hold. Values as a study of Sharpe ratios would give them.
SPIKE = Candidate("s-t0007", 6, 1.90, (0.10, -0.40, 0.35, 1.70, -0.20, 0.05, 0.30, 1.40))
PLATEAU = Candidate("s-t0012", 11, 1.60, (1.30, 1.45, 1.20, 1.50, 1.10, 1.35, 1.55, 1.25))


def test_robust_selection_chooses_the_plateau_over_the_spike() -> None:
    assert choose_robust([SPIKE, PLATEAU]).experiment_id == PLATEAU.experiment_id
    assert choose_robust([PLATEAU, SPIKE]).experiment_id == PLATEAU.experiment_id
    # the peak rule would take the spike
    assert max([SPIKE, PLATEAU], key=lambda c: c.value) is SPIKE
    assert SPIKE.score() == pytest.approx(-0.20)  # 2nd worst of 8
    assert PLATEAU.score() == pytest.approx(1.20)


def test_minimised_objective_takes_the_plateau_of_low_values() -> None:
    # max_drawdown: lower is better; the spike has the lowest own value, neighbours far worse
    spike = Candidate("d-t0001", 0, 0.05, (0.40, 0.06, 0.35, 0.50))
    plateau = Candidate("d-t0002", 1, 0.08, (0.09, 0.10, 0.07, 0.11))
    assert choose_robust([spike, plateau], maximize=False) is plateau
    assert spike.score(maximize=False) == pytest.approx(0.50)  # the worst of 4: the highest
    assert plateau.score(maximize=False) == pytest.approx(0.11)


def test_a_failed_neighbour_counts_as_the_worst() -> None:
    assert robustness_score([1.0, None, 2.0, 3.0]) is None  # 1st worst of 4 is the failure
    assert robustness_score([1.0, None, 2.0, 3.0, 4.0]) == 1.0  # 2nd worst of 5
    many_failures = Candidate("f-t0001", 0, 2.5, (None, None, 2.0, 2.2, 2.1))
    modest = Candidate("f-t0002", 1, 1.0, (0.8, 0.9, 0.7, 0.85, 0.95))
    assert many_failures.score() is None
    assert choose_robust([many_failures, modest]) is modest


def test_ties_go_to_the_better_own_value_then_the_lower_trial_number() -> None:
    a = Candidate("t-t0003", 2, 1.0, (0.5, 0.6, 0.7, 0.8))
    b = Candidate("t-t0002", 1, 1.2, (0.5, 0.9, 0.9, 0.9))
    c = Candidate("t-t0001", 0, 1.2, (0.5, 0.6, 0.9, 0.9))
    assert choose_robust([a, b, c]) is c  # all score 0.5; b and c value 1.2; c is trial 0


def test_candidates_must_have_neighbours() -> None:
    with pytest.raises(ValueError, match="without neighbours: x-t0001"):
        choose_robust([Candidate("x-t0001", 0, 1.0, ())])
    with pytest.raises(ValueError, match="no candidates"):
        choose_robust([])


def test_nearest_rank_bounds() -> None:
    assert nearest_rank([], 0.25) is None
    assert nearest_rank([3.0], 0.25) == 3.0
    with pytest.raises(ValueError):
        nearest_rank([1.0], 0.0)
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 1.0) == 4.0  # the best
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 0.25, maximize=False) == 4.0  # the worst


@given(
    st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=60),
    st.sampled_from([0.25, 0.5, 0.75]),
)
def test_nearest_rank_is_numpy_inverted_cdf(values: list[float], q: float) -> None:
    # numpy's 'inverted_cdf' is the nearest-rank definition PostgreSQL's percentile_disc uses
    expected = float(np.quantile(np.array(values), q, method="inverted_cdf"))
    got = nearest_rank(values, q)
    assert got is not None and math.isclose(got, expected)
    # for a minimised objective the same rank is counted from the other end
    flipped = nearest_rank([-v for v in values], q, maximize=False)
    assert flipped is not None and math.isclose(-flipped, expected)
