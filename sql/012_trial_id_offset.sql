-- One trial numbering: from now on `<study>-t0000` is Optuna's trial 0, as optuna-dashboard and
-- `--trial` number it (offset 0). Studies started before kept `<study>-t0001` for Optuna's trial 0
-- (offset 1): their registered ids stay as they are, and `--trial N` reads them by this offset.
ALTER TABLE sweep_studies ADD COLUMN trial_id_offset INTEGER NOT NULL DEFAULT 1
    CHECK (trial_id_offset IN (0, 1));
ALTER TABLE sweep_studies ALTER COLUMN trial_id_offset SET DEFAULT 0;
