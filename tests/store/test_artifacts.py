"""Models in Optuna's artifact store: trained on one host, loaded on another.

S3 is a real S3 API server (moto's, started here on a free port on 127.0.0.1) reached through
boto3 and Optuna's ``Boto3ArtifactStore``; the "hosts" are subprocesses with their own working
directory and SWEEP_HOME, sharing nothing but the database and the store.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_YAML, StudyDir, optuna_trials, run_cli, sql, tiny_space

BUCKET = "sweep-models"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """A moto S3 server with one bucket; the environment that points boto3 at it."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }
    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield env
    finally:
        server.stop()


def objects(env: dict[str, str]) -> list[str]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def nothing_in(url: str, table: str) -> bool:
    """The table is empty, or was never created."""
    (row,) = sql(url, "SELECT to_regclass(%s) IS NOT NULL AS exists", (table,))
    return not row["exists"] or sql(url, f"SELECT count(*) AS n FROM {table}") == [{"n": 0}]


LOAD = """
import json, sys
import sweep
m = sweep.load_model(sys.argv[1])
cfg = sweep.load_config(m.config.model_dump(mode="json"))
bars = sweep.load_bars(cfg)
p = sweep.predict(m, bars).dropna().tail(5)
print(json.dumps({"path": str(m.path), "features": m.feature_names, "proba": p.tolist()}))
"""


def load_on(home: Path, env: dict[str, str], experiment_id: str) -> dict[str, Any]:
    # the test database, never an embedded server of the host's own
    assert (env.get("SWEEP_DATABASE_URL") or os.environ.get("SWEEP_DATABASE_URL")) is not None
    p = subprocess.run(
        [sys.executable, "-c", LOAD, experiment_id],
        cwd=home,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    return dict(json.loads(p.stdout))


def second_host(study_dir: StudyDir, name: str, env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    home = study_dir.path / name
    (home / "data").mkdir(parents=True)
    shutil.copy(study_dir.path / "data" / "BTC_USDT-1h.csv.gz", home / "data")
    return home, {**study_dir.env, **env, "SWEEP_HOME": str(home / ".sweep")}


def test_a_model_trained_on_one_host_loads_on_another_from_s3(
    study_dir: StudyDir, s3: dict[str, str]
) -> None:
    import optuna

    from sweep.store.artifacts import open_store
    from sweep.store.db import sqlalchemy_url

    name = "tiny-s3"
    env = {**s3, "SWEEP_ARTIFACTS": f"s3://{BUCKET}/models/"}
    study_dir.write("space.yaml", tiny_space(name))
    p = study_dir.sweep(
        "run", "space.yaml", "--trials", "3", "--jobs", "1", "--no-progress", env=env
    )
    assert p.returncode == 0, p.stderr
    rows = sql(
        study_dir.url,
        "SELECT r.experiment_id, r.model_path, r.artifacts FROM model_results r "
        "JOIN experiments e USING (experiment_id) WHERE e.study_name = %s AND r.status = 'ok' "
        "ORDER BY e.trial_number",
        (name,),
    )
    assert rows
    keys = objects(s3)
    for r in rows:
        a = r["artifacts"]
        assert a["store"] == f"s3://{BUCKET}/models"
        assert f"models/{a['model']}" in keys and f"models/{a['metadata']}" in keys
        assert a["model_file"] == Path(r["model_path"]).name
    assert not any(k.startswith("models/sweep-probe") for k in keys), "the probe is removed"

    # Optuna's own API lists and downloads them (what the dashboard shows)
    storage = optuna.storages.RDBStorage(sqlalchemy_url(study_dir.url))
    trial = optuna_trials(study_dir.url, name)[0]
    metas = optuna.artifacts.get_all_artifact_meta(trial, storage=storage)
    assert sorted(m.filename.rsplit(".", 1)[1] for m in metas) == ["json", "ubj"]
    os.environ.update(s3)  # this process's boto3 too
    try:
        target = study_dir.path / "downloaded.ubj"
        ubj = next(m for m in metas if m.filename.endswith(".ubj"))
        optuna.artifacts.download_artifact(
            artifact_store=open_store(f"s3://{BUCKET}/models"),
            artifact_id=ubj.artifact_id,
            file_path=str(target),
        )
    finally:
        for k in s3:
            os.environ.pop(k, None)
    storage.engine.dispose()
    eid = rows[0]["experiment_id"]
    assert target.read_bytes() == Path(rows[0]["model_path"]).read_bytes()

    here = load_on(study_dir.path, {**study_dir.env, **env}, eid)
    assert here["path"] == rows[0]["model_path"]  # the training host reads its own file
    # another host: the training host's files are not on its disk (here they would be, at the
    # same absolute path, so they are moved out of the way)
    (study_dir.path / ".sweep" / "models").rename(study_dir.path / "models-of-host-a")
    home, env_b = second_host(study_dir, "host-b", env)
    there = load_on(home, env_b, eid)
    assert there["path"].startswith(str(home / ".sweep" / "artifact-cache" / eid))
    assert there["features"] == here["features"]
    assert there["proba"] == here["proba"]
    again = load_on(home, env_b, eid)  # from the cache the second time
    assert again["path"] == there["path"]


def test_the_default_store_is_a_directory_another_checkout_on_the_same_disk_reads(
    workdir: Path,
) -> None:
    p = run_cli("run", str(SEED_YAML), "--quiet", cwd=workdir)
    assert p.returncode == 0, p.stderr
    (row,) = sql(
        os.environ["SWEEP_DATABASE_URL"],
        "SELECT experiment_id, model_path, artifacts FROM model_results",
    )
    store = workdir / ".sweep" / "artifacts"
    assert row["artifacts"]["store"] == str(store)
    assert sorted(f.name for f in store.iterdir()) == sorted(
        [row["artifacts"]["model"], row["artifacts"]["metadata"]]
    )
    shutil.rmtree(workdir / ".sweep" / "models")  # the training host's own copy is gone
    other = workdir / "elsewhere"
    other.mkdir()
    (other / "data").symlink_to(workdir / "data")
    got = load_on(other, {"SWEEP_HOME": str(other / ".sweep")}, row["experiment_id"])
    assert got["path"].startswith(str(other / ".sweep" / "artifact-cache"))
    assert len(got["proba"]) == 5


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("ftp://host/models", "SWEEP_ARTIFACTS: unknown artifact store scheme ftp://"),
        ("s3://", "SWEEP_ARTIFACTS: names no bucket (got 's3://')"),
        ("/proc/sweep-artifacts", "SWEEP_ARTIFACTS: cannot create the artifact directory"),
    ],
)
def test_a_bad_artifact_store_is_refused_before_anything_is_written(
    workdir: Path, value: str, needle: str
) -> None:
    p = run_cli("run", str(SEED_YAML), cwd=workdir, env={"SWEEP_ARTIFACTS": value})
    assert p.returncode == 2, p.stderr
    (line,) = p.stderr.strip().splitlines()
    assert line.startswith("error: " + needle), line
    assert nothing_in(os.environ["SWEEP_DATABASE_URL"], "experiments")


def test_an_unreachable_bucket_is_refused_before_trial_0(
    study_dir: StudyDir, s3: dict[str, str]
) -> None:
    study_dir.write("space.yaml", tiny_space("tiny-nobucket"))
    env = {**s3, "SWEEP_ARTIFACTS": "s3://no-such-bucket/models"}
    p = study_dir.sweep("run", "space.yaml", "--trials", "2", "--no-progress", env=env)
    assert p.returncode == 2, p.stderr
    (line,) = p.stderr.strip().splitlines()
    assert line.startswith("error: cannot write to the artifact store s3://no-such-bucket/models")
    assert "NoSuchBucket" in line or "does not exist" in line
    assert nothing_in(study_dir.url, "sweep_studies")
