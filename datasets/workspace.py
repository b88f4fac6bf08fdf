"""Where versions live and how to find them: the workspace registry.

A workspace is a directory or an object-storage prefix (``--workspace DIR`` or ``--workspace
s3://bucket/prefix``, else ``$MOCAPLIFT_WORKSPACE``, else ``./workspace``)::

    workspace/
        registry/<version id>.json        one manifest per published version: the only thing readers trust
        versions/<version id>/<attempt>/  the outputs of the run that published it (stores, tables, checkpoints)

A version exists once its manifest is in ``registry/``. Outputs are written first into a fresh attempt
directory, then the manifest is published with an atomic exclusive create (a hard link on disk, a
conditional PUT on S3: ``datasets.storage.create_exclusively``), so a run killed at any point leaves at most
an unreferenced attempt directory and never a half-visible version; two runs of the same version race only
on that create, and the loser reuses the winner's version. Paths inside manifests are relative to the
workspace root, so a workspace can be copied between a disk and a bucket. How versions are derived from
inputs, config and code lives in ``pipelines.lineage.versioning``; this module only reads and publishes manifests
so that ``datasets.store.open_store`` can resolve references without importing the orchestration layer.
What a manifest holds, and how its file is read without trusting it, is ``datasets.manifest``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from pathlib import Path, PurePosixPath

from datasets.manifest import (
    VERSIONS_DIRECTORY,
    Manifest,
    ManifestError,
    UnreadableManifest,
    parse_manifest,
)
from datasets.storage import (
    Location,
    ObjectPath,
    as_location,
    create_exclusively,
    is_remote,
    relative_path,
    remove_tree,
)
from datasets.work_lock import is_held, newest_change_age_s, unless_held

WORKSPACE_ENVIRONMENT_VARIABLE = "MOCAPLIFT_WORKSPACE"
DEFAULT_WORKSPACE = Path("workspace")
REGISTRY_DIRECTORY = "registry"
WORK_CACHE_DIRECTORY = "cache"
"""Per-version work in progress (conversion fragments, training scratch), kept until the version is published."""
CACHE_ENVIRONMENT_VARIABLE = "MOCAPLIFT_CACHE"
DEFAULT_CACHE = Path("~/.cache/mocaplift")
"""Local scratch of workspaces in object storage (``Workspace.local_directory``) and of per-user records."""
CACHE_NAME_DIGITS = 16


def resolve_workspace(path: str | os.PathLike | ObjectPath | None = None) -> Location:
    """The workspace root: ``path`` if given, else ``$MOCAPLIFT_WORKSPACE``, else ``./workspace``.

    Returns a ``Path`` for a directory and an ``ObjectPath`` for a URL such as ``s3://bucket/prefix``.
    """
    if path is not None:
        return as_location(path)
    return as_location(os.environ.get(WORKSPACE_ENVIRONMENT_VARIABLE) or DEFAULT_WORKSPACE)


class VersionNotFoundError(LookupError):
    """A reference that names no version, or more than one."""


def user_cache_directory() -> Path:
    """This user's local cache: ``$MOCAPLIFT_CACHE``, default ``~/.cache/mocaplift`` (not created)."""
    return Path(os.environ.get(CACHE_ENVIRONMENT_VARIABLE) or DEFAULT_CACHE).expanduser()


class Workspace:
    """The registry of published versions under one workspace root (a directory or an object-storage prefix).

    Attributes:
        root: ``Path`` of a local workspace, ``ObjectPath`` of one in object storage.
    """

    def __init__(self, root: str | os.PathLike | ObjectPath | None = None) -> None:
        self.root: Location = resolve_workspace(root)
        if isinstance(self.root, Path) and self.root.exists() and not self.root.is_dir():
            raise ValueError(
                f"workspace {self.root} is a file, not a directory: pass --workspace DIR (or set "
                f"${WORKSPACE_ENVIRONMENT_VARIABLE}) naming a directory, new or holding versions"
            )

    @property
    def registry(self) -> Location:
        """Directory of published manifests."""
        return self.root / REGISTRY_DIRECTORY

    def scan(self, stage: str | None = None) -> tuple[list[Manifest], list[UnreadableManifest]]:
        """Published versions, oldest first (optionally of one stage), and every manifest file that is unreadable.

        One broken manifest never hides the others: it is returned, with its path and the reason, beside
        the versions that read (its stage is unknown, so it is returned whatever ``stage`` is).
        """
        if not is_remote(self.registry) and not self.registry.is_dir():
            return [], []
        paths = sorted((path for path in self.registry.glob("*.json") if not path.name.startswith(".")), key=str)
        manifests, unreadable = [], []
        for path, content in zip(paths, _read_contents(paths), strict=True):
            try:
                manifests.append(parse_manifest(content, path))
            except ManifestError as error:
                unreadable.append(UnreadableManifest(path, str(error)))
        manifests.sort(key=lambda manifest: (manifest.finished, manifest.id))
        return [manifest for manifest in manifests if stage is None or manifest.stage == stage], unreadable

    def manifests(self, stage: str | None = None) -> list[Manifest]:
        """Published versions, oldest first, optionally of one stage; unreadable manifests are left out (``scan``)."""
        return self.scan(stage)[0]

    def get(self, version_id: str) -> Manifest | None:
        """The manifest of exactly this version id, or None.

        Raises:
            ManifestError: its file exists but is not a valid manifest (naming the file and why).
        """
        path = self.registry / f"{version_id}.json"
        try:
            content: bytes | OSError = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:  # a directory, no permission
            content = error
        return parse_manifest(content, path)

    def resolve(self, reference: str) -> Manifest:
        """A version by id, by unique id prefix, or by stage name (its newest version).

        Raises:
            VersionNotFoundError: naming the workspace and what it holds, when nothing or several match.
        """
        exact = self.get(reference)
        if exact is not None:
            return exact
        manifests = self.manifests()
        of_stage = [manifest for manifest in manifests if manifest.stage == reference]
        if of_stage:
            return of_stage[-1]
        prefixed = [manifest for manifest in manifests if manifest.id.startswith(reference)]
        if len(prefixed) == 1:
            return prefixed[0]
        if len(prefixed) > 1:
            raise VersionNotFoundError(
                f"{reference!r} matches several versions in {self.root}: "
                + ", ".join(manifest.id for manifest in prefixed)
                + ". Give more of the id."
            )
        stages = sorted({manifest.stage for manifest in manifests})
        raise VersionNotFoundError(
            f"No version {reference!r} in workspace {self.root} "
            + (f"(stages there: {', '.join(stages)}). " if stages else "(it holds no versions yet). ")
            + "List them with `python flows.py versions`; choose the workspace with --workspace DIR or "
            f"${WORKSPACE_ENVIRONMENT_VARIABLE}."
        )

    def output_path(self, manifest: Manifest, name: str) -> Location:
        """Location of one named output of a version (absolute path, or URL in object storage).

        Outputs lie inside their version's directory ``versions/<id>``: a recorded path that is absolute,
        climbs out with ``..``, names another directory, or leads out through a symbolic link is refused, so
        an edited manifest cannot make a command read (or ``verify`` hash) a file elsewhere.

        Raises:
            KeyError: no such output.
            ManifestError: the recorded path leads outside ``versions/<id>``.
        """
        if name not in manifest.outputs:
            raise KeyError(f"Version {manifest.id} has no output {name!r}; it has {sorted(manifest.outputs)}.")
        recorded = str(manifest.outputs[name].get("path"))
        directory = self.root / VERSIONS_DIRECTORY / manifest.id
        parts = PurePosixPath(recorded).parts
        location = self.root / recorded
        inside = parts[:2] == (VERSIONS_DIRECTORY, manifest.id) and ".." not in parts and "\\" not in recorded
        if inside and isinstance(location, Path):
            inside = location.resolve().is_relative_to(Path(directory).resolve())  # no link leads out
        if not inside:
            raise ManifestError(
                f"version {manifest.id}: output {name!r} records the path {recorded!r}, outside the version's "
                f"directory {VERSIONS_DIRECTORY}/{manifest.id}: refused; the manifest "
                f"{REGISTRY_DIRECTORY}/{manifest.id}.json was edited or damaged (restore it from a copy)"
            )
        return location

    def new_attempt_directory(self, version_id: str) -> Location:
        """A fresh, empty directory (or prefix) for one run's outputs, never shared with another run."""
        directory = self.root / VERSIONS_DIRECTORY / version_id / f"attempt-{uuid.uuid4().hex[:12]}"
        directory.mkdir(parents=True)
        return directory

    def publish(self, manifest: Manifest) -> Manifest:
        """Make a version visible, atomically; if another run published it first, return theirs.

        The manifest is created only if its name is free (``datasets.storage.create_exclusively``: a hard
        link on disk, a conditional PUT on S3), so exactly one run wins, and readers never see a partly
        written manifest.
        """
        final = self.registry / f"{manifest.id}.json"
        text = json.dumps(manifest.to_dict(), indent=2, sort_keys=True, default=str)
        if create_exclusively(final, text.encode()):
            return manifest
        winner = self.get(manifest.id)
        if winner is None:
            raise RuntimeError(f"{final} exists but could not be read back; is the workspace being deleted?")
        return winner

    def relative(self, path: str | os.PathLike | ObjectPath) -> str:
        """``path`` relative to the workspace root, as stored in manifests."""
        return relative_path(as_location(path), self.root)

    def local_directory(self, *parts: str) -> Path:
        """A local directory for files that must be on this machine's disk (e.g. generated demo sources).

        For a local workspace it is ``<root>/<parts>``; for one in object storage it is under
        ``$MOCAPLIFT_CACHE`` (default ``~/.cache/mocaplift``), in a folder named after the workspace URL.
        The directory is not created.
        """
        if isinstance(self.root, Path):
            return self.root.joinpath(*parts)
        cache = user_cache_directory()
        name = hashlib.sha256(str(self.root).encode()).hexdigest()[:CACHE_NAME_DIGITS]
        return cache.joinpath(name, *parts)

    def unreferenced(self, older_than_s: float) -> list[Location]:
        """Leftovers no manifest names: attempt directories of failed or losing runs, and work caches.

        An attempt (``versions/<id>/attempt-*``) or work cache (``cache/<id>``) is a leftover when version
        ``<id>`` is published and the manifest names another attempt (the run lost the race or crashed
        before the winner published), or when ``<id>`` is unpublished and nothing under the directory changed
        for ``older_than_s`` (its newest file, not the folder's own time: a training writes deep inside).
        A version whose work a live process holds (``datasets.work_lock``: a running stage) has no leftovers.
        Ages and holds are known on local disk only: in object storage, unpublished versions' leftovers are
        listed only when ``older_than_s`` is 0. Nothing of a version whose manifest is unreadable is listed:
        which attempt it names is unknown until it is repaired.

        Args:
            older_than_s: Minimum age in seconds of leftovers of unpublished versions.

        Returns:
            The directories to delete (nothing is deleted here; ``remove_leftover`` does).
        """
        manifests, unreadable = self.scan()
        published = {manifest.id: manifest for manifest in manifests}
        unknown = {entry.version for entry in unreadable}
        referenced = {
            "/".join(str(output["path"]).split("/")[:3])
            for manifest in published.values()
            for output in manifest.outputs.values()
        }
        now = time.time()

        def old_enough(location: Location) -> bool:
            if older_than_s <= 0:
                return True
            return isinstance(location, Path) and newest_change_age_s(location, now) >= older_than_s

        leftovers: list[Location] = []
        versions = self.root / VERSIONS_DIRECTORY
        for version in sorted(versions.iterdir(), key=str) if versions.is_dir() else []:
            if self._held(version.name):
                continue
            for attempt in sorted(version.iterdir(), key=str):
                if version.name in unknown or f"{VERSIONS_DIRECTORY}/{version.name}/{attempt.name}" in referenced:
                    continue
                if version.name in published or old_enough(attempt):
                    leftovers.append(attempt)
        cache = self.root / WORK_CACHE_DIRECTORY
        for entry in sorted(cache.iterdir(), key=str) if cache.is_dir() else []:
            if entry.name in unknown or self._held(entry.name):
                continue
            if entry.name in published or old_enough(entry):
                leftovers.append(entry)
        return leftovers

    def work_directory(self, version: str) -> Path:
        """``cache/<version>``: the version's work in progress, which its running stage holds (``work_lock``)."""
        return self.local_directory(WORK_CACHE_DIRECTORY, version)

    def _held(self, version: str) -> bool:
        return isinstance(self.root, Path) and is_held(self.work_directory(version))

    def remove_leftover(self, location: Location) -> bool:
        """Delete one of ``unreferenced``'s leftovers unless a stage started holding its version meanwhile.

        Returns:
            Whether it was deleted (False: a live process holds it now; it stays).
        """
        if not isinstance(location, Path):
            remove_tree(location)
            return True
        version = location.name if location.parent.name == WORK_CACHE_DIRECTORY else location.parent.name
        with unless_held(self.work_directory(version)) as free:
            if free:
                remove_tree(location)
            return free


def _read_contents(paths: list[Location]) -> list[bytes | OSError]:
    """The bytes of each file, or the error reading it; objects in one filesystem are fetched concurrently."""
    remote = [path for path in paths if isinstance(path, ObjectPath)]
    fetched: dict[str, bytes] = {}
    if remote:
        contents = remote[0].filesystem.cat([path.path for path in remote])
        fetched = {key.strip("/"): value for key, value in contents.items()}  # keys as ObjectPath.path spells them

    def read(path: Location) -> bytes | OSError:
        if isinstance(path, ObjectPath):
            return fetched[path.path]
        try:
            return path.read_bytes()
        except OSError as error:  # a directory named *.json, no permission
            return error

    return [read(path) for path in paths]
