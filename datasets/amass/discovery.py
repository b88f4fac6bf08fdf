"""Find the motion files of an AMASS archive and describe them from their headers alone.

Layout (docs/formats.md 4.1): ``<root>/<SubDataset>/<Subject>/<sequence>.npz``, or with one extra folder level
``<root>/<SubDataset>/<extra>/<Subject>/<sequence>.npz`` as some archives unpack. Per-subject shape files
(``shape.npz`` of the SMPL+H release, ``<gender>_stagei.npz`` of the SMPL-X release) hold no motion and
are skipped; files at any other depth are not part of the layout and are not listed.

An ``.npz`` is a zip of ``.npy`` members, so the manifest reads the ``poses`` member's header (its shape)
and the few scalar members (gender, frame rate, model type) without decompressing the motion arrays. A file
whose header cannot be read is still listed, with the error in ``header_error``, and so is an entry named
like a motion file that is not read (a pipe, device, directory, a dangling or looping link, or a link
leaving the archive: ``datasets.source_entries.entry_problem``, never opened): every discovered entry is
either converted or rejected later, never dropped. Links to regular files inside the archive are followed.

    >>> subset_split("MPI_HDM05", UPLIFT_UPSAMPLE_VALIDATION_SUBSETS)
    'validation'
"""

from __future__ import annotations

import fnmatch
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from datasets.amass.body_model import POSE_WIDTHS
from datasets.amass.config import UPLIFT_UPSAMPLE_VALIDATION_SUBSETS, AmassConfig
from datasets.errors import reraise_if_environment
from datasets.safe_npz import NPY_SUFFIX, read_member_array
from datasets.source_entries import entry_problem, open_regular

SHAPE_FILE_NAME = "shape.npz"
"""Per-subject body shape of the SMPL+H release: no motion (docs/formats.md 4.1)."""

SHAPE_FILE_SUFFIX = "_stagei.npz"
"""``<gender>_stagei.npz``: per-subject shape of the SMPL-X release (motion files end ``_stageii.npz``)."""

FRAME_RATE_KEYS = ("mocap_framerate", "mocap_frame_rate")
"""SMPL+H files spell the rate ``mocap_framerate``, SMPL-X files ``mocap_frame_rate`` (docs/formats.md 4.2, 4.3)."""

MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string()),  # absolute path
        pa.field("relative_path", pa.string()),  # posix path below the archive root
        pa.field("subset", pa.string()),  # sub-dataset folder, e.g. "CMU"
        pa.field("subject", pa.string()),
        pa.field("sequence", pa.string()),  # file stem, e.g. "01_01_poses"
        pa.field("frames", pa.int64()),  # rows of ``poses``; 0 when unreadable
        pa.field("fps", pa.float64()),  # the file's frame rate, Hz; NaN when missing
        pa.field("gender", pa.string()),  # decoded, as stored (not validated here)
        pa.field("model_type", pa.string()),  # "smplh", "smplx" or "unknown" (by the width of ``poses``)
        pa.field("size_bytes", pa.int64()),
        pa.field("split", pa.string()),  # "train" or "validation"
        pa.field("header_error", pa.string()),  # "" when the header was read
    ]
)
"""Columns of the discovery manifest (one row per motion file, sorted by ``relative_path``)."""


@dataclass(frozen=True)
class AmassFile:
    """One motion file to convert: where it is and what it belongs to (picklable, plain values).

    Attributes:
        path: The file.
        relative_path: Posix path below the archive root (stable across machines; seeds random cameras).
        subset: Sub-dataset, e.g. ``"CMU"``.
        subject: Subject folder name.
        sequence: File stem.
        split: ``"train"`` or ``"validation"``.
    """

    path: Path
    relative_path: str
    subset: str
    subject: str
    sequence: str
    split: str


@dataclass(frozen=True)
class NpzHeader:
    """What a motion file's header says.

    Attributes:
        frames: Rows of ``poses`` (0 when unknown).
        pose_width: Columns of ``poses`` (0 when unknown).
        fps: Frame rate, Hz (NaN when missing or unreadable).
        gender: Decoded gender text ("" when missing).
        model_type: ``"smplh"``, ``"smplx"`` or ``"unknown"``.
        error: Why the header could not be read ("" when it was).
    """

    frames: int = 0
    pose_width: int = 0
    fps: float = math.nan
    gender: str = ""
    model_type: str = "unknown"
    error: str = ""


def _normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def subset_split(subset: str, validation_subsets: tuple[str, ...] = UPLIFT_UPSAMPLE_VALIDATION_SUBSETS) -> str:
    """``"validation"`` for the validation sub-datasets, else ``"train"``.

    Names match ignoring case and non-alphanumerics. Sub-datasets absent from both of uplift-upsample's
    lists (renamed or newer ones) train, as every AMASS sub-dataset but the validation ones does there.
    """
    wanted = {_normalised(name) for name in validation_subsets}
    return "validation" if _normalised(subset) in wanted else "train"


def decode_text(value: np.ndarray | bytes | str) -> str:
    """A stored string (numpy unicode or bytes scalar, ``b'male'``) as stripped ``str``."""
    item = value.item() if isinstance(value, np.ndarray) else value
    if isinstance(item, bytes):
        item = item.decode("utf-8", errors="replace")
    return str(item).strip()


def model_type_for_width(width: int) -> str:
    """``"smplh"`` for 156 pose columns, ``"smplx"`` for 165, else ``"unknown"``."""
    return next((model for model, size in POSE_WIDTHS.items() if size == width), "unknown")


def _member_shape(archive: zipfile.ZipFile, name: str) -> tuple[int, ...]:
    with archive.open(name) as member:
        version = np.lib.format.read_magic(member)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, _ = reader(member)
    return tuple(shape)


def _member_value(archive: zipfile.ZipFile, name: str) -> np.ndarray:
    """A small member (frame rate, gender), its size checked from its headers before it is inflated."""
    key = name.removesuffix(NPY_SUFFIX)
    return read_member_array(archive, key, key)


def read_header(path: Path) -> NpzHeader:
    """Read a motion file's header without loading its motion arrays; never raises for a bad file.

    Args:
        path: An AMASS ``.npz``.

    Returns:
        The header; ``error`` says what went wrong for an unreadable file.
    """
    try:
        with open_regular(path) as handle, zipfile.ZipFile(handle) as archive:
            members = {name.removesuffix(".npy"): name for name in archive.namelist()}
            shape = _member_shape(archive, members["poses"]) if "poses" in members else ()
            rate_key = next((members[k] for k in FRAME_RATE_KEYS if k in members), None)
            fps = float(_member_value(archive, rate_key)) if rate_key else math.nan
            gender = decode_text(_member_value(archive, members["gender"])) if "gender" in members else ""
    except Exception as error:  # bad zip, zlib.error, malformed npy header...: reported, never raised
        reraise_if_environment(error)
        return NpzHeader(error=f"{type(error).__name__}: {error}")
    frames = shape[0] if len(shape) == 2 else 0
    width = shape[1] if len(shape) == 2 else 0
    return NpzHeader(frames=frames, pose_width=width, fps=fps, gender=gender, model_type=model_type_for_width(width))


def _layout(relative: Path) -> tuple[str, str] | None:
    """(subset, subject) of an archive-relative path in the AMASS layout, else None."""
    parts = relative.parts
    if len(parts) not in (3, 4) or relative.name == SHAPE_FILE_NAME or relative.name.endswith(SHAPE_FILE_SUFFIX):
        return None
    return parts[0], parts[-2]


def _selected(relative_path: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    if include and not any(fnmatch.fnmatchcase(relative_path, pattern) for pattern in include):
        return False
    return not any(fnmatch.fnmatchcase(relative_path, pattern) for pattern in exclude)


def discover_amass(
    root: Path,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    validation_subsets: tuple[str, ...] = UPLIFT_UPSAMPLE_VALIDATION_SUBSETS,
) -> pa.Table:
    """List an archive's motion files with their header facts.

    Args:
        root: Archive root.
        include: Glob patterns (``fnmatch``, ``*`` also crosses ``/``) on the relative path; when non-empty,
            only matching files are listed.
        exclude: Glob patterns of relative paths to leave out.
        validation_subsets: Sub-datasets forming the validation split.

    Returns:
        A table with ``MANIFEST_SCHEMA``, sorted by ``relative_path``.

    Raises:
        FileNotFoundError: If ``root`` is not a directory.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"AMASS root {root} is not a directory (expected <root>/<SubDataset>/<Subject>/*.npz)")
    rows = []
    for path in sorted(root.rglob("*.npz"), key=lambda p: p.relative_to(root).as_posix()):
        relative = path.relative_to(root)
        layout = _layout(relative)
        if layout is None or not _selected(relative.as_posix(), include, exclude):
            continue
        problem = entry_problem(path, root)
        header = NpzHeader(error=problem) if problem else read_header(path)
        subset, subject = layout
        rows.append({
            "path": str(path.absolute() if problem else path.resolve()), "relative_path": relative.as_posix(),
            "subset": subset, "subject": subject, "sequence": path.stem, "frames": header.frames, "fps": header.fps,
            "gender": header.gender, "model_type": header.model_type,
            "size_bytes": 0 if problem else path.stat().st_size, "split": subset_split(subset, validation_subsets),
            "header_error": header.error,
        })  # fmt: skip
    return pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA)


def discover(config: AmassConfig) -> pa.Table:
    """``discover_amass`` with the archive root and selection of ``config``."""
    return discover_amass(config.amass_root, config.include, config.exclude, config.validation_subsets)


def manifest_files(manifest: pa.Table) -> list[AmassFile]:
    """The manifest's rows as ``AmassFile`` work items, in manifest order."""
    columns = ("path", "relative_path", "subset", "subject", "sequence", "split")
    return [
        AmassFile(Path(row["path"]), row["relative_path"], row["subset"], row["subject"], row["sequence"], row["split"])
        for row in manifest.select(list(columns)).to_pylist()
    ]
