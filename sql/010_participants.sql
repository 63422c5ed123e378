-- Every process taking part in a study (a `sweep run` or a `sweep worker`, on any host), with a
-- heartbeat of its own: a study is marked interrupted or timed_out only when the last live
-- participant leaves, so one host leaving never mislabels a study the others still run.
CREATE TABLE sweep_participants (
    id          BIGSERIAL PRIMARY KEY,
    study_name  TEXT NOT NULL REFERENCES sweep_studies (study_name) ON DELETE CASCADE,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    command     TEXT NOT NULL CHECK (command IN ('run', 'worker')),
    jobs        INTEGER NOT NULL CHECK (jobs >= 1),
    joined_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat   TIMESTAMPTZ NOT NULL DEFAULT now(),
    left_at     TIMESTAMPTZ,
    status      TEXT NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'completed', 'interrupted', 'timed_out', 'failed'))
);
CREATE INDEX sweep_participants_live_idx ON sweep_participants (study_name) WHERE left_at IS NULL;
