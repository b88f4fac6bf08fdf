"""``read_keypoints``: any supported detector file -> one person's filled Human3.6M-17 keypoints.

Formats (``KEYPOINT_FORMATS``; each reader's module docstring documents its fields and units, and
``docs/keypoint-formats.md`` shows them side by side): ``coco``, ``mmpose``, ``alphapose``, ``openpose``,
``videopose3d``, ``array``. Without ``format`` it is detected from the file (``detect_format``).

Usage::

    from datasets.keypoints import read_keypoints
    detected = read_keypoints(Path("alphapose-results.json"), min_score=0.3)
    detected.keypoints.shape, detected.person, detected.fps_source   # (412, 17, 3), "1", "default"
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from datasets.errors import reraise_if_environment
from datasets.keypoints.alphapose import is_alphapose, read_alphapose
from datasets.keypoints.array import read_array
from datasets.keypoints.coco import is_coco, read_coco
from datasets.keypoints.detected import DetectedKeypoints
from datasets.keypoints.errors import KeypointFileError
from datasets.keypoints.json_input import load_json
from datasets.keypoints.mmpose import is_mmpose, read_mmpose
from datasets.keypoints.openpose import OPENPOSE_SUFFIX, is_openpose, read_openpose
from datasets.keypoints.tracks import RawDetections, assemble
from datasets.keypoints.videopose3d import read_videopose3d
from datasets.safe_npz import npz_member_names
from datasets.videopose3d import POSITIONS_2D_KEY

JSON_SUFFIX = ".json"
ARRAY_SUFFIXES = (".npy", ".npz")
INPUT_SUFFIXES = (JSON_SUFFIX, *ARRAY_SUFFIXES)
"""Suffixes of the files ``discover_keypoint_inputs`` takes from a folder."""

_Reader = Callable[[Path, str | None, Any], RawDetections]
_READERS: MappingProxyType[str, _Reader] = MappingProxyType(
    {
        "coco": lambda path, order, data: read_coco(path, order, data),
        "mmpose": lambda path, order, data: read_mmpose(path, order, data),
        "alphapose": lambda path, order, data: read_alphapose(path, order, data),
        "openpose": lambda path, order, data: read_openpose(path, order),
        "videopose3d": lambda path, order, data: read_videopose3d(path, order),
        "array": lambda path, order, data: read_array(path, order),
    }
)
KEYPOINT_FORMATS: tuple[str, ...] = tuple(_READERS)
"""Format names ``read_keypoints`` accepts (``--format``'s choices)."""

_JSON_FORMATS: tuple[tuple[str, Callable[[Any], bool]], ...] = (
    ("openpose", is_openpose),
    ("mmpose", is_mmpose),
    ("alphapose", is_alphapose),  # before COCO: AlphaPose entries are COCO results plus ``idx``
    ("coco", is_coco),
)


def _detect(path: Path, data: Any) -> str:
    """The format of ``path`` (``data``: its parsed JSON, for JSON files)."""
    if path.is_dir():
        if any(p.name.endswith(OPENPOSE_SUFFIX) for p in path.iterdir()):
            return "openpose"
        raise KeypointFileError(path, f"is a folder without OpenPose *{OPENPOSE_SUFFIX} files")
    suffix = path.suffix.lower()
    if suffix == ".npz" and POSITIONS_2D_KEY in npz_member_names(path):
        return "videopose3d"
    if suffix in ARRAY_SUFFIXES:
        return "array"
    if suffix == JSON_SUFFIX:
        for name, matches in _JSON_FORMATS:
            if matches(data):
                return name
        raise KeypointFileError(path, "is JSON in none of the keypoint formats (coco, mmpose, alphapose, openpose)")
    raise KeypointFileError(
        path, f"has suffix {path.suffix!r}; keypoint files are {', '.join(INPUT_SUFFIXES)} or an OpenPose folder"
    )


def detect_format(path: Path) -> str:
    """The format of ``path`` (a file or an OpenPose folder) from its suffix and content.

    Raises:
        KeypointFileError: The file is in none of ``KEYPOINT_FORMATS``.
    """
    path = Path(path)
    return _detect(path, load_json(path) if path.suffix.lower() == JSON_SUFFIX and path.is_file() else None)


def discover_keypoint_inputs(path: Path) -> list[Path]:
    """The clips under ``path``, one ``read_keypoints`` input each.

    A file -> ``[file]``; an OpenPose folder -> ``[folder]`` (one clip); any other folder -> its files of
    ``INPUT_SUFFIXES`` and its OpenPose sub-folders, sorted by name.
    """
    path = Path(path)
    if not path.is_dir():
        return [path]
    entries = sorted(path.iterdir())
    if any(p.name.endswith(OPENPOSE_SUFFIX) for p in entries):
        return [path]
    return [
        p
        for p in entries
        if (p.is_file() and p.suffix.lower() in INPUT_SUFFIXES)
        or (p.is_dir() and any(q.name.endswith(OPENPOSE_SUFFIX) for q in p.iterdir()))
    ]


def read_keypoints(
    path: Path,
    *,
    format: str | None = None,
    joint_order: str | None = None,
    person: str | None = None,
    min_score: float = 0.3,
    fps: float | None = None,
    image_size: tuple[int, int] | None = None,
) -> DetectedKeypoints:
    """Read one person's 2D keypoints from a detector file, mapped to Human3.6M-17 and filled over gaps.

    Args:
        path: The file (an OpenPose folder for ``openpose``).
        format: One of ``KEYPOINT_FORMATS``; None detects it from the file.
        joint_order: ``h36m17``, ``coco17``, ``halpe26`` or ``openpose25``, for files that do not name their
            joints and whose format does not fix the order (plain arrays).
        person: Track id to lift; None lifts the longest track.
        min_score: Joints scored below this are filled by interpolation and marked unobserved.
        fps: Frame rate when the file states none (a file's own rate that differs is an error).
        image_size: (width, height) in pixels when the file states none (likewise).

    Returns:
        ``DetectedKeypoints`` (T, 17, 3) with the observed mask, frame numbers, fps and their sources.

    Raises:
        KeypointFileError: One line naming the file and why it cannot be lifted.
    """
    path = Path(path)
    if not path.exists():
        raise KeypointFileError(path, "does not exist")
    if format is not None and format not in _READERS:
        raise KeypointFileError(path, f"format {format!r} is not one of {', '.join(KEYPOINT_FORMATS)}")
    try:
        data = load_json(path) if path.is_file() and path.suffix.lower() == JSON_SUFFIX else None
        chosen = format or _detect(path, data)
        raw = _READERS[chosen](path, joint_order, data)
    except KeypointFileError:
        raise
    except (ValueError, KeyError, TypeError, OSError) as error:  # malformed content the readers did not foresee
        reraise_if_environment(error)
        raise KeypointFileError(path, f"cannot be read ({type(error).__name__}: {error})") from error
    return assemble(raw, path, chosen, person=person, min_score=min_score, fps=fps, image_size=image_size)
