"""From a reader's raw detections to one person's filled Human3.6M-17 track (``DetectedKeypoints``).

Every format reader returns ``RawDetections``: per person id, the frames it was seen in and its keypoints in
the file's own joint order. ``assemble`` then does what detector output needs, the same way for every format:

1. **Person.** ``person`` picks a track id; None picks the longest track (most frames; ties: the smallest id).
   Files without person ids (``tracked=False``) hold one track; where such a file has several people in a
   frame, the reader keeps the highest-scoring one (the rule of VideoPose3D's ``prepare_data_2d_custom.py``,
   which keeps the best box per frame).
2. **Mapping** to Human3.6M-17 by joint names (``joint_mapping``); a derived joint's score is the minimum
   of its parts'.
3. **Filling.** Frames run from the track's first to its last frame; frames where the person is missing and
   joints scored below ``min_score`` are filled by linear interpolation over time, edges held (the first
   and last observed value repeat outwards), and marked False in ``observed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from datasets.keypoints.detected import DEFAULT_FPS, DetectedKeypoints
from datasets.keypoints.errors import KeypointFileError
from datasets.keypoints.joint_mapping import H36M17, map_to_h36m17

_Value = TypeVar("_Value", float, tuple[int, int])


@dataclass(frozen=True)
class RawDetections:
    """A detector file as read, before choosing a person, mapping and filling.

    Attributes:
        joint_names: The file's J joint names (its own order).
        order: The ``joint_mapping.H36M17_FROM`` key the names satisfy.
        tracks: Person id (None for a single-person or untracked file) -> (frames (N,) int64 sorted unique,
            keypoints (N, J, 3) float32: x, y pixels, score; NaN where a joint is absent).
        tracked: Whether the ids come from the file (False: ``tracks`` has the one key None).
        fps: Frame rate the file states, or None.
        image_size: (width, height) in pixels the file states, or None.
    """

    joint_names: tuple[str, ...]
    order: str
    tracks: Mapping[str | None, tuple[np.ndarray, np.ndarray]]
    tracked: bool
    fps: float | None = None
    image_size: tuple[int, int] | None = None


def with_scores(array: np.ndarray) -> np.ndarray:
    """(T, J, 3) float32 from (T, J, 2) x, y (score 1 where finite, NaN where not) or (T, J, 3) as given."""
    keypoints = np.asarray(array, dtype=np.float32)
    if keypoints.shape[-1] == 3:
        return keypoints
    score = np.where(np.isfinite(keypoints).all(axis=-1), 1.0, np.nan).astype(np.float32)
    return np.concatenate([keypoints, score[..., None]], axis=-1)


def joint_count(instances: Sequence[tuple[str | None, int, np.ndarray, float]], path: Path) -> int:
    """The keypoints per person that every instance of a file has (``group_instances``' tuples).

    Raises:
        KeypointFileError: An instance has another count than the ones before it (naming its frame).
    """
    count = None
    for _, frame, keypoints, _ in instances:
        if count is not None and len(keypoints) != count:
            raise KeypointFileError(path, f"frame {frame} has {len(keypoints)} keypoints, earlier ones {count}")
        count = len(keypoints)
    if count is None:
        raise KeypointFileError(path, "no usable person: it holds no detections")
    return count


def group_instances(
    instances: Iterable[tuple[str | None, int, np.ndarray, float]], path: Path
) -> tuple[dict[str | None, tuple[np.ndarray, np.ndarray]], bool]:
    """Group per-frame detections into tracks.

    Args:
        instances: (person id or None, frame number, keypoints (J, 3) x/y/score, instance score) each.
        path: The file, for error messages.

    Returns:
        (tracks as in ``RawDetections.tracks``, tracked). Untracked (no instance has an id): one track under
        None holding the highest-scoring instance of each frame. Tracked: a track per id; an id seen twice in
        a frame keeps its higher-scoring instance; instances without an id are left out.
    """
    best: dict[str | None, dict[int, tuple[float, np.ndarray]]] = {}
    items = list(instances)
    tracked = any(person is not None for person, *_ in items)
    for person, frame, keypoints, score in items:
        if tracked and person is None:
            continue
        frames = best.setdefault(person, {})
        if frame not in frames or score > frames[frame][0]:
            frames[int(frame)] = (float(score), keypoints)
    tracks = {}
    for person, frames in best.items():
        order = sorted(frames)
        tracks[person] = (
            np.asarray(order, dtype=np.int64),
            np.stack([frames[f][1] for f in order]).astype(np.float32),
        )
    if not tracks:
        raise KeypointFileError(path, "it holds no detected person (no instance in any frame)")
    return tracks, tracked


def instance_score(keypoints: np.ndarray, score: float | None) -> float:
    """The detector's score of one instance, else the mean of its finite keypoint scores (0 if none)."""
    if score is not None and np.isfinite(score):
        return float(score)
    scores = keypoints[:, 2][np.isfinite(keypoints[:, 2])]
    return float(scores.mean()) if scores.size else 0.0


def _id_key(person: str) -> tuple[int, int | str]:
    """Sort key: numeric ids by value, before other ids by text."""
    return (0, int(person)) if person.lstrip("-").isdigit() else (1, person)


def choose_person(raw: RawDetections, person: str | None, path: Path) -> str | None:
    """The track to lift: ``person`` if given (it must exist), else the longest (ties: the smallest id)."""
    if not raw.tracked:
        if person is not None:
            raise KeypointFileError(
                path, f"it has no person ids, so person {person!r} cannot be chosen; leave the person option out"
            )
        return None
    people = sorted((p for p in raw.tracks if p is not None), key=_id_key)
    if person is None:
        return max(people, key=lambda p: len(raw.tracks[p][0]))  # the first maximum: ties go to the smallest id
    if str(person) not in raw.tracks:
        raise KeypointFileError(path, f"it has no person {person!r}; its person ids are {', '.join(people)}")
    return str(person)


def _resolve(from_file: _Value | None, option: _Value | None, what: str, path: Path) -> _Value | None:
    """The file's value, else the option's; both given and different -> KeypointFileError naming both."""
    if (
        from_file is not None
        and option is not None
        and not np.allclose(np.asarray(from_file, float), np.asarray(option, float))
    ):
        raise KeypointFileError(
            path, f"the file states {what} {from_file} but {option} was given; drop the {what} option or fix the file"
        )
    return from_file if from_file is not None else option


def fill_over_time(keypoints: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Linearly interpolate x, y of unobserved entries over time from observed ones, edges held.

    Args:
        keypoints: (T, J, 3) float32 x, y, score.
        observed: (T, J) bool; every joint must be observed in at least one frame.

    Returns:
        (T, J, 3) float32 copy: unobserved x, y replaced; scores kept, NaN scores set to 0.
    """
    filled = keypoints.copy()
    frames = np.arange(len(keypoints))
    for joint in range(keypoints.shape[1]):
        seen = observed[:, joint]
        if seen.all():
            continue
        for axis in (0, 1):
            filled[~seen, joint, axis] = np.interp(frames[~seen], frames[seen], keypoints[seen, joint, axis])
    filled[..., 2] = np.nan_to_num(filled[..., 2], nan=0.0)
    return filled


def assemble(
    raw: RawDetections,
    path: Path,
    format: str,
    *,
    person: str | None,
    min_score: float,
    fps: float | None,
    image_size: tuple[int, int] | None,
) -> DetectedKeypoints:
    """Choose a person, map to Human3.6M-17, fill gaps; see the module docstring for the rules.

    Raises:
        KeypointFileError: the person is unknown, nothing is observed at ``min_score``, a joint is never
            observed, or the file's fps / image size disagree with the options.
    """
    chosen = choose_person(raw, person, path)
    frames, source = raw.tracks[chosen]
    who = f"person {chosen}" if chosen is not None else "the person"
    first, last = int(frames[0]), int(frames[-1])
    dense = np.full((last - first + 1, len(raw.joint_names), 3), np.nan, dtype=np.float32)
    dense[frames - first] = source
    mapped = map_to_h36m17(dense, raw.joint_names, raw.order)
    with np.errstate(invalid="ignore"):
        observed = np.isfinite(mapped).all(axis=-1) & (mapped[..., 2] >= min_score)
    if not observed.any():
        raise KeypointFileError(
            path,
            f"no usable person: {who} has no joint scored >= {min_score} in any "
            "frame; lower the minimum score or check the detector's output",
        )
    never = [H36M17.joint_names[j] for j in np.flatnonzero(~observed.any(axis=0))]
    if never:
        raise KeypointFileError(
            path,
            f"no usable person: {who} never has {', '.join(never)} scored >= "
            f"{min_score} (after mapping to Human3.6M-17), so it cannot be filled; "
            "lower the minimum score or choose another person",
        )
    file_fps = _resolve(raw.fps, fps, "fps", path)
    size = _resolve(raw.image_size, image_size, "image size", path)
    return DetectedKeypoints(
        keypoints=fill_over_time(mapped, observed),
        observed=observed,
        frame_indices=np.arange(first, last + 1, dtype=np.int64),
        fps=float(file_fps if file_fps is not None else DEFAULT_FPS),
        fps_source="file" if raw.fps is not None else "option" if fps is not None else "default",
        image_size=tuple(int(v) for v in size) if size is not None else None,
        source=path,
        format=format,
        person=chosen,
        people={p: len(f) for p, (f, _) in raw.tracks.items() if p is not None},
        joint_names=H36M17.joint_names,
    )
