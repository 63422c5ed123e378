-- Each run's test-period returns, compounded to UTC calendar days, so every study-level
-- statistic (deflated Sharpe, PBO) can be recomputed later from the database alone.
CREATE TABLE result_returns (
    result_id INTEGER PRIMARY KEY REFERENCES model_results (id) ON DELETE CASCADE,
    first_day DATE NOT NULL,
    n_days    INTEGER NOT NULL CHECK (n_days > 0),
    encoding  TEXT NOT NULL,
    data      BYTEA NOT NULL
);
