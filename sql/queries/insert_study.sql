-- A study's metadata; a second process joining the same study keeps the first row, with the
-- budget of the latest run (`--trials` as it was asked for, not the largest ever asked).
INSERT INTO sweep_studies (study_name, space, space_hash, objectives, directions, sampler, seed,
                           pruner, constraints, verdict_gate, count_trials, n_trials_target,
                           data_fingerprint, code_version)
VALUES (%(study_name)s, %(space)s, %(space_hash)s, %(objectives)s, %(directions)s, %(sampler)s,
        %(seed)s, %(pruner)s, %(constraints)s, %(verdict_gate)s, %(count_trials)s,
        %(n_trials_target)s, %(data_fingerprint)s,
        %(code_version)s)
ON CONFLICT (study_name) DO UPDATE
SET n_trials_target = EXCLUDED.n_trials_target,
    status = 'running', ended_at = NULL
WHERE sweep_studies.space_hash = EXCLUDED.space_hash;
