"""The published camera rigs: Human3.6M and HumanEva-I cameras per subject, from package data files.

``h36m_cameras(subject)`` and ``humaneva_cameras(subject)`` read ``datasets/data/h36m_cameras.json`` and
``humaneva_cameras.json`` (numbers verbatim from VideoPose3D; docs/formats.md 1.5, 3.6) into ``datasets.cameras.Camera``
objects, in the camera order of every VideoPose3D-style 2D file. Conventions of the files: a unit quaternion
``[w, x, y, z]`` rotating camera-frame vectors into the world, and the camera centre in the world, millimetres.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import numpy as np

from datasets.cameras import Camera
from datasets.units import MILLIMETRES_PER_METRE

H36M_CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
"""Human3.6M camera ids in the order of every VideoPose3D-style 2D file (docs/formats.md 1.4)."""

HUMANEVA_CAMERA_IDS: tuple[str, ...] = ("C1", "C2", "C3")
"""HumanEva-I colour cameras in the order of VideoPose3D's HumanEva 2D files (docs/formats.md 3.4)."""


@functools.cache
def _camera_file(file_name: str) -> dict[str, Any]:
    """Parsed package data file ``datasets/data/<file_name>``."""
    return json.loads((resources.files("datasets") / "data" / file_name).read_text(encoding="utf-8"))


def _rig_extrinsics(orientation_wxyz: Sequence[float], centre_mm: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """World->camera rotation and translation (metres) from a camera->world quaternion and a centre in mm."""
    from scipy.spatial.transform import Rotation  # ~0.4 s to import: only runs that build camera rigs pay it

    w, x, y, z = orientation_wxyz
    camera_to_world_rotation = Rotation.from_quat([x, y, z, w]).as_matrix()  # scipy wants [x, y, z, w]
    rotation = camera_to_world_rotation.T
    centre = np.asarray(centre_mm, dtype=np.float64) / MILLIMETRES_PER_METRE
    return rotation, -rotation @ centre


def _subject_extrinsics(data: Mapping[str, Any], dataset: str, subject: str) -> Mapping[str, Any]:
    try:
        return data["extrinsics"][subject]
    except KeyError:
        known = ", ".join(data["extrinsics"])
        raise KeyError(f"{dataset} subject {subject!r} has no camera extrinsics; those with: {known}") from None


def h36m_cameras(subject: str) -> list[Camera]:
    """The four Human3.6M cameras of ``subject``, in ``H36M_CAMERA_IDS`` order.

    Intrinsics are shared by all subjects; extrinsics are per subject (a quaternion rotating camera vectors
    into the world and the camera centre in mm, both as published by VideoPose3D).

    Args:
        subject: ``"S1"``, ``"S5"``, ``"S6"``, ``"S7"``, ``"S8"``, ``"S9"`` or ``"S11"``.

    Returns:
        Four cameras named by their ids.
    """
    return list(_h36m_rig(subject))


@functools.cache
def _h36m_rig(subject: str) -> tuple[Camera, ...]:
    """``h36m_cameras``, built once per subject: an AMASS conversion films every file with one rig.

    Sharing is safe: a ``Camera`` keeps read-only copies of its arrays.
    """
    data = _camera_file("h36m_cameras.json")
    extrinsics = _subject_extrinsics(data, "Human3.6M", subject)
    cameras = []
    for camera_id in H36M_CAMERA_IDS:
        intrinsics = data["intrinsics"][camera_id]
        rotation, translation = _rig_extrinsics(**extrinsics[camera_id])
        (fx, fy), (cx, cy) = intrinsics["focal_length"], intrinsics["center"]
        width, height = intrinsics["image_size"]
        distortion = tuple(intrinsics["radial_distortion"]), tuple(intrinsics["tangential_distortion"])
        cameras.append(Camera(camera_id, fx, fy, cx, cy, width, height, rotation, translation, *distortion))
    return tuple(cameras)


def humaneva_cameras(subject: str) -> list[Camera]:
    """The three HumanEva-I colour cameras C1, C2, C3 of ``subject`` (``"S1"``, ``"S2"`` or ``"S3"``).

    Extrinsics and image size (640 x 480) are exact. VideoPose3D publishes no focal length, principal point
    or distortion for HumanEva-I, and we invent none: ``fx``, ``fy``, ``cx``, ``cy`` are NaN,
    ``has_intrinsics`` is False, and ``project``/``unproject`` raise ValueError. World <-> camera transforms
    and screen normalisation work; 2D keypoints come from the source files.
    """
    data = _camera_file("humaneva_cameras.json")
    extrinsics = _subject_extrinsics(data, "HumanEva-I", subject)
    cameras = []
    for camera_id in HUMANEVA_CAMERA_IDS:
        rotation, translation = _rig_extrinsics(**extrinsics[camera_id])
        width, height = data["intrinsics"][camera_id]["image_size"]
        unknown_intrinsics = (math.nan,) * 4
        cameras.append(Camera(camera_id, *unknown_intrinsics, width, height, rotation, translation))
    return cameras
