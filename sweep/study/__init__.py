"""Studies: spaces, samplers and pruners, the engine and its workers, the mirror, summaries,
export and the sealed holdout. Also the single-run orchestration (:mod:`sweep.study.runner`)."""
