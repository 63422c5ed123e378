"""PostgreSQL: the embedded server, connections, migrations, the registry, and Optuna's tables."""
