-- CPU-seconds a run took (its process's user + system time, XGBoost's threads included), beside
-- its wall time: on a shared machine the two differ, and pruning saves CPU, not only wall time.
ALTER TABLE model_results ADD COLUMN cpu_s DOUBLE PRECISION;
