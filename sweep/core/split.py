"""Chronological split with purge gaps.

Over the ``n`` usable rows (features and label defined), in time order::

    [ fit .......... ][gap][ valid ....... ][gap][ test ............... ]
    0            fit_end   valid_start  train_end  test_start             n

* ``test`` is the last ``floor(n * (1 - train_ratio))`` rows.
* ``train`` is everything before ``test_start - horizon``: the purge gap of ``horizon`` rows
  means no training label (which reads ``horizon`` bars ahead) reads a price inside the test period.
  ``horizon`` is the label's reach (:class:`sweep.core.target.Labels`): ``target.horizon`` for a
  ``binary`` target, ``position.hold_max`` for ``trade`` and ``triple_barrier``.
* ``valid`` is the last ``validation_ratio`` of the train part, used only for early stopping, and
  is purged from the fitting rows by another ``horizon`` rows for the same reason.

The test rows never reach fitting, early stopping or any feature computation (features are causal
and have no fitted state).
"""

from __future__ import annotations

from dataclasses import dataclass

from sweep.core.errors import PipelineError


@dataclass(frozen=True)
class Split:
    """Half-open row ranges ``[start, stop)`` into the usable rows."""

    fit: tuple[int, int]
    valid: tuple[int, int]
    test: tuple[int, int]
    horizon: int

    @property
    def n_fit(self) -> int:
        return self.fit[1] - self.fit[0]

    @property
    def n_valid(self) -> int:
        return self.valid[1] - self.valid[0]

    @property
    def n_test(self) -> int:
        return self.test[1] - self.test[0]


def chronological_split(
    n: int,
    *,
    train_ratio: float,
    horizon: int,
    validation_ratio: float,
    min_samples: int,
) -> Split:
    """Cut ``n`` rows into fit, validation and test parts with purge gaps of ``horizon`` rows.

    Raises :class:`PipelineError` (``insufficient samples: 812 < 1000``) when fewer than
    ``min_samples`` rows are left to fit on, or when a part would be empty.
    """
    if not 0.0 < train_ratio < 1.0:
        raise ValueError(f"train_ratio must be in (0, 1), got {train_ratio}")
    if not 0.0 < validation_ratio < 1.0:
        raise ValueError(f"validation_ratio must be in (0, 1), got {validation_ratio}")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    n_test = int(n * (1.0 - train_ratio))
    test_start = n - n_test
    train_end = max(test_start - horizon, 0)
    n_valid = int(train_end * validation_ratio)
    valid_start = train_end - n_valid
    fit_end = max(valid_start - horizon, 0)
    if fit_end < min_samples:
        raise PipelineError(f"insufficient samples: {fit_end} < {min_samples}")
    if n_test < 2 or n_valid < 1:
        raise PipelineError(
            f"insufficient samples: {n} usable rows leave {n_valid} validation and "
            f"{n_test} test rows"
        )
    return Split(
        fit=(0, fit_end), valid=(valid_start, train_end), test=(test_start, n), horizon=horizon
    )


def final_split(n: int, *, horizon: int, validation_ratio: float, min_samples: int) -> Split:
    """Cut all ``n`` rows into fit and validation parts (no test part): a model fitted for live
    prediction on everything labelled so far. The layout is :func:`chronological_split`'s without
    its test part: fitting rows, a purge gap of ``horizon`` rows, the early-stopping tail.

    Raises :class:`PipelineError` as :func:`chronological_split` does.
    """
    if not 0.0 < validation_ratio < 1.0:
        raise ValueError(f"validation_ratio must be in (0, 1), got {validation_ratio}")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    n_valid = int(n * validation_ratio)
    valid_start = n - n_valid
    fit_end = max(valid_start - horizon, 0)
    if fit_end < min_samples:
        raise PipelineError(f"insufficient samples: {fit_end} < {min_samples}")
    if n_valid < 1:
        raise PipelineError(f"insufficient samples: {n} usable rows leave no validation row")
    return Split(fit=(0, fit_end), valid=(valid_start, n), test=(n, n), horizon=horizon)


def walk_forward_folds(
    n_search: int,
    *,
    folds: int,
    mode: str,
    horizon: int,
    validation_ratio: float,
    min_samples: int,
) -> list[Split]:
    """Walk-forward folds over the search rows ``[0, n_search)`` (everything before the purged
    test part, which stays sealed).

    The rows are cut into ``folds + 1`` equal blocks; fold ``k`` (1..folds) evaluates on block
    ``k`` and trains on the blocks before it (``expanding``: blocks ``0..k-1``; ``rolling``: block
    ``k-1`` only, the size of the first fold's training window). Inside each fold the layout is
    the one of :func:`chronological_split`: fitting rows, a purge gap of ``horizon`` rows, the
    early-stopping tail, another gap of ``horizon`` rows, then the evaluated block. Training always
    precedes evaluation, so no embargo after an evaluated block is needed: no later fold trains on
    rows whose labels overlap an earlier fold's evaluation without also having seen them as
    training rows of its own.
    """
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    block = n_search // (folds + 1)
    out = []
    for k in range(1, folds + 1):
        eval_start = k * block
        eval_stop = (k + 1) * block if k < folds else n_search
        train_start = 0 if mode == "expanding" else (k - 1) * block
        train_end = eval_start - horizon
        n_valid = int((train_end - train_start) * validation_ratio)
        valid_start = train_end - n_valid
        fit_end = valid_start - horizon
        n_fit = max(fit_end - train_start, 0)
        if n_fit < min_samples:
            raise PipelineError(f"insufficient samples: fold {k}: {n_fit} < {min_samples}")
        if n_valid < 1 or eval_stop - eval_start < 2:
            raise PipelineError(
                f"insufficient samples: fold {k} has {n_valid} validation and "
                f"{eval_stop - eval_start} evaluation rows"
            )
        out.append(
            Split(
                fit=(train_start, fit_end),
                valid=(valid_start, train_end),
                test=(eval_start, eval_stop),
                horizon=horizon,
            )
        )
    return out
