-- Robustness evaluations (`sweep robust`): a study's candidate run again under small changes
-- (neighbouring parameter values, other XGBoost seeds, other symbols), each scored on the search
-- part (walk-forward folds), never on the sealed holdout. Each is a registered run with its own
-- experiment and result row, and none is a search trial:
-- * its experiment row has no study_name, so no query of a study's trials (counts, DSR's N, PBO,
--   the chosen trial) can see it;
-- * its result row has role 'robust', robust_of naming the candidate's experiment, and
--   gate_passed NULL, so the seed's leaderboard (WHERE gate_passed = true) never lists it; its
--   gate_failures still say which per-run checks it missed (none: it would pass).
-- role: 'search' (a study trial or a single `sweep run`), 'holdout' (a sealed-holdout look, as the
-- holdout column says) or 'robust'.
ALTER TABLE model_results ADD COLUMN role TEXT NOT NULL DEFAULT 'search'
    CHECK (role IN ('search', 'holdout', 'robust'));
UPDATE model_results SET role = 'holdout' WHERE holdout;
ALTER TABLE model_results ADD COLUMN robust_of TEXT REFERENCES experiments (experiment_id);
ALTER TABLE model_results ADD CONSTRAINT model_results_role_consistent
    CHECK ((role = 'holdout') = holdout
           AND (role = 'robust') = (robust_of IS NOT NULL)
           AND (role <> 'robust' OR gate_passed IS NULL));
CREATE INDEX model_results_robust_of_idx ON model_results (robust_of) WHERE robust_of IS NOT NULL;

-- What each robustness run is: which candidate, which change, and the objective's value per
-- market regime (computed from the run's own per-bar returns). eval_key identifies the change
-- deterministically, so an interrupted `sweep robust` resumes without running any twice.
CREATE TABLE robust_evaluations (
    result_id    INTEGER PRIMARY KEY REFERENCES model_results (id) ON DELETE CASCADE,
    study_name   TEXT NOT NULL,
    candidate_id TEXT NOT NULL REFERENCES experiments (experiment_id),
    kind         TEXT NOT NULL
                 CHECK (kind IN ('base', 'neighbour', 'random', 'seed', 'symbol')),
    eval_key     TEXT NOT NULL,
    label        TEXT NOT NULL,
    changes      JSONB NOT NULL,
    objective    TEXT NOT NULL,
    value        DOUBLE PRECISION,
    passed       BOOLEAN NOT NULL,
    regimes      JSONB,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (candidate_id, eval_key)
);
CREATE INDEX robust_evaluations_study_idx ON robust_evaluations (study_name, candidate_id);

-- The candidates whose neighbourhood was planned, with its size (the one-parameter-at-a-time
-- neighbours of the trial's values in the study's space): robust selection uses a candidate's
-- neighbourhood only once every planned neighbour is registered.
CREATE TABLE robust_candidates (
    candidate_id TEXT PRIMARY KEY REFERENCES experiments (experiment_id),
    study_name   TEXT NOT NULL,
    n_neighbours INTEGER NOT NULL CHECK (n_neighbours >= 0),
    planned_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
