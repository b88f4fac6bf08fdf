"""Licence-free Human3.6M stand-ins in the real formats, and the stick-figure motion all benchmark fakes share.

``figure_motion`` animates a plausible moving stick figure (walking on a circle, gesturing, sitting) as named
anatomical points; the Human3.6M, MPI-INF-3DHP and HumanEva-I archive writers pick their joints from it.
This module writes Human3.6M trees (``docs/formats.md`` 1.1 and 1.4)::

    from datasets.synthetic.h36m_archive import build_demo_h36m
    build_demo_h36m(Path("demo_h36m"))   # data_3d_h36m.npz, data_2d_h36m_gt.npz, data_2d_h36m_cpn_ft_h36m_dbb.npz

Every value is deterministic for a given spec (``np.random.default_rng(seed)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.camera_rigs import h36m_cameras
from datasets.cameras import project, world_to_camera
from datasets.h36m import FPS as H36M_FPS
from datasets.skeletons import convert_joints, get_skeleton

REFERENCE_HEIGHT = 1.72
"""Body height (metres) the segment lengths below are written for; each subject scales them. Ours: the
height of the synthetic body model's neutral template (``datasets.synthetic.body_model``)."""

SEGMENTS = {"thigh": 0.38, "shin": 0.40, "spine": 0.25, "thorax": 0.50, "upper_arm": 0.26, "forearm": 0.25}
"""Segment lengths (metres at ``REFERENCE_HEIGHT``): the Human3.6M-17 bones of the synthetic body model's
neutral template through the demo regressor (hip-knee, knee-ankle, pelvis-spine, pelvis-thorax,
shoulder-elbow, elbow-wrist). Ours, for the demo: the stick figure and the synthetic AMASS bodies then share
their proportions, as real Human3.6M and regressed AMASS skeletons do."""

HIP_OFFSET = (0.0, 0.115, -0.02)
"""Left hip from the pelvis (forward, left, up; metres at ``REFERENCE_HEIGHT``): 11.7 cm, as the body model's."""
SHOULDER_OFFSET = (0.0, 0.18, -0.04)
"""Left shoulder from the thorax: 18.4 cm, as the body model's."""

NECK_NOSE_OFFSET = (0.03, 0.0, 0.085)
"""Neck/nose from the thorax (forward, left, up; metres at ``REFERENCE_HEIGHT``): 9 cm, as the body model's."""
HEAD_TOP_OFFSET = (0.02, 0.0, 0.24)
"""Head top from the thorax: 15.5 cm above the neck/nose, as the body model's."""
STANDING_PELVIS_HEIGHT = 0.88
"""Standing pelvis height (metres at ``REFERENCE_HEIGHT``): hip drop + thigh + shin + ankle height, knees
slightly bent."""
SEATED_PELVIS_DROP = 0.43
"""How far sitting lowers the pelvis (metres at ``REFERENCE_HEIGHT``): onto a chair seat about 45 cm high."""


@dataclass(frozen=True)
class MotionProfile:
    """How a synthetic action moves.

    Attributes:
        speed: Walking speed along the circular path, m/s.
        cadence: Strides per second.
        stride: Hip swing amplitude, radians.
        gesture: Amplitude of a slow arm raise, radians.
        sit: 0 = standing, 1 = seated (pelvis lowered, hips and knees bent).
    """

    speed: float
    cadence: float
    stride: float
    gesture: float
    sit: float = 0.0


MOTION_PROFILES = {
    "walk": MotionProfile(speed=1.2, cadence=0.9, stride=0.45, gesture=0.0),
    "jog": MotionProfile(speed=2.2, cadence=1.4, stride=0.7, gesture=0.0),
    "stand": MotionProfile(speed=0.15, cadence=0.3, stride=0.08, gesture=0.9),
    "box": MotionProfile(speed=0.05, cadence=1.2, stride=0.05, gesture=1.4),
    "sit": MotionProfile(speed=0.0, cadence=0.2, stride=0.05, gesture=0.5, sit=1.0),
}
"""Named motion profiles; each archive maps its action names onto one of these."""

PATH_RADIUS = 1.2
"""Radius (metres) of the circle around the world origin the figure moves on; cameras look at the origin."""


def _direction(angle: np.ndarray) -> np.ndarray:
    """(T, 3) unit vectors in the body's sagittal plane: 0 = straight down, positive = forward."""
    return np.stack([np.sin(angle), np.zeros_like(angle), -np.cos(angle)], axis=-1)


def _leg(
    side: str,
    sign: float,
    pelvis: np.ndarray,
    swing: np.ndarray,
    phase: np.ndarray,
    motion: MotionProfile,
    scale: float,
) -> dict[str, np.ndarray]:
    """Hip, knee, ankle, foot and toe of one side (``sign`` +1 left, -1 right), each (T, 3) body-frame metres."""
    hip_flexion = swing + 1.45 * motion.sit
    knee_flexion = 0.35 * motion.stride / 0.45 * (1 - np.cos(phase + sign * np.pi / 2)) + 1.5 * motion.sit
    hip = pelvis + scale * np.array(HIP_OFFSET) * (1.0, sign, 1.0)
    knee = hip + scale * SEGMENTS["thigh"] * _direction(hip_flexion)
    ankle = knee + scale * SEGMENTS["shin"] * _direction(hip_flexion - knee_flexion)
    foot = ankle + scale * np.array([0.13, sign * 0.02, -0.06])
    toe = foot + scale * np.array([0.05, 0.0, 0.0])
    return {f"{side}_hip": hip, f"{side}_knee": knee, f"{side}_ankle": ankle, f"{side}_foot": foot, f"{side}_toe": toe}


def _arm(
    side: str,
    sign: float,
    thorax: np.ndarray,
    swing: np.ndarray,
    gesture: np.ndarray,
    phase: np.ndarray,
    scale: float,
) -> dict[str, np.ndarray]:
    """Clavicle to fingertips of one side (``sign`` +1 left, -1 right), each (T, 3) body-frame metres."""
    shoulder_angle = -0.8 * swing + gesture * (1.0 if side == "left" else 0.6)
    elbow_flexion = 0.3 + 0.4 * gesture + 0.2 * (1 + np.sin(phase))
    shoulder = thorax + scale * np.array(SHOULDER_OFFSET) * (1.0, sign, 1.0)
    elbow = shoulder + scale * SEGMENTS["upper_arm"] * _direction(shoulder_angle)
    forearm = _direction(shoulder_angle + elbow_flexion)
    wrist = elbow + scale * SEGMENTS["forearm"] * forearm
    return {
        f"{side}_clavicle": thorax + scale * np.array([0.0, sign * 0.04, -0.02]),
        f"{side}_shoulder": shoulder, f"{side}_elbow": elbow, f"{side}_wrist": wrist,
        f"{side}_thumb": wrist + scale * 0.03 * forearm,
        f"{side}_thumb_tip": wrist + scale * (0.06 * forearm + np.array([0.0, -sign * 0.02, 0.0])),
        f"{side}_hand": wrist + scale * 0.09 * forearm,
        f"{side}_fingers_tip": wrist + scale * 0.17 * forearm,
    }  # fmt: skip


def figure_motion(
    frames: int, fps: float, profile: str, seed: int, height: float = REFERENCE_HEIGHT
) -> dict[str, np.ndarray]:
    """Animate a stick figure and return its named points.

    The body frame is x forward, y left, z up; the figure stands on z = 0 and moves on a circle of radius
    ``PATH_RADIUS`` about the origin, facing along the path (or towards the origin when standing).

    Args:
        frames: T.
        fps: Frames per second.
        profile: Key of ``MOTION_PROFILES``.
        seed: Seeds the phase, the start on the circle and small per-joint jitter.
        height: Body height in metres; segment lengths scale with it.

    Returns:
        Point name -> (T, 3) float64 metres, world frame (z up). Names: pelvis, spine, spine_mid, chest,
        thorax, neck, head, head_top, and per side (``left_``/``right_``) hip, knee, ankle, foot, toe,
        clavicle, shoulder, elbow, wrist, thumb, thumb_tip, hand, fingers_tip.
    """
    motion = MOTION_PROFILES[profile]
    rng = np.random.default_rng(seed)
    scale = height / REFERENCE_HEIGHT
    time = np.arange(frames) / fps
    phase = 2 * np.pi * motion.cadence * time + rng.uniform(0, 2 * np.pi)
    gesture = motion.gesture * 0.5 * (1 - np.cos(2 * np.pi * 0.4 * time + rng.uniform(0, np.pi)))
    bounce = 0.02 * np.sin(2 * phase) * (1 - motion.sit)  # metres: the pelvis rises twice per stride
    pelvis_height = scale * (STANDING_PELVIS_HEIGHT - SEATED_PELVIS_DROP * motion.sit) + bounce
    points: dict[str, np.ndarray] = {}
    pelvis = np.stack([np.zeros(frames), np.zeros(frames), pelvis_height], axis=-1)
    points["pelvis"] = pelvis
    lean = 0.04 + 0.05 * motion.speed / 2
    rises = {"spine": SEGMENTS["spine"], "spine_mid": 0.3, "chest": 0.4, "thorax": SEGMENTS["thorax"], "neck": 0.55}
    for name, rise in rises.items():
        points[name] = pelvis + scale * np.array([lean * rise, 0.0, rise])
    points["head"] = points["thorax"] + scale * np.array(NECK_NOSE_OFFSET)
    points["head_top"] = points["thorax"] + scale * np.array(HEAD_TOP_OFFSET)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        swing = sign * motion.stride * np.sin(phase)
        points |= _leg(side, sign, pelvis, swing, phase, motion, scale)
        points |= _arm(side, sign, points["thorax"], swing, gesture, phase, scale)
    return _place_on_path(points, time, motion, rng)


def _place_on_path(
    points: dict[str, np.ndarray], time: np.ndarray, motion: MotionProfile, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Rotate body-frame points to the heading and move them along the circle about the origin."""
    start = rng.uniform(0, 2 * np.pi)
    angle = start + motion.speed / PATH_RADIUS * time
    position = PATH_RADIUS * np.stack([np.cos(angle), np.sin(angle), np.zeros_like(angle)], axis=-1)
    heading = angle + np.pi / 2 if motion.speed > 0.5 else angle + np.pi + 0.3 * np.sin(0.5 * time)
    cos, sin = np.cos(heading)[:, None], np.sin(heading)[:, None]
    placed = {}
    for name, body in points.items():
        x, y = body[:, :1], body[:, 1:2]
        placed[name] = position + np.concatenate([cos * x - sin * y, sin * x + cos * y, body[:, 2:]], axis=-1)
        placed[name] += rng.normal(0.0, 0.002, placed[name].shape)  # mocap marker jitter, 2 mm
    return placed


# Human3.6M's 32 joints from the figure's points (docs/formats.md 1.2): coinciding joints repeat a point.
_H36M32_FROM_FIGURE = {
    "spine_base": "pelvis", "right_toe_base": "right_foot", "right_toe_end": "right_toe",
    "left_toe_base": "left_foot", "left_toe_end": "left_toe", "neck_nose": "head",
    "left_clavicle": "thorax", "right_clavicle": "thorax",
    "left_thumb_base": "left_wrist", "left_thumb_tip": "left_thumb_tip", "left_fingers": "left_hand",
    "right_thumb_base": "right_wrist", "right_thumb_tip": "right_thumb_tip", "right_fingers": "right_hand",
}  # fmt: skip

H36M_PROFILES = {
    "Walking": "walk", "WalkDog": "walk", "WalkTogether": "walk", "Sitting": "sit", "SittingDown": "sit",
    "Eating": "sit", "Phoning": "stand", "Smoking": "stand", "Directions": "stand", "Discussion": "stand",
    "Greeting": "stand", "Photo": "stand", "Posing": "stand", "Purchases": "stand", "Waiting": "stand",
}  # fmt: skip
"""Human3.6M base action -> motion profile."""


def figure_joints(points: dict[str, np.ndarray], skeleton: str, renames: dict[str, str]) -> np.ndarray:
    """Stack the figure's points in a skeleton's joint order: (T, J, 3) float64 metres.

    Args:
        points: Output of ``figure_motion``.
        skeleton: ``datasets.skeletons`` name.
        renames: Skeleton joint name -> figure point name, where they differ.
    """
    names = get_skeleton(skeleton).joint_names
    return np.stack([points[renames.get(name, name)] for name in names], axis=1)


@dataclass(frozen=True)
class H36MArchiveSpec:
    """What a synthetic Human3.6M tree holds.

    Attributes:
        subjects: Subject ids (need cameras in ``datasets.cameras``).
        sequences: Sequence names as VideoPose3D spells them (``"Photo 1"``); S1's CDF files get the
            original long names (``"TakingPhoto 1"``).
        frames: Frames of the first sequence; each further one is 7 frames longer.
        seed: Seeds every random choice.
        detection_noise: Standard deviation of the CPN-like detection noise, pixels.
        extra_detection_frames: Frames every second detection sequence has beyond the mocap (the real CPN
            file has such sequences; readers trim them).
    """

    subjects: tuple[str, ...] = ("S1", "S5", "S9")
    sequences: tuple[str, ...] = ("Directions 1", "Photo", "Walking", "WalkDog 1")
    frames: int = 48
    seed: int = 0
    detection_noise: float = 3.0
    extra_detection_frames: int = 3

    def __post_init__(self) -> None:
        if self.frames < 2:
            raise ValueError(f"H36MArchiveSpec.frames must be at least 2, got {self.frames}")
        if self.detection_noise < 0:
            raise ValueError(f"H36MArchiveSpec.detection_noise must be >= 0, got {self.detection_noise}")


def synthetic_figure_points(spec: H36MArchiveSpec) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """The figure's named points of every take: ``{subject: {sequence: figure_motion(...)}}``, world frame, 50 Hz."""
    points: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for subject_index, subject in enumerate(spec.subjects):
        height = 1.6 + 0.25 * np.random.default_rng([spec.seed, subject_index]).random()
        points[subject] = {}
        for sequence_index, sequence in enumerate(spec.sequences):
            profile = H36M_PROFILES.get(sequence.split(" ")[0], "stand")
            seed = spec.seed * 1_000_003 + subject_index * 1000 + sequence_index
            points[subject][sequence] = figure_motion(spec.frames + 7 * sequence_index, H36M_FPS, profile, seed, height)
    return points


def synthetic_world_poses(spec: H36MArchiveSpec) -> dict[str, dict[str, np.ndarray]]:
    """The 32-joint world poses of a spec: ``{subject: {sequence: (T, 32, 3) float32 metres, z up}}``."""
    return {
        subject: {sequence: figure_joints(points, "h36m32", _H36M32_FROM_FIGURE).astype(np.float32)
                  for sequence, points in sequences.items()}
        for subject, sequences in synthetic_figure_points(spec).items()
    }  # fmt: skip


def _ground_truth_2d(world_32: np.ndarray, subject: str) -> list[np.ndarray]:
    """Per-camera (T, 17, 2) float32 pixel projections with distortion, VideoPose3D's camera order."""
    world = convert_joints(world_32.astype(np.float64), "h36m32", "h36m17")
    return [
        np.asarray(project(np.asarray(world_to_camera(world, camera)), camera, distort=True), dtype=np.float32)
        for camera in h36m_cameras(subject)
    ]


def write_videopose3d_h36m(
    root: Path, spec: H36MArchiveSpec = H36MArchiveSpec(), detections: tuple[str, ...] = ("cpn_ft_h36m_dbb",)
) -> list[Path]:
    """Write ``data_3d_h36m.npz``, ``data_2d_h36m_gt.npz`` and one noisy detection file per name.

    Args:
        root: Output folder (created).
        spec: What to generate.
        detections: Names of CPN-like detection files, ``data_2d_h36m_<name>.npz``.

    Returns:
        The files written.
    """
    root.mkdir(parents=True, exist_ok=True)
    world = synthetic_world_poses(spec)
    ground_truth = {s: {q: _ground_truth_2d(p, s) for q, p in seqs.items()} for s, seqs in world.items()}
    symmetry = [list(get_skeleton("h36m17").left_indices), list(get_skeleton("h36m17").right_indices)]
    written = [root / "data_3d_h36m.npz", root / "data_2d_h36m_gt.npz"]
    np.savez_compressed(written[0], positions_3d=world)
    np.savez_compressed(  # VideoPose3D's GT file carries no layout_name (docs/formats.md 1.4)
        written[1], positions_2d=ground_truth, metadata={"num_joints": 17, "keypoints_symmetry": symmetry}
    )
    for name_index, name in enumerate(detections):
        rng = np.random.default_rng([spec.seed, 7, name_index])
        noisy: dict[str, dict[str, list[np.ndarray]]] = {}
        for subject, sequences in ground_truth.items():
            noisy[subject] = {}
            for sequence_index, (sequence, per_camera) in enumerate(sequences.items()):
                extra = spec.extra_detection_frames if sequence_index % 2 else 0
                noisy[subject][sequence] = [_detections(keypoints, extra, spec, rng) for keypoints in per_camera]
        path = root / f"data_2d_h36m_{name}.npz"
        metadata = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": symmetry}
        np.savez_compressed(path, positions_2d=noisy, metadata=metadata)
        written.append(path)
    return written


def _detections(keypoints: np.ndarray, extra: int, spec: H36MArchiveSpec, rng: np.random.Generator) -> np.ndarray:
    """CPN-like detections: ground truth + a per-joint bias + per-frame noise, ``extra`` frames longer."""
    padded = np.concatenate([keypoints, np.repeat(keypoints[-1:], extra, axis=0)])
    bias = rng.normal(0.0, spec.detection_noise, (1, keypoints.shape[1], 2))
    return (padded + bias + rng.normal(0.0, spec.detection_noise, padded.shape)).astype(np.float32)


DEMO_SPEC = H36MArchiveSpec(sequences=("Directions 1", "Photo", "Walking", "WalkDog 1", "Sitting 1"), frames=100)
"""The demo's Human3.6M: standing, walking and seated actions, 2 s takes (ours, for the demo: a small target
set, two training subjects, so that pretraining visibly helps, yet takes long enough for the 131-frame
receptive field of the demo model to see motion rather than padding)."""


def build_demo_h36m(root: Path) -> Path:
    """Write the demo Human3.6M tree (VideoPose3D format: S1 S5 train, S9 test, a CPN-like file); return root."""
    write_videopose3d_h36m(Path(root), DEMO_SPEC)
    return Path(root)
