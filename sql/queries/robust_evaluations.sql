-- Every robustness run of a study with its result (`sweep robust`), candidate by candidate.
SELECT v.candidate_id, v.kind, v.eval_key, v.label, v.changes, v.objective, v.value, v.passed,
       v.regimes, r.experiment_id, r.status, r.error, r.metrics
FROM robust_evaluations v
JOIN model_results r ON r.id = v.result_id
WHERE v.study_name = %(study_name)s
ORDER BY v.candidate_id, v.kind, v.eval_key;
