-- A study's candidates whose neighbourhood was planned, with its size.
SELECT candidate_id, n_neighbours FROM robust_candidates WHERE study_name = %(study_name)s;
