"""Model files in Optuna's artifact store, so any host can load any registered model.

Each model (the ``.ubj`` file and its metadata ``.json``) is written locally as before
(``model_results.model_path``) and uploaded to an artifact store through Optuna's own store
classes:

- default: a ``FileSystemArtifactStore`` under ``.sweep/artifacts`` (``SWEEP_HOME``);
- ``SWEEP_ARTIFACTS=/shared/path``: a ``FileSystemArtifactStore`` there (a directory every host
  mounts, e.g. over NFS);
- ``SWEEP_ARTIFACTS=s3://bucket/prefix``: a ``Boto3ArtifactStore`` (``pip install 'sweep[s3]'``;
  credentials, region and ``AWS_ENDPOINT_URL`` as boto3 reads them), objects under ``prefix/``.

The registry row records where the files went (``model_results.artifacts``: the store's location
and the two artifact ids), and a study trial's Optuna trial links them as ``upload_artifact``
does, so ``optuna.artifacts.get_all_artifact_meta`` and optuna-dashboard list them.
"""

from __future__ import annotations

import functools
import io
import mimetypes
import os
import uuid
from contextlib import closing, suppress
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from optuna.artifacts import ArtifactMeta, FileSystemArtifactStore

from sweep.core.errors import ConfigError, RegistryError
from sweep.store.db import sweep_home

__all__ = [
    "ENV_ARTIFACTS",
    "ArtifactStore",
    "UploadedModel",
    "artifact_location",
    "check_store",
    "download_model",
    "open_store",
    "upload_model",
]

ENV_ARTIFACTS = "SWEEP_ARTIFACTS"


class ArtifactStore(Protocol):
    """Optuna's artifact store protocol (``optuna.artifacts._protocol.ArtifactStore``)."""

    def open_reader(self, artifact_id: str) -> BinaryIO: ...

    def write(self, artifact_id: str, content_body: BinaryIO) -> None: ...

    def remove(self, artifact_id: str) -> None: ...


def artifact_location() -> str:
    """``SWEEP_ARTIFACTS`` (an ``s3://bucket/prefix`` URL or a directory, made absolute), or
    ``.sweep/artifacts``."""
    raw = os.environ.get(ENV_ARTIFACTS, "").strip()
    if not raw:
        return str(sweep_home() / "artifacts")
    if "://" in raw:
        scheme = raw.split("://", 1)[0].lower()
        if scheme != "s3":
            raise ConfigError(
                f"unknown artifact store scheme {scheme}://",
                key=ENV_ARTIFACTS,
                value=raw,
                hint="use s3://bucket/prefix, or a directory every host mounts",
            )
        bucket = raw[len("s3://") :].split("/", 1)[0]
        if not bucket:
            raise ConfigError(
                "names no bucket",
                key=ENV_ARTIFACTS,
                value=raw,
                hint="write it as s3://bucket/prefix",
            )
        return raw.rstrip("/")
    path = Path(raw).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ConfigError(
            "is not a directory",
            key=ENV_ARTIFACTS,
            value=raw,
            hint="name a directory every host mounts, or unset it for .sweep/artifacts",
        )
    if not path.exists() and not path.parent.is_dir():
        # Only the last part is created: a share that is not mounted (or a typo in its path)
        # must not quietly keep this host's models on this host.
        raise ConfigError(
            f"cannot create the artifact directory: {path.parent} is not a directory",
            key=ENV_ARTIFACTS,
            value=raw,
            hint="mount the shared directory or create its parent; sweep creates only the last "
            "part of the path",
        )
    return str(path)


@functools.cache
def open_store(location: str) -> ArtifactStore:
    """The store at ``location`` (as :func:`artifact_location` gives it), opened once per
    process."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://") :].partition("/")
        try:
            import boto3
            from optuna.artifacts import Boto3ArtifactStore
        except ImportError as e:
            raise ConfigError(
                "an s3:// artifact store needs boto3",
                key=ENV_ARTIFACTS,
                value=location,
                hint="pip install 'sweep[s3]'",
            ) from e
        inner = Boto3ArtifactStore(bucket, client=boto3.client("s3"))
        return _Prefixed(inner, prefix.strip("/") + "/") if prefix.strip("/") else inner
    path = Path(location)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"cannot create the artifact directory: {e.strerror}",
            key=ENV_ARTIFACTS,
            value=location,
            hint="name a directory this machine can write, or unset it for .sweep/artifacts",
        ) from e
    return FileSystemArtifactStore(path)


class _Prefixed:
    """A store whose objects live under a key prefix (``s3://bucket/prefix``): Optuna's
    ``Boto3ArtifactStore`` uses the artifact id as the whole key, and the id itself must stay a
    bare id (optuna-dashboard puts it in URLs)."""

    def __init__(self, inner: ArtifactStore, prefix: str) -> None:
        self.inner, self.prefix = inner, prefix

    def open_reader(self, artifact_id: str) -> BinaryIO:
        return self.inner.open_reader(self.prefix + artifact_id)

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        self.inner.write(self.prefix + artifact_id, content_body)

    def remove(self, artifact_id: str) -> None:
        self.inner.remove(self.prefix + artifact_id)


def check_store(location: str) -> None:
    """Write, read back and remove a probe, so a store that is unreachable, read-only or
    misconfigured fails before trial 0 with one line."""
    store = open_store(location)
    probe = f"sweep-probe-{uuid.uuid4()}"
    try:
        store.write(probe, io.BytesIO(b"sweep"))
        with closing(store.open_reader(probe)) as r:
            ok = r.read() == b"sweep"
        store.remove(probe)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RegistryError(
            f"cannot write to the artifact store {location}: {first}",
            hint=f"check {ENV_ARTIFACTS} and the store's credentials",
        ) from e
    if not ok:
        raise RegistryError(f"the artifact store {location} returned other bytes than written")


class UploadedModel:
    """Where a model's two files went: the store's location and their Optuna artifact metas."""

    def __init__(self, location: str, model: ArtifactMeta, metadata: ArtifactMeta) -> None:
        self.location, self.model, self.metadata = location, model, metadata

    def to_json(self) -> dict[str, Any]:
        """What ``model_results.artifacts`` holds."""
        return {
            "store": self.location,
            "model": self.model.artifact_id,
            "model_file": self.model.filename,
            "metadata": self.metadata.artifact_id,
            "metadata_file": self.metadata.filename,
        }

    @property
    def metas(self) -> list[ArtifactMeta]:
        return [self.model, self.metadata]

    def remove(self) -> None:
        """Take the files back out of the store (their registry row was not written)."""
        store = open_store(self.location)
        for m in self.metas:
            with suppress(Exception):  # a leftover object costs bytes, not correctness
                store.remove(m.artifact_id)


def upload_model(model_path: Path, location: str | None = None) -> UploadedModel:
    """Upload a model file and its metadata ``.json`` (the files ``sweep.core.model.save_model``
    writes) to the artifact store; ids and metas as ``optuna.artifacts.upload_artifact`` makes
    them."""
    location = location or artifact_location()
    store = open_store(location)
    metas = []
    for path in (model_path, model_path.with_suffix(".json")):
        mimetype, encoding = mimetypes.guess_type(path.name)
        meta = ArtifactMeta(
            artifact_id=str(uuid.uuid4()),
            filename=path.name,
            mimetype=mimetype or "application/octet-stream",
            encoding=encoding,
        )
        with path.open("rb") as f:
            store.write(meta.artifact_id, f)
        metas.append(meta)
    return UploadedModel(location, metas[0], metas[1])


def download_model(artifacts: dict[str, Any], directory: Path) -> Path:
    """Fetch a registered model's two files from the store recorded with it into
    ``directory``; return the model file's path."""
    location = str(artifacts["store"])
    if not location.startswith("s3://") and not Path(location).is_dir():
        raise ConfigError(
            "the model's artifact store is a directory this machine does not have",
            key="model_results.artifacts",
            value=location,
            hint=f"use a store every host reaches ({ENV_ARTIFACTS}=s3://bucket/prefix, or a "
            "shared mount) when training",
        )
    store = open_store(location)
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / str(artifacts["model_file"])
    for key, name in (("model", "model_file"), ("metadata", "metadata_file")):
        target = directory / str(artifacts[name])
        tmp = target.with_name(target.name + f".{uuid.uuid4().hex}.part")
        try:
            with closing(store.open_reader(str(artifacts[key]))) as r, tmp.open("wb") as w:
                while chunk := r.read(1 << 20):
                    w.write(chunk)
            tmp.replace(target)
        except Exception as e:
            tmp.unlink(missing_ok=True)
            if isinstance(e, ConfigError):
                raise
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise RegistryError(
                f"cannot download {artifacts[name]} from the artifact store {location}: {first}",
                hint=f"check {ENV_ARTIFACTS}'s credentials on this machine",
            ) from e
    return out
