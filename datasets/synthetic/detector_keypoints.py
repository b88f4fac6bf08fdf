"""A licence-free 2D detector file for the ``lift`` demo: COCO-17 results JSON made from synthetic Human3.6M takes.

The demo's test subject (``S9`` of ``h36m_archive.DEMO_SPEC``) is filmed by its first Human3.6M camera: the
stick figure's points (``h36m_archive.synthetic_figure_points``, the same takes the demo store holds) are
projected with lens distortion, and a detector's habits are added, each drawn from
``np.random.default_rng(seed)``:

- pixel noise on every joint (``PIXEL_NOISE``) and a score per joint, high where the joint is seen;
- dropped joints: a few joints per frame with a score below the ``lift`` default of 0.3 and a wrong position;
- dropped frames: a run of frames and a few single frames in which the person is not detected at all;
- a second person (another take of the same subject) present in only part of the frames, so the longest
  track (the default ``--person``) is the first.

COCO results (https://cocodataset.org/#format-results) are a list of ``{"image_id", "category_id": 1,
"keypoints": [x1, y1, s1, ...], "score", "track_id"}`` with the 17 COCO keypoints in COCO's order; the
frame number is the ``image_id``. Results carry neither frame rate nor image size: ``DemoDetections`` says
them (50 Hz, the camera's image).

The face (eyes, ears, nose) is not part of Human3.6M's skeleton; it is placed from the figure's thorax and
shoulders with ``FACE_OFFSETS`` (ours, for the demo: an adult face's proportions, a few centimetres).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.camera_rigs import h36m_cameras
from datasets.cameras import project, world_to_camera
from datasets.h36m import FPS as H36M_FPS
from datasets.synthetic.h36m_archive import DEMO_SPEC, H36MArchiveSpec, synthetic_figure_points

COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
)  # fmt: skip
"""COCO's 17 person keypoints in the order of its ``person`` category (cocodataset.org, keypoint format)."""

FACE_OFFSETS = {
    "nose": (0.10, 0.0, 0.16),
    "left_eye": (0.08, 0.032, 0.19),
    "right_eye": (0.08, -0.032, 0.19),
    "left_ear": (0.0, 0.075, 0.18),
    "right_ear": (0.0, -0.075, 0.18),
}
"""Face points from the thorax, metres along (forward, left, up) of the body (ours, for the demo)."""

PIXEL_NOISE = 2.5
"""Standard deviation of the detector's per-joint pixel noise."""
SEEN_SCORES = (0.6, 0.98)
"""Range of a detected joint's score."""
DROPPED_JOINT_RATE = 0.04
"""Share of joints per frame given a low score (0.05-0.2) and a position off by up to 40 pixels."""
MISSING_RUN = (40, 46)
"""Frames [start, stop) in which the main person is not detected."""
MISSING_SINGLE_FRAMES = (12, 77, 95)
"""Further single frames without the main person."""
SECOND_PERSON_FRAMES = (20, 70)
"""Frames [start, stop) in which a second person is detected."""
DEMO_FILE = "coco17_detections.json"


@dataclass(frozen=True)
class DemoDetections:
    """The demo detector file and what COCO results do not carry.

    Attributes:
        path: The COCO-17 results JSON.
        fps: Frame rate of the frames, Hz.
        image_size: (width, height) of the camera's images, pixels.
        frames: Frames of the take (``image_id`` 0 .. frames - 1).
    """

    path: Path
    fps: float
    image_size: tuple[int, int]
    frames: int


def _body_axes(points: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame unit (forward, left, up) vectors (T, 3) each, from the shoulders and the spine."""
    up = points["thorax"] - points["pelvis"]
    up /= np.linalg.norm(up, axis=-1, keepdims=True)
    left = points["left_shoulder"] - points["right_shoulder"]
    left -= np.sum(left * up, axis=-1, keepdims=True) * up
    left /= np.linalg.norm(left, axis=-1, keepdims=True)
    return np.cross(left, up), left, up


def coco17_points(points: dict[str, np.ndarray]) -> np.ndarray:
    """(T, 17, 3) world points of the COCO keypoints (``COCO17_NAMES`` order) from the figure's named points."""
    forward, left, up = _body_axes(points)
    named = dict(points)
    for name, (ahead, aside, above) in FACE_OFFSETS.items():
        named[name] = points["thorax"] + ahead * forward + aside * left + above * up
    return np.stack([named[name] for name in COCO17_NAMES], axis=1)


def _pixels(world: np.ndarray, subject: str) -> tuple[np.ndarray, tuple[int, int]]:
    camera = h36m_cameras(subject)[0]
    pixels = np.asarray(project(np.asarray(world_to_camera(world, camera)), camera, distort=True))
    return pixels, (camera.width, camera.height)


def _detections(pixels: np.ndarray, frames: np.ndarray, track: int, rng: np.random.Generator) -> list[dict]:
    """COCO result records of one person at ``frames``, with noise, scores and dropped joints."""
    records = []
    for frame in frames.tolist():
        noisy = pixels[frame] + rng.normal(0.0, PIXEL_NOISE, pixels[frame].shape)
        scores = rng.uniform(*SEEN_SCORES, len(noisy))
        dropped = rng.random(len(noisy)) < DROPPED_JOINT_RATE
        scores[dropped] = rng.uniform(0.05, 0.2, int(dropped.sum()))
        noisy[dropped] += rng.uniform(-40.0, 40.0, (int(dropped.sum()), 2))
        flat = np.concatenate([noisy, scores[:, None]], axis=1).round(2).ravel().tolist()
        records.append({"image_id": int(frame), "category_id": 1, "keypoints": flat,
                        "score": round(float(scores.mean()), 4), "track_id": track})  # fmt: skip
    return records


def write_demo_detections(
    root: Path,
    spec: H36MArchiveSpec = DEMO_SPEC,
    subject: str = "S9",
    takes: tuple[str, str] = ("Walking", "Photo"),
    seed: int = 0,
) -> DemoDetections:
    """Write ``<root>/coco17_detections.json``: the first take's person and, in part of it, the second's.

    Args:
        root: Output folder (created).
        spec: The synthetic Human3.6M the takes come from (the demo's by default).
        subject: Whose takes (the demo's test subject).
        takes: (main person's take, second person's take), sequences of ``spec``.
        seed: Seeds the noise, scores and dropped joints.

    Returns:
        The file and its frame rate, image size and frame count.
    """
    figures = synthetic_figure_points(spec)[subject]
    main, image_size = _pixels(coco17_points(figures[takes[0]]), subject)
    second, _ = _pixels(coco17_points(figures[takes[1]]), subject)
    frames = len(main)
    rng = np.random.default_rng(seed)
    missing = set(range(*MISSING_RUN)) | set(MISSING_SINGLE_FRAMES)
    seen = np.array([frame for frame in range(frames) if frame not in missing])
    start, stop = SECOND_PERSON_FRAMES
    records = _detections(main, seen, 1, rng) + _detections(second, np.arange(start, min(stop, len(second))), 2, rng)
    records.sort(key=lambda record: (record["image_id"], record["track_id"]))
    root.mkdir(parents=True, exist_ok=True)
    path = root / DEMO_FILE
    path.write_text(json.dumps(records), encoding="utf-8")
    return DemoDetections(path, H36M_FPS, (int(image_size[0]), int(image_size[1])), frames)
