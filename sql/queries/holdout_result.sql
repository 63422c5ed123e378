-- A trial's holdout evaluation, with how many trials of its study have been looked at.
SELECT h.look_number, h.looked_at, r.id AS result_id, r.metrics, r.gate_passed, r.gate_failures,
       r.test_from, r.test_to,
       (SELECT count(*) FROM holdout_looks a WHERE a.study_name = h.study_name) AS looks
FROM holdout_looks h
JOIN model_results r ON r.id = h.result_id
WHERE h.study_name = %(study_name)s AND h.experiment_id = %(experiment_id)s;
