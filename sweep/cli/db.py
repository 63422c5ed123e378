"""`sweep db`: the registry database's URL, schema version, migrations and server."""

from __future__ import annotations

import argparse
import os
import sys

from sweep.cli.tables import EXIT_FAILED, EXIT_OK


def db(args: argparse.Namespace) -> int:
    from sweep.store.db import ENV_URL, EmbeddedServer, database_url, masked, sweep_home

    if args.action == "stop":
        if os.environ.get(ENV_URL):
            print(f"{ENV_URL} is set; sweep does not manage that server", file=sys.stderr)
            return EXIT_FAILED
        stopped = EmbeddedServer(sweep_home() / "pgdata").stop()
        print("stopped" if stopped else "not running")
        return EXIT_OK
    url = database_url()
    if args.action == "url":
        print(url)
        return EXIT_OK
    from sweep.store.registry import migrations, open_registry, schema_version, upgrade

    conn = open_registry(url) if args.action == "status" else None
    if args.action == "upgrade":
        from sweep.store.db import connect

        conn = connect(url, autocommit=True)
        applied = upgrade(conn)
        print(f"applied: {', '.join(applied)}" if applied else "schema is up to date")
    assert conn is not None
    version = schema_version(conn)
    conn.close()
    if args.action == "status":
        latest = migrations()[-1][0]
        print(f"database: {masked(url)}\nschema version: {version} (latest {latest})")
    return EXIT_OK
