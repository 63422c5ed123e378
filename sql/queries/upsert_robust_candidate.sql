-- A candidate whose neighbourhood is planned, with its size (the same every time: it follows from
-- the study's space and the trial's values).
INSERT INTO robust_candidates (candidate_id, study_name, n_neighbours)
VALUES (%(candidate_id)s, %(study_name)s, %(n_neighbours)s)
ON CONFLICT (candidate_id) DO UPDATE SET n_neighbours = EXCLUDED.n_neighbours;
