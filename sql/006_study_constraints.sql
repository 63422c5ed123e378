-- A study's constraints as resolved when it started ({gate key: threshold}; {} for none, NULL for
-- studies older than constraints): `constraints: gate` reads the gate with its defaults of that
-- day, and the summary must judge feasibility by the thresholds the trials were scored against.
ALTER TABLE sweep_studies ADD COLUMN constraints JSONB;
