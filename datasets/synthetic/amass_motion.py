"""Procedural AMASS-style motions: walking, turning, sitting down, jumping, waving, gesturing.

Each generator returns SMPL+H pose parameters as AMASS stores them (docs/formats.md 4.2): ``poses`` (T, 156)
axis-angle per joint (root first, body joints 1-21, left hand 22-36, right hand 37-51) and ``trans`` (T, 3)
metres in AMASS's z-up world. The root orientation carries the y-up template into the z-up world
(``Rz(heading) Rx(90 deg)``: the body stands up and faces ``(sin h, -cos h, 0)``). Motions are smooth
closed-form functions of time with a little seeded variation, vectorised over frames (a few milliseconds per
sequence), so tests can build whole archives in a session fixture. They share the motion families of the
Human3.6M stick figure (``h36m_archive.figure_motion``: loops about the origin, standing and seated arm
gestures, elbows flexing forward) so that pretraining on one helps on the other, as with the real datasets.

    >>> rng = np.random.default_rng(0)
    >>> motion = generate_motion("walk", frames=120, fps=60.0, pelvis_rest=np.zeros(3), pelvis_height=0.95, rng=rng)
    >>> motion.poses.shape, motion.trans.shape
    ((120, 156), (120, 3))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from datasets.skeletons import get_skeleton

MOTIONS = ("walk", "turn", "sit", "jump", "wave", "gesture")
"""Kinds of procedural motion."""

SMPLH = get_skeleton("smplh52")
_J = {name: index for index, name in enumerate(SMPLH.joint_names)}

_WALK_SPEED = 1.2  # m/s, a typical walking speed
_STEP_FREQUENCY = 0.9  # Hz, full gait cycles per second
_ARMS_DOWN = 1.25  # rad, shoulder rotation from the T-pose to arms hanging
_ELBOW_BEND = 0.3  # rad, relaxed elbow flexion (forearm forward)
_WALK_RADIUS = (1.0, 1.5)  # m, ours: walks loop about the capture-volume centre, as Human3.6M's subjects do
_TURN_RADIUS = (0.5, 0.9)  # m, ours: tighter loops
_START_RANGE = 1.0  # m, ours: other motions start within this of the world origin (x and y)
_GESTURE_AMPLITUDE = (0.7, 1.2)  # rad, forward arm raise of a standing gesture (the stick figure's "stand": 0.9)
_SEATED_GESTURE_AMPLITUDE = 0.5  # rad, arm raise while seated (the stick figure's "sit": 0.5)
_GESTURE_FREQUENCY = 0.4  # Hz, arm raises per second (as the stick figure's)


@dataclass(frozen=True)
class Motion:
    """A generated SMPL+H motion.

    Attributes:
        poses: (T, 156) float64 axis-angle, radians.
        trans: (T, 3) float64 metres, AMASS world (z up).
    """

    poses: np.ndarray
    trans: np.ndarray


def _axis_angle(axis: str, angles: np.ndarray) -> np.ndarray:
    """(T, 3) rotation vectors of ``angles`` (T,) radians about a coordinate axis."""
    vectors = np.zeros((len(angles), 3))
    vectors[:, "xyz".index(axis)] = angles
    return vectors


def _compose(*rotvecs: np.ndarray) -> np.ndarray:
    """(T, 3) rotation vector of the product R_1 R_2 ... of per-frame rotations given as (T, 3) vectors."""
    result = Rotation.from_rotvec(rotvecs[0])
    for rotvec in rotvecs[1:]:
        result = result * Rotation.from_rotvec(rotvec)
    return result.as_rotvec()


def _arms(phase: np.ndarray, swing: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Arms hanging and swinging opposite the legs; elbows slightly bent; fingers curling a little."""
    frames = len(phase)
    angles = {
        "left_shoulder": _compose(
            _axis_angle("x", -swing * np.sin(phase)), _axis_angle("z", np.full(frames, -_ARMS_DOWN))
        ),
        "right_shoulder": _compose(
            _axis_angle("x", swing * np.sin(phase)), _axis_angle("z", np.full(frames, _ARMS_DOWN))
        ),
        "left_elbow": _axis_angle("y", -_ELBOW_BEND - 0.15 * np.sin(phase)),  # -y bends the left forearm forward
        "right_elbow": _axis_angle("y", _ELBOW_BEND + 0.15 * np.sin(phase)),
        "left_collar": _axis_angle("z", 0.08 * np.sin(phase)),
        "right_collar": _axis_angle("z", -0.08 * np.sin(phase)),
    }
    curl = 0.2 + 0.1 * np.sin(phase[:, None] + rng.uniform(0, np.pi, 30))
    for index, name in enumerate(SMPLH.joint_names[22:]):
        sign = 1.0 if name.startswith("left") else -1.0
        angles[name] = _axis_angle("z", sign * curl[:, index])
    return angles


def _gesture_arms(times: np.ndarray, amplitude: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Both arms raised forward and lowered slowly (one more than the other), elbows flexing with the raise."""
    raise_arm = amplitude * 0.5 * (1 - np.cos(2 * np.pi * _GESTURE_FREQUENCY * times + rng.uniform(0, np.pi)))
    leading = rng.choice([1.0, 0.6])
    angles = {}
    for side, sign, share in (("left", -1.0, leading), ("right", 1.0, 1.6 - leading)):
        lift = share * raise_arm  # negative x rotation swings a hanging arm forward, on both sides
        down = _axis_angle("z", np.full(len(times), sign * _ARMS_DOWN))
        angles[f"{side}_shoulder"] = _compose(_axis_angle("x", -lift), down)
        angles[f"{side}_elbow"] = _axis_angle("y", sign * (_ELBOW_BEND + 0.4 * lift))
    return angles


def _circle(times: np.ndarray, radius: float, speed: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A walk on a circle about the world origin: (T, 3) pelvis path on the floor and (T,) heading, radians."""
    direction = rng.choice([-1.0, 1.0])
    angle = rng.uniform(-np.pi, np.pi) + direction * speed / radius * times
    path = radius * np.stack([np.cos(angle), np.sin(angle), np.zeros_like(angle)], axis=1)
    return path, angle + (np.pi if direction > 0 else 0.0)  # facing along the tangent


def _spine(phase: np.ndarray, amplitude: float) -> dict[str, np.ndarray]:
    """Torso and head sway: small twists and bends of the three spine joints, neck and head."""
    return {
        "spine1": _axis_angle("y", amplitude * np.sin(phase)),
        "spine2": _axis_angle("x", 0.5 * amplitude * np.sin(2 * phase)),
        "spine3": _axis_angle("z", 0.5 * amplitude * np.cos(phase)),
        "neck": _axis_angle("x", 0.3 * amplitude * np.sin(phase)),
        "head": _axis_angle("y", -0.5 * amplitude * np.sin(phase)),
    }


def _legs_walking(phase: np.ndarray) -> dict[str, np.ndarray]:
    """Hip flexion (negative x rotation swings the thigh forward) and knee flexion in a gait cycle."""
    return {
        "left_hip": _axis_angle("x", -0.45 * np.sin(phase)),
        "right_hip": _axis_angle("x", 0.45 * np.sin(phase)),
        "left_knee": _axis_angle("x", 0.1 + 0.55 * np.clip(np.sin(phase - 1.2), 0.0, None)),
        "right_knee": _axis_angle("x", 0.1 + 0.55 * np.clip(-np.sin(phase - 1.2), 0.0, None)),
        "left_ankle": _axis_angle("x", 0.15 * np.sin(phase)),
        "right_ankle": _axis_angle("x", -0.15 * np.sin(phase)),
    }


def _ease(times: np.ndarray, start: float, duration: float) -> np.ndarray:
    """Smooth 0 -> 1 ramp between ``start`` and ``start + duration`` seconds (cosine ease)."""
    progress = np.clip((times - start) / duration, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * progress)


def _root(heading: np.ndarray) -> np.ndarray:
    """(T, 3) root orientation: stand the y-up template up in the z-up world, facing heading (radians)."""
    upright = _axis_angle("x", np.full(len(heading), np.pi / 2))
    return _compose(_axis_angle("z", heading), upright)


def _facing(heading: np.ndarray) -> np.ndarray:
    """(T, 3) unit world direction the body faces for a heading."""
    return np.stack([np.sin(heading), -np.cos(heading), np.zeros_like(heading)], axis=1)


def generate_motion(
    kind: str, frames: int, fps: float, pelvis_rest: np.ndarray, pelvis_height: float, rng: np.random.Generator
) -> Motion:
    """Generate one procedural motion near the world origin.

    Walks loop on circles about the origin (``_WALK_RADIUS``, ``_TURN_RADIUS``); the other motions start
    within ``_START_RANGE`` of it, as subjects stay in a capture volume.

    Args:
        kind: One of ``MOTIONS``.
        frames: Frame count T.
        fps: Frame rate, Hz.
        pelvis_rest: (3,) the body model's rest pelvis joint, metres, y up: ``trans`` places the posed
            pelvis (``pelvis_rest + trans``) at the wanted height.
        pelvis_height: Standing pelvis height above the floor (z = 0), metres.
        rng: Seeded generator for the variations (start heading, speeds, amplitudes).

    Returns:
        The motion.
    """
    if kind not in MOTIONS:
        raise ValueError(f"kind must be one of {MOTIONS}, got {kind!r}")
    times = np.arange(frames) / fps
    frequency = _STEP_FREQUENCY * rng.uniform(0.9, 1.1)
    phase = 2 * np.pi * frequency * times + rng.uniform(0, 2 * np.pi)
    heading = np.full(frames, rng.uniform(-np.pi, np.pi))
    start = np.array([rng.uniform(-_START_RANGE, _START_RANGE), rng.uniform(-_START_RANGE, _START_RANGE), 0.0])
    angles = _spine(phase, 0.05) | _arms(phase, 0.1, rng)
    if kind in ("walk", "turn"):
        radius = rng.uniform(*(_WALK_RADIUS if kind == "walk" else _TURN_RADIUS))
        path, heading = _circle(times, radius, _WALK_SPEED * frequency / _STEP_FREQUENCY, rng)
        angles |= _legs_walking(phase) | _arms(phase, 0.35, rng)
        height = pelvis_height - 0.02 + 0.02 * np.cos(2 * phase)
    else:
        height, velocity = _in_place(kind, times, heading, angles, rng)
        path = start + np.cumsum(velocity, axis=0) / fps
        height = pelvis_height + height
    poses = np.zeros((frames, 3 * SMPLH.num_joints))
    poses[:, :3] = _root(heading)
    for name, rotvec in angles.items():
        poses[:, 3 * _J[name] : 3 * _J[name] + 3] = rotvec
    pelvis_world = path + np.stack([np.zeros(frames), np.zeros(frames), height], axis=1)
    return Motion(poses=poses, trans=pelvis_world - pelvis_rest)


def _in_place(
    kind: str, times: np.ndarray, heading: np.ndarray, angles: dict[str, np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sit, jump, wave or gesture: updates ``angles``; returns the (T,) pelvis height change and (T, 3) velocity."""
    frames = len(times)
    velocity = np.zeros((frames, 3))
    if kind == "sit":  # sit down, then gesture while seated
        down = _ease(times, 0.4, 1.2)
        angles |= _gesture_arms(times, _SEATED_GESTURE_AMPLITUDE * down, rng)
        angles |= {
            "left_hip": _axis_angle("x", -1.45 * down), "right_hip": _axis_angle("x", -1.45 * down),
            "left_knee": _axis_angle("x", 1.5 * down), "right_knee": _axis_angle("x", 1.5 * down),
            "spine1": _axis_angle("x", 0.3 * np.sin(np.pi * down)),
        }  # fmt: skip
        velocity = -_facing(heading) * 0.25 * np.gradient(down, times)[:, None]  # backwards onto the seat
        return -0.42 * down, velocity
    if kind == "jump":
        crouch = _ease(times, 0.3, 0.4) - _ease(times, 0.7, 0.15)
        flight = np.clip((times - 0.85) / 0.5, 0.0, 1.0)
        airborne = 4.0 * flight * (1.0 - flight) * 0.35  # parabola, 0.35 m apex
        angles |= {
            "left_hip": _axis_angle("x", -0.8 * crouch), "right_hip": _axis_angle("x", -0.8 * crouch),
            "left_knee": _axis_angle("x", 1.2 * crouch), "right_knee": _axis_angle("x", 1.2 * crouch),
            "left_ankle": _axis_angle("x", 0.3 * crouch), "right_ankle": _axis_angle("x", 0.3 * crouch),
        }  # fmt: skip
        return -0.25 * crouch + airborne, velocity
    if kind == "gesture":  # stand, talk with the hands, shift the weight a little
        angles |= _gesture_arms(times, rng.uniform(*_GESTURE_AMPLITUDE), rng) | _spine(2 * np.pi * 0.3 * times, 0.1)
        return np.zeros(frames), velocity
    raise_arm = _ease(times, 0.2, 0.6)  # wave: stand and wave the right hand above the shoulder
    angles |= {
        "right_shoulder": _axis_angle("z", _ARMS_DOWN - 2.4 * raise_arm),
        "right_elbow": _axis_angle("y", -1.2 * raise_arm + 0.4 * raise_arm * np.sin(2 * np.pi * 1.5 * times)),
    }
    return np.zeros(frames), velocity


def smooth_noise(frames: int, channels: int, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """(T, C) smooth random signals (sums of slow sinusoids), e.g. DMPL coefficients."""
    time = np.arange(frames)[:, None]
    frequencies = rng.uniform(0.005, 0.03, size=(3, channels))
    offsets = rng.uniform(0, 2 * np.pi, size=(3, channels))
    amplitudes = rng.normal(0.0, scale, size=(3, channels))
    return sum(amplitudes[k] * np.sin(2 * np.pi * frequencies[k] * time + offsets[k]) for k in range(3))
