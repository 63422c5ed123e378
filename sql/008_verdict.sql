-- A study's verdict checks as resolved when it started ({min_dsr, max_pbo, max_timing_p}, null =
-- off; NULL for studies older than verdicts, judged with the defaults), and how DSR's N counts
-- trials: 'bars' (every trial of any study, or single run, scored on the same bars) or 'study'.
ALTER TABLE sweep_studies ADD COLUMN verdict_gate JSONB;
ALTER TABLE sweep_studies ADD COLUMN count_trials TEXT NOT NULL DEFAULT 'bars'
    CHECK (count_trials IN ('bars', 'study'));

-- Each run's timing test: its objective's value for the actual entries and for K random entry
-- schedules (the same seeds for every trial of a study), so a study's timing p (White's Reality
-- Check over its trials) can be computed, and recomputed, from the database alone.
CREATE TABLE result_timing (
    result_id INTEGER PRIMARY KEY REFERENCES model_results (id) ON DELETE CASCADE,
    objective TEXT NOT NULL,
    draws     INTEGER NOT NULL CHECK (draws > 0),
    encoding  TEXT NOT NULL,
    data      BYTEA NOT NULL
);
