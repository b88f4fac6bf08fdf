"""Placing AMASS motion in the Human3.6M world and filming it with virtual cameras.

World convention. AMASS's world is z-up with the floor at z = 0 (docs/formats.md 4.4); Human3.6M's world is z-up
too, floor at z = 0, its cameras looking at the capture-volume centre near the world origin (docs/formats.md 1.1,
1.5). So the rotation from AMASS to Human3.6M world is the identity (``AMASS_TO_H36M_ROTATION``), as in
uplift-upsample, which feeds AMASS joints straight to Human3.6M cameras (docs/formats.md 4.4). The placement is
``AmassConfig.placement`` (``PLACEMENTS``): ``"as_recorded"`` keeps AMASS's world coordinates, as the
authors' pipeline does; ``"start_at_origin"`` shifts each sequence horizontally so its first-frame pelvis is at
x = y = 0, keeping its height. Which keeps the subject in the cameras' views is measured in ``docs/amass.md``.
(MotionBERT's ``(x, -z, y)`` axis change and 0.298 scale target its own normalised y-down frame, not
Human3.6M's world, and are not applied.)

Cameras. ``"h36m"``: the four Human3.6M cameras with one subject's extrinsics (``h36m_cameras``), exactly
as calibrated, around the placed sequence. ``"random:K"``: K look-at cameras on a ring around the subject's
start position at a random distance, height and azimuth, aimed at the pelvis's start position, each with the
intrinsics (focal length, principal point, image size, distortion) of one of the four Human3.6M cameras,
drawn at random. The generator is seeded per file from the file's archive-relative path and the config seed
(``file_rng``), so a file gets the same cameras on every machine and whatever the worker.
"""

from __future__ import annotations

import hashlib

import numpy as np

from datasets.amass.config import PLACEMENTS, AmassConfig
from datasets.camera_rigs import h36m_cameras
from datasets.cameras import Camera, look_at_camera, out_of_frame_ratio
from datasets.skeletons import H36MJoint
from datasets.store.world import film_world

AMASS_TO_H36M_ROTATION = np.eye(3)
"""Rotation from AMASS world to Human3.6M world: both z-up with the floor at z = 0 (module docstring)."""

PELVIS = int(H36MJoint.PELVIS)
"""Index of the pelvis in the 17 output joints."""


def place_in_h36m_world(joints_amass: np.ndarray, placement: str) -> np.ndarray:
    """Move AMASS-world joints into the Human3.6M world.

    Args:
        joints_amass: (T, J, 3) metres, AMASS world (z up), joint 0 the pelvis, T >= 1.
        placement: ``"as_recorded"`` (coordinates kept, as Uplift-and-Upsample's pipeline) or
            ``"start_at_origin"`` (shifted so the first frame's pelvis has x = y = 0, height unchanged).

    Returns:
        (T, J, 3) float64, metres, Human3.6M world: rotated by ``AMASS_TO_H36M_ROTATION``, then placed.
    """
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    rotated = np.asarray(joints_amass, dtype=np.float64) @ AMASS_TO_H36M_ROTATION.T
    if placement == "as_recorded":
        return rotated
    offset = np.array([rotated[0, PELVIS, 0], rotated[0, PELVIS, 1], 0.0])
    return rotated - offset


def file_rng(relative_path: str, seed: int) -> np.random.Generator:
    """A generator seeded by a file's archive-relative path and ``seed`` (stable across processes).

    Python's ``hash`` of a string changes per process, so the seed comes from SHA-256 of both.
    """
    digest = hashlib.sha256(f"{seed}:{relative_path}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def random_cameras(
    count: int,
    rng: np.random.Generator,
    target_world: np.ndarray,
    distance_range: tuple[float, float],
    height_range: tuple[float, float],
    azimuth_range_degrees: tuple[float, float],
    intrinsics_from: list[Camera],
) -> list[Camera]:
    """Look-at cameras on a ring around ``target_world``.

    Args:
        count: Number of cameras K.
        rng: Random generator (``file_rng``).
        target_world: (3,) metres, the point every camera looks at; the ring is centred above it.
        distance_range: Horizontal distance from the target, metres (uniform).
        height_range: Camera height above the floor (z = 0), metres (uniform).
        azimuth_range_degrees: Direction from the target, degrees from world +x towards +y (uniform).
        intrinsics_from: Cameras whose intrinsics and distortion are drawn from (uniformly, per camera).

    Returns:
        K cameras named ``random_0`` ... ``random_{K-1}``.
    """
    cameras = []
    for number in range(count):
        distance = rng.uniform(*distance_range)
        height = rng.uniform(*height_range)
        azimuth = np.deg2rad(rng.uniform(*azimuth_range_degrees))
        source = intrinsics_from[int(rng.integers(len(intrinsics_from)))]
        position = np.array([
            target_world[0] + distance * np.cos(azimuth), target_world[1] + distance * np.sin(azimuth), height
        ])  # fmt: skip
        cameras.append(
            look_at_camera(
                f"random_{number}",
                position,
                target_world,
                fx=source.fx,
                fy=source.fy,
                cx=source.cx,
                cy=source.cy,
                width=source.width,
                height=source.height,
                radial=source.radial,
                tangential=source.tangential,
            )  # fmt: skip
        )
    return cameras


def sequence_cameras(config: AmassConfig, relative_path: str, joints_h36m: np.ndarray) -> list[Camera]:
    """The virtual cameras ``config.cameras`` asks for, for one placed sequence.

    Args:
        config: Conversion settings (camera mode, ranges, seed).
        relative_path: The file's archive-relative path (seeds random cameras).
        joints_h36m: (T, J, 3) metres, Human3.6M world, from ``place_in_h36m_world``.

    Returns:
        ``config.camera_count`` cameras.
    """
    h36m = h36m_cameras(config.h36m_camera_subject)
    if config.camera_mode == "h36m":
        return h36m
    target = joints_h36m[0, PELVIS].copy()  # the pelvis's start: (0, 0, z) under "start_at_origin"
    return random_cameras(
        config.camera_count, file_rng(relative_path, config.seed), target, config.camera_distance_range,
        config.camera_height_range, config.camera_azimuth_range, h36m,
    )  # fmt: skip


def film(joints_h36m: np.ndarray, camera: Camera) -> tuple[np.ndarray, np.ndarray, float]:
    """One camera's view of a placed sequence.

    Args:
        joints_h36m: (T, J, 3) metres, Human3.6M world.
        camera: The camera.

    Returns:
        joints_3d (T, J, 3) float32 metres camera frame; keypoints_2d (T, J, 2) float32 pixels, the projection
        (``datasets.cameras.project`` with its defaults) of exactly the float32 joints: what a world-frame
        store derives (``datasets.store.world.film_world``); and the out-of-frame ratio.
    """
    joints_3d, pixels = film_world(joints_h36m, camera)
    return joints_3d, pixels, out_of_frame_ratio(joints_3d, pixels, camera)
