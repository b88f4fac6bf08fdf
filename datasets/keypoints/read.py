"""``read_keypoints``: any supported detector file -> one person's filled Human3.6M-17 keypoints.

Formats (``KEYPOINT_FORMATS``; each reader's docstring documents its fields and units, and
``docs/keypoint-formats.md`` all of them side by side): ``coco``, ``mmpose``, ``alphapose``, ``openpose``,
``videopose3d``, ``array``. Without ``format`` the format is detected from the file (``detect_format``).

    >>> from datasets.keypoints import read_keypoints  # doctest: +SKIP
    >>> detected = read_keypoints(Path("run.json"), min_score=0.3)  # doctest: +SKIP
    >>> detected.keypoints.shape, detected.person, detected.fps_source  # doctest: +SKIP
    ((412, 17, 3), '1', 'default')
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

from datasets.keypoints.array import read_array
from datasets.keypoints.detected import DetectedKeypoints
from datasets.keypoints.errors import KeypointFileError
from datasets.keypoints.tracks import RawDetections, assemble

ARRAY_SUFFIXES = (".npy", ".npz")

_READERS: MappingProxyType[str, Callable[[Path, str | None], RawDetections]] = MappingProxyType(
    {
        "array": lambda path, joint_order: read_array(path, joint_order),
    }
)
KEYPOINT_FORMATS: tuple[str, ...] = tuple(_READERS)
"""Format names ``read_keypoints`` accepts (``--format``'s choices)."""


def detect_format(path: Path) -> str:
    """The format of ``path`` from its suffix and content.

    Raises:
        KeypointFileError: The file is in none of ``KEYPOINT_FORMATS``.
    """
    if path.suffix.lower() in ARRAY_SUFFIXES:
        return "array"
    raise KeypointFileError(path, f"is not a keypoint file of a known format ({', '.join(KEYPOINT_FORMATS)})")


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
        joint_order: ``h36m17``, ``coco17``, ``halpe26`` or ``openpose25``, for plain arrays without joint names.
        person: Track id to lift; None lifts the longest track.
        min_score: Joints scored below this are filled by interpolation and marked unobserved.
        fps: Frame rate when the file states none (a file's own rate that differs is an error).
        image_size: (width, height) in pixels when the file states none (likewise).

    Returns:
        ``DetectedKeypoints`` (T, 17, 3) with the observed mask, frame numbers, fps and its source.

    Raises:
        KeypointFileError: One line naming the file and why it cannot be lifted.
    """
    path = Path(path)
    if not path.exists():
        raise KeypointFileError(path, "does not exist")
    chosen = format or detect_format(path)
    if chosen not in _READERS:
        raise KeypointFileError(path, f"format {chosen!r} is not one of {', '.join(KEYPOINT_FORMATS)}")
    raw = _READERS[chosen](path, joint_order)
    return assemble(raw, path, chosen, person=person, min_score=min_score, fps=fps, image_size=image_size)
