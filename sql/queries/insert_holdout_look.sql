-- The next look at a study's holdout; the advisory lock taken by the caller serialises numbering.
-- No row comes back when this trial's holdout was recorded meanwhile (a concurrent evaluation).
INSERT INTO holdout_looks (study_name, experiment_id, result_id, look_number)
SELECT %(study_name)s, %(experiment_id)s, %(result_id)s, coalesce(max(look_number), 0) + 1
FROM holdout_looks WHERE study_name = %(study_name)s
HAVING NOT bool_or(experiment_id = %(experiment_id)s) IS TRUE
RETURNING look_number;
