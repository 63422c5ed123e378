-- A run stopped by --timeout before its budget was met: resumable like an interrupted one, but
-- not an interruption (nobody pressed Ctrl-C, nothing went wrong).
ALTER TABLE sweep_studies DROP CONSTRAINT sweep_studies_status_check;
ALTER TABLE sweep_studies ADD CONSTRAINT sweep_studies_status_check
    CHECK (status IN ('running', 'completed', 'interrupted', 'timed_out', 'failed'));
