-- Models fitted for live prediction (`sweep predict`): a walk-forward trial's model refitted on
-- its whole search part, or `--refit` on all data. Such a row scores nothing: no test period,
-- gate_passed NULL, and it is never a search result (no trial count, no DSR N, no leaderboard).
ALTER TABLE model_results ADD COLUMN refit BOOLEAN NOT NULL DEFAULT false;
