"""Where bytes live: local paths and object-storage URLs behind one small interface.

A *location* is either a ``pathlib.Path`` (local disk, exactly as before object storage existed) or an
``ObjectPath`` for an fsspec URL such as ``s3://bucket/prefix``. ``ObjectPath`` supports the part of
``pathlib.Path`` that workspaces and stores use (``/``, ``name``, ``parent``, ``exists``, ``read_bytes``,
``write_text``, ``open``, ``glob``, ...), so most code handles both kinds alike; what paths cannot express
lives here as functions: ``write_atomically``, ``create_exclusively``, ``remove_tree``, Parquet I/O and
``icechunk_storage``.

Credentials and endpoints come from the usual environment, read at each call (so Dask workers use their
own): ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION`` or
``AWS_DEFAULT_REGION``, and ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` for S3-compatible servers
(MinIO, Ceph, moto). With a custom endpoint, requests use path-style addressing, and plain ``http://`` is
allowed. See ``docs/versioning.md``, "Workspaces on object storage".

Example::

    >>> from datasets.storage import as_location
    >>> as_location("s3://poses/lab") / "registry" / "v.json"
    ObjectPath('s3://poses/lab/registry/v.json')
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import fsspec

from datasets.source_entries import open_regular

if TYPE_CHECKING:  # pyarrow is imported where used: the command line imports this module for --help
    import pyarrow as pa

URL_PATTERN = re.compile(r"^(?P<protocol>[A-Za-z][A-Za-z0-9+.-]+)://(?P<path>.*)$")
COLLAPSED_URL_PATTERN = re.compile(r"^(?P<protocol>[A-Za-z][A-Za-z0-9+.-]+):/(?P<path>[^/].*)$")
"""A URL that went through ``pathlib.Path``, which folds ``//`` into ``/`` (``s3:/bucket/prefix``)."""
LOCAL_PROTOCOLS = ("file", "local")
S3_PROTOCOLS = ("s3", "s3a")
GCS_PROTOCOLS = ("gs", "gcs")
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
"""Endpoint overrides for S3-compatible servers, the service-specific one first (as the AWS SDKs do)."""
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")


@dataclass(frozen=True)
class ObjectPath:
    """A file or prefix in object storage, addressed like a path.

    Attributes:
        protocol: fsspec protocol, e.g. ``"s3"``.
        path: ``bucket/key`` without leading or trailing slashes.
    """

    protocol: str
    path: str

    def __str__(self) -> str:
        return f"{self.protocol}://{self.path}"

    def __repr__(self) -> str:
        return f"ObjectPath({str(self)!r})"

    def __truediv__(self, part: str | os.PathLike) -> ObjectPath:
        relative = str(part).strip("/")
        return ObjectPath(self.protocol, f"{self.path}/{relative}" if relative else self.path)

    def joinpath(self, *parts: str | os.PathLike) -> ObjectPath:
        """``self / part / ...``."""
        location = self
        for part in parts:
            location = location / part
        return location

    @property
    def name(self) -> str:
        """The last path component."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> ObjectPath:
        """The enclosing prefix (a bucket is its own parent)."""
        return ObjectPath(self.protocol, self.path.rsplit("/", 1)[0]) if "/" in self.path else self

    @property
    def filesystem(self) -> Any:
        """The fsspec filesystem of this protocol, configured from the environment."""
        return object_filesystem(self.protocol)

    def exists(self) -> bool:
        """Whether a file or a non-empty prefix is here."""
        return bool(self.filesystem.exists(self.path))

    def is_file(self) -> bool:
        """Whether a file (object) is here."""
        return bool(self.filesystem.isfile(self.path))

    def is_dir(self) -> bool:
        """Whether objects exist under this prefix."""
        return bool(self.filesystem.isdir(self.path))

    def read_bytes(self) -> bytes:
        """The file's bytes (one GET)."""
        return self.filesystem.cat_file(self.path)

    def read_text(self, encoding: str = "utf-8") -> str:
        """The file's text."""
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> int:
        """Replace the file with ``data`` in one PUT: readers see the old object or the new one, never a part."""
        self.filesystem.pipe_file(self.path, data)
        return len(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        """Replace the file with ``text`` (one PUT)."""
        return self.write_bytes(text.encode(encoding))

    def open(self, mode: str = "rb", **kwargs: Any) -> IO:
        """A file object (reads are buffered ranged GETs; a written file appears when closed)."""
        return self.filesystem.open(self.path, mode, **kwargs)

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: object storage has no directories, a prefix exists once an object is under it."""

    def glob(self, pattern: str) -> Iterator[ObjectPath]:
        """Files under this prefix matching ``pattern`` (fsspec glob syntax)."""
        for path in sorted(self.filesystem.glob(f"{self.path}/{pattern}")):
            yield ObjectPath(self.protocol, path.strip("/"))

    def iterdir(self) -> Iterator[ObjectPath]:
        """Direct children of this prefix (none when it holds nothing)."""
        try:
            entries = self.filesystem.ls(self.path, detail=False)
        except FileNotFoundError:
            return
        for path in sorted(entries):
            yield ObjectPath(self.protocol, path.strip("/"))

    def relative_to(self, root: ObjectPath) -> str:
        """This location as a ``/``-separated path below ``root``.

        Raises:
            ValueError: when it is not below ``root``.
        """
        if self.protocol != root.protocol or not self.path.startswith(root.path + "/"):
            raise ValueError(f"{self} is not inside {root}.")
        return self.path[len(root.path) + 1 :]


Location = Path | ObjectPath
"""Where something is stored: a local path or an object-storage path."""


def as_location(value: str | os.PathLike | ObjectPath) -> Location:
    """A local path or an ``ObjectPath`` from a path, URL or location.

    ``file://`` URLs become local paths. A URL folded by ``pathlib.Path`` (``s3:/bucket``) is recognised
    when its protocol is one fsspec knows, so command-line options typed as paths still reach the bucket.
    """
    if isinstance(value, ObjectPath):
        return value
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    match = URL_PATTERN.match(text) or COLLAPSED_URL_PATTERN.match(text)
    if match is None or (match.re is COLLAPSED_URL_PATTERN and match["protocol"] not in known_protocols()):
        return Path(value)
    protocol = match["protocol"].lower()
    if protocol in LOCAL_PROTOCOLS:
        return Path("/" + match["path"].lstrip("/"))
    path = match["path"].strip("/")
    if not path:
        raise ValueError(f"Location {text!r} names no bucket: write {protocol}://BUCKET[/PREFIX].")
    return ObjectPath(protocol, path)


def known_protocols() -> frozenset[str]:
    """Protocols fsspec can open (installed or not)."""
    return frozenset(fsspec.available_protocols())


def is_remote(location: Location) -> bool:
    """Whether ``location`` is in object storage."""
    return isinstance(location, ObjectPath)


def environment_value(names: tuple[str, ...]) -> str | None:
    """The first non-empty environment variable of ``names``."""
    return next((os.environ[name] for name in names if os.environ.get(name)), None)


def object_filesystem(protocol: str) -> Any:
    """An fsspec filesystem for ``protocol``, with S3 endpoint and region from the environment.

    Listings are never cached, so a manifest another process published is seen at once.
    """
    options: dict[str, Any] = {"use_listings_cache": False}
    if protocol in S3_PROTOCOLS:
        endpoint, region = environment_value(ENDPOINT_VARIABLES), environment_value(REGION_VARIABLES)
        client = {key: value for key, value in (("endpoint_url", endpoint), ("region_name", region)) if value}
        if client:
            options["client_kwargs"] = client
        if endpoint:
            options["config_kwargs"] = {"s3": {"addressing_style": "path"}}
    return fsspec.filesystem(protocol, **options)


def write_atomically(location: Location, write: Callable[[IO[bytes]], None]) -> None:
    """Create or replace a file so that readers never see it half-written.

    Local: written to a hidden file beside it, then renamed into place. Object storage: written into memory,
    then sent in one PUT (an object appears whole or not at all).

    Args:
        location: The file.
        write: Writes the content into the binary file object it is given.
    """
    if isinstance(location, ObjectPath):
        buffer = io.BytesIO()
        write(buffer)
        location.write_bytes(buffer.getvalue())
        return
    location.parent.mkdir(parents=True, exist_ok=True)
    temporary = location.with_name(f".{location.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as handle:
            write(handle)
        os.replace(temporary, location)
    finally:
        temporary.unlink(missing_ok=True)


def create_exclusively(location: Location, data: bytes) -> bool:
    """Create a file only if nothing is there yet; True when this call created it.

    Local: the content is written aside and hard-linked to its name (``link`` fails when the name exists).
    S3: a conditional PUT (``If-None-Match: *``): of two racing writers exactly one succeeds. Other fsspec
    backends do what their ``pipe_file(mode="create")`` does (for some, check-then-write).
    """
    if isinstance(location, ObjectPath):
        try:
            location.filesystem.pipe_file(location.path, data, mode="create")
        except FileExistsError:
            return False
        return True
    location.parent.mkdir(parents=True, exist_ok=True)
    temporary = location.with_name(f".{location.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_bytes(data)
    try:
        os.link(temporary, location)
    except FileExistsError:
        return False
    finally:
        temporary.unlink()
    return True


def remove_tree(location: Location) -> None:
    """Delete a directory (or prefix) and everything under it; nothing there is not an error."""
    if isinstance(location, ObjectPath):
        with contextlib.suppress(FileNotFoundError):
            location.filesystem.rm(location.path, recursive=True)
        return
    shutil.rmtree(location, ignore_errors=True)


def read_parquet(location: Location) -> pa.Table:
    """A Parquet table from a local file or an object (read in one GET: index tables are small)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(location, ObjectPath):
        return pq.read_table(pa.BufferReader(location.read_bytes()))
    return pq.read_table(location)


def write_parquet(location: Location, table: pa.Table, **options: Any) -> None:
    """Write ``table`` as Parquet (options as for ``pyarrow.parquet.write_table``), atomically."""
    import pyarrow.parquet as pq

    write_atomically(location, lambda handle: pq.write_table(table, handle, **options))


def icechunk_storage(location: Location) -> Any:
    """The ``icechunk.Storage`` of a repository at ``location`` (its ``arrays.icechunk`` directory).

    Supports local paths, ``s3://`` (AWS and S3-compatible servers, see the module docstring) and ``gs://``.
    Credentials are resolved from the environment by Icechunk itself (``from_env``), in every process that
    opens the repository, so none travel inside pickled sessions.

    Raises:
        ValueError: for a protocol Icechunk cannot store repositories in.
    """
    import icechunk

    if isinstance(location, Path):
        return icechunk.local_filesystem_storage(str(location))
    bucket, _, prefix = location.path.partition("/")
    if location.protocol in S3_PROTOCOLS:
        endpoint = environment_value(ENDPOINT_VARIABLES)
        return icechunk.s3_storage(
            bucket=bucket,
            prefix=prefix,
            region=environment_value(REGION_VARIABLES),
            endpoint_url=endpoint,
            allow_http=bool(endpoint and endpoint.startswith("http://")),
            force_path_style=endpoint is not None,
            from_env=True,
        )
    if location.protocol in GCS_PROTOCOLS:
        return icechunk.gcs_storage(bucket=bucket, prefix=prefix, from_env=True)
    raise ValueError(
        f"Pose stores cannot live at {location}: Icechunk repositories need a local path, s3:// (AWS or an "
        f"S3-compatible server) or gs://; got protocol {location.protocol!r}."
    )


def relative_path(location: Location, root: Location) -> str:
    """``location`` relative to ``root`` as a ``/``-separated string (how manifests record outputs).

    Raises:
        ValueError: when ``location`` is not inside ``root`` or they are of different kinds.
    """
    if isinstance(location, ObjectPath) and isinstance(root, ObjectPath):
        return location.relative_to(root)
    if isinstance(location, Path) and isinstance(root, Path):
        return str(location.resolve().relative_to(root.resolve()))
    raise ValueError(f"{location} is not inside {root}: one is local, the other in object storage.")


FILE_HASH_BLOCK_BYTES = 1 << 20


def file_sha256(path: str | os.PathLike | ObjectPath) -> str:
    """SHA-256 of a file's bytes (local or in object storage).

    Raises:
        NotARegularFileError: A local ``path`` is a pipe, device or directory (``datasets.source_entries``):
            refused without blocking or reading, since ``/dev/zero`` or a FIFO would never end.
    """
    digest = hashlib.sha256()
    location = as_location(path)
    with location.open("rb") if isinstance(location, ObjectPath) else open_regular(location) as handle:
        while block := handle.read(FILE_HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()
