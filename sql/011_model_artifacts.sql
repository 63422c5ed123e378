-- Where a run's model files went in the artifact store (sweep.store.artifacts): the store's
-- location and the two artifact ids, so any host can load the model, not only the one that
-- trained it. NULL for runs without a model and for runs older than artifacts.
ALTER TABLE model_results ADD COLUMN artifacts JSONB;
