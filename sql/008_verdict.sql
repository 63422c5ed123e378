-- A study's verdict checks as resolved when it started ({min_dsr, max_pbo, max_timing_p}, null =
-- off; NULL for studies older than verdicts, judged with the defaults), and how DSR's N counts
-- trials: 'bars' (every trial of any study, or single run, scored on the same bars) or 'study'.
ALTER TABLE sweep_studies ADD COLUMN verdict_gate JSONB;
ALTER TABLE sweep_studies ADD COLUMN count_trials TEXT NOT NULL DEFAULT 'bars'
    CHECK (count_trials IN ('bars', 'study'));
