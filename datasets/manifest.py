"""A version's manifest: what it records, and reading one from its file without trusting it.

``Manifest`` is everything recorded about one published version (``datasets.workspace`` stores one per
version in ``registry/<id>.json``). ``parse_manifest`` turns a file's bytes into one, or raises
``ManifestError`` naming the file and what is wrong (empty, truncated, not JSON, fields missing or of the
wrong type), so that one damaged file is reported as such (``UnreadableManifest``) and never stops a
command that lists or checks every version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from datasets.storage import Location

VERSIONS_DIRECTORY = "versions"
"""The workspace folder of version outputs, ``versions/<id>/<attempt>/``."""


class ManifestError(ValueError):
    """A manifest that cannot be trusted as written: unreadable, malformed, or naming a path outside its version."""


MANIFEST_FIELDS = {"id": str, "stage": str, "parents": list, "config": dict, "inputs": dict, "code": dict,
                   "packages": dict, "started": str, "finished": str, "wall_time_s": (int, float), "counts": dict,
                   "outputs": dict}  # fmt: skip
"""The fields every manifest holds, and their JSON types (``summary``, ``metadata``, ``parent_content`` are
optional)."""


@dataclass(frozen=True)
class UnreadableManifest:
    """A file in ``registry/`` that is not a valid manifest (truncated, empty, not JSON, fields missing).

    Attributes:
        path: The file.
        reason: Why it cannot be read, in words.
    """

    path: Location
    reason: str

    @property
    def version(self) -> str:
        """The version id its file name gives."""
        return self.path.name.removesuffix(".json")


@dataclass(frozen=True)
class Manifest:
    """Everything recorded about one version of one stage's output.

    Attributes:
        id: Version id, ``<stage>-<12 hex digits>`` derived from stage, parents' content, inputs, config and code.
        stage: Stage name, e.g. ``"preprocess-amass"``, ``"pretrain"``.
        parents: Ids of the versions this one was computed from.
        parent_content: For each parent (same order), ``{output name: checksums}`` of the outputs read: the
            version id depends on these, not on the parents' ids (early cutoff).
        config: The resolved stage configuration (JSON).
        inputs: Fingerprint of external inputs (source files) that are not versions themselves.
        code: ``{"fingerprint", "version", "sources", "commit", "dirty"}``: the stage's code identity (see
            ``pipelines.lineage.code_identity``), the digest of each source it counts, and the git state.
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
    parent_content: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (``parents`` as a list)."""
        data = asdict(self)
        data["parents"] = list(self.parents)
        data["parent_content"] = list(self.parent_content)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Inverse of ``to_dict``."""
        return cls(
            **{**data, "parents": tuple(data["parents"]), "parent_content": tuple(data.get("parent_content", ()))}
        )


def parse_manifest(content: bytes | OSError, path: Location) -> Manifest:
    """A manifest from its file's bytes (or the error reading it), else ``ManifestError`` naming ``path`` and why."""

    def refuse(reason: str) -> ManifestError:
        return ManifestError(
            f"manifest {path} is unreadable: {reason}; restore it from a copy, or delete it and "
            f"{VERSIONS_DIRECTORY}/{path.name.removesuffix('.json')}/ and rerun the stage that made it"
        )

    if isinstance(content, OSError):
        raise refuse(f"it cannot be read ({content.strerror or content})")
    if not content.strip():
        raise refuse("the file is empty")
    try:
        data = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise refuse(f"not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise refuse(f"a JSON {type(data).__name__}, not an object")
    missing = sorted(set(MANIFEST_FIELDS) - set(data))
    if missing:
        raise refuse(f"fields missing: {', '.join(missing)}")
    unknown = sorted(set(data) - {item.name for item in fields(Manifest)})
    if unknown:
        raise refuse(f"unknown fields: {', '.join(unknown)}")
    for key, kind in MANIFEST_FIELDS.items():
        if not isinstance(data[key], kind) or isinstance(data[key], bool):
            raise refuse(f"field {key!r} is a {type(data[key]).__name__}")
    if not all(isinstance(parent, str) for parent in data["parents"]):
        raise refuse("field 'parents' holds something other than version ids")
    if not all(isinstance(recorded, dict) for recorded in data.get("parent_content", [])):
        raise refuse("field 'parent_content' holds something other than objects")
    if not all(isinstance(output, dict) and isinstance(output.get("path"), str) for output in data["outputs"].values()):
        raise refuse("an output records no path")
    return Manifest.from_dict(data)
