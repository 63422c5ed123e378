-- A study's verdict in every row of its trials: earlier study-level entries of gate_failures
-- (those starting "study: ", and the "dsr "/"pbo " entries of older versions) are replaced by
-- %(failures)s; gate_passed stays true only for an ok row with no failure left. Rows with a NULL
-- gate_passed (not search results) are left alone.
UPDATE model_results r
SET gate_failures = k.kept || %(failures)s::text[],
    gate_passed = (r.status = 'ok' AND cardinality(k.kept || %(failures)s::text[]) = 0)
FROM (
    SELECT m.id,
           ARRAY(SELECT u.f FROM unnest(coalesce(m.gate_failures, '{}'::text[]))
                     WITH ORDINALITY AS u(f, i)
                 WHERE u.f NOT LIKE 'study: %%' AND u.f NOT LIKE 'dsr %%'
                   AND u.f NOT LIKE 'pbo %%'
                 ORDER BY u.i) AS kept
    FROM model_results m
    JOIN experiments e ON e.experiment_id = m.experiment_id
    WHERE e.study_name = %(study_name)s AND m.gate_passed IS NOT NULL
) AS k
WHERE r.id = k.id;
