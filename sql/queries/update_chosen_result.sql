-- The study's chosen trial carries the study statistics in its metrics.
UPDATE model_results SET metrics = metrics || %(extra)s WHERE id = %(result_id)s;
