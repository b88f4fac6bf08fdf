"""Where versions live and how to find them: the workspace registry.

A workspace is a directory (``--workspace DIR``, else ``$MOCAPLIFT_WORKSPACE``, else ``./workspace``)::

    workspace/
        registry/<version id>.json        one manifest per published version: the only thing readers trust
        versions/<version id>/<attempt>/  the outputs of the run that published it (stores, tables, checkpoints)

A version exists once its manifest is in ``registry/``. Outputs are written first into a fresh attempt
directory, then the manifest is published with an atomic exclusive link, so a run killed at any point
leaves at most an unreferenced attempt directory and never a half-visible version; two runs of the same
version race only on that link, and the loser reuses the winner's version. How versions are derived from
inputs, config and code lives in ``pipelines.versioning``; this module only reads and publishes manifests
so that ``datasets.store.open_store`` can resolve references without importing the orchestration layer.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

WORKSPACE_ENVIRONMENT_VARIABLE = "MOCAPLIFT_WORKSPACE"
DEFAULT_WORKSPACE = Path("workspace")
REGISTRY_DIRECTORY = "registry"
VERSIONS_DIRECTORY = "versions"


def resolve_workspace(path: str | Path | None = None) -> Path:
    """The workspace root: ``path`` if given, else ``$MOCAPLIFT_WORKSPACE``, else ``./workspace``."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get(WORKSPACE_ENVIRONMENT_VARIABLE, DEFAULT_WORKSPACE))


class VersionNotFoundError(LookupError):
    """A reference that names no version, or more than one."""


@dataclass(frozen=True)
class Manifest:
    """Everything recorded about one version of one stage's output.

    Attributes:
        id: Version id, ``<stage>-<12 hex digits>`` derived from stage, parents, inputs, config and code.
        stage: Stage name, e.g. ``"preprocess-amass"``, ``"pretrain"``.
        parents: Ids of the versions this one was computed from.
        config: The resolved stage configuration (JSON).
        inputs: Fingerprint of external inputs (source files) that are not versions themselves.
        code: ``{"fingerprint", "commit", "dirty"}``: the package source hash and the git state.
        packages: Versions of the libraries that shaped the output.
        started: ISO-8601 UTC time the run started.
        finished: ISO-8601 UTC time it was published.
        wall_time_s: Run time in seconds.
        counts: e.g. ``{"views": 8, "frames": 1664, "accepted": 4, "rejected": 1}``.
        outputs: name -> ``{"path": relative to the workspace, "kind": "store"|"file"|"directory",
            "sha256": ..., ...}``.
        summary: Markdown summary of the run, as printed.
    """

    id: str
    stage: str
    parents: tuple[str, ...]
    config: Mapping[str, Any]
    inputs: Mapping[str, Any]
    code: Mapping[str, Any]
    packages: Mapping[str, str]
    started: str
    finished: str
    wall_time_s: float
    counts: Mapping[str, int]
    outputs: Mapping[str, Mapping[str, Any]]
    summary: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (``parents`` as a list)."""
        data = asdict(self)
        data["parents"] = list(self.parents)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Inverse of ``to_dict``."""
        return cls(**{**data, "parents": tuple(data["parents"])})


class Workspace:
    """The registry of published versions under one workspace root."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = resolve_workspace(root)

    @property
    def registry(self) -> Path:
        """Directory of published manifests."""
        return self.root / REGISTRY_DIRECTORY

    def manifests(self, stage: str | None = None) -> list[Manifest]:
        """Published versions, oldest first, optionally of one stage."""
        if not self.registry.is_dir():
            return []
        manifests = [
            Manifest.from_dict(json.loads(path.read_text()))
            for path in self.registry.glob("*.json")
            if not path.name.startswith(".")
        ]
        manifests.sort(key=lambda manifest: (manifest.finished, manifest.id))
        return [manifest for manifest in manifests if stage is None or manifest.stage == stage]

    def get(self, version_id: str) -> Manifest | None:
        """The manifest of exactly this version id, or None."""
        path = self.registry / f"{version_id}.json"
        return Manifest.from_dict(json.loads(path.read_text())) if path.is_file() else None

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

    def output_path(self, manifest: Manifest, name: str) -> Path:
        """Absolute path of one named output of a version."""
        if name not in manifest.outputs:
            raise KeyError(f"Version {manifest.id} has no output {name!r}; it has {sorted(manifest.outputs)}.")
        return self.root / manifest.outputs[name]["path"]

    def new_attempt_directory(self, version_id: str) -> Path:
        """A fresh, empty directory for one run's outputs, never shared with another run."""
        directory = self.root / VERSIONS_DIRECTORY / version_id / f"attempt-{uuid.uuid4().hex[:12]}"
        directory.mkdir(parents=True)
        return directory

    def publish(self, manifest: Manifest) -> Manifest:
        """Make a version visible, atomically; if another run published it first, return theirs.

        The manifest is written to a temporary file and hard-linked to its final name: ``link`` fails if the
        name exists, so exactly one run wins, and readers never see a partly written manifest.
        """
        self.registry.mkdir(parents=True, exist_ok=True)
        final = self.registry / f"{manifest.id}.json"
        temporary = self.registry / f".{manifest.id}.{uuid.uuid4().hex}.tmp"
        temporary.write_text(json.dumps(manifest.to_dict(), indent=2, sort_keys=True, default=str))
        try:
            os.link(temporary, final)
        except FileExistsError:
            winner = self.get(manifest.id)
            assert winner is not None
            return winner
        finally:
            temporary.unlink()
        return manifest

    def relative(self, path: Path) -> str:
        """``path`` relative to the workspace root, as stored in manifests."""
        return str(Path(path).resolve().relative_to(self.root.resolve()))
