"""The pure experiment: config models, data, features, targets, split, model, backtest, metrics,
gate and statistics. Frames and arrays in, values out: no database, no Optuna, no CLI."""
