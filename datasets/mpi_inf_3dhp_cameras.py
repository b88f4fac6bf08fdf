"""MPI-INF-3DHP cameras: the official test calibration and the training sets' Skeletool calibration files.

``camera_of_test_sequence("TS5")`` converts the official test calibration (``test_util/camera_calibration``,
``docs/formats.md`` 2.2) into a ``Camera``; ``read_calibration(path)`` parses a training
sequence's ``camera.calibration`` (docs/formats.md 2.1). The reader, ``datasets.mpi_inf_3dhp``, attaches these
cameras to its views; the reading of the test calibration it documents (millimetres to pixels, ``fy = fx *
pixelAspect``, no distortion) is implemented here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.cameras import Camera
from datasets.units import MILLIMETRES_PER_METRE


@dataclass(frozen=True)
class OfficialCalibration:
    """One camera of the official test calibration ("tc camera calibration v0.3"; docs/formats.md 2.2).

    Lengths of the sensor are millimetres; ``pixel_aspect`` is fy / fx; ``origin`` is the camera centre in the
    test world, millimetres; ``up`` and ``right`` are the image's up and right directions in that world.
    ``radial`` is the file's OpenCV (k1, k2, k3), kept as recorded but not applied: it describes the GoPro
    video, while ``annot2`` is the distortion-free projection of ``annot3`` (docs/formats.md 2.2).
    """

    name: str
    image_size: tuple[int, int]
    sensor_mm: tuple[float, float]
    focal_mm: float
    pixel_aspect: float
    centre_offset_mm: tuple[float, float]
    radial: tuple[float, float, float]
    origin_mm: tuple[float, float, float]
    up: tuple[float, float, float]
    right: tuple[float, float, float]


TEST_CALIBRATIONS: Mapping[str, OfficialCalibration] = {
    "studio": OfficialCalibration(  # TS1-TS4, camera cam_8, no distortion
        "test_studio", (2048, 2048), (10.0, 10.0), 7.32506, 1.00044, (-0.0322884, 0.0929296), (0.0, 0.0, 0.0),
        (3427.28, 1387.86, 309.42), (-0.208215, 0.976233, 0.06014), (0.000575281, 0.0616098, -0.9981),
    ),
    "outdoor": OfficialCalibration(  # TS5-TS6, GoPro; OpenCV (k1, k2, p1, p2, k3) = (-0.2769, 0.1311, ...)
        "test_outdoor", (1920, 1080), (10.0, 5.625), 8.770747185, 0.993236423, (-0.104908645, 0.104899704),
        (-0.276859611, 0.131125256, -0.049318332), (-2104.3074, 1038.6707, -4596.6367),
        (0.025272345, 0.995038509, 0.096227370), (-0.939647257, -0.009210289, 0.342020929),
    ),
}  # fmt: skip
TEST_CALIBRATION_OF = {"TS1": "studio", "TS2": "studio", "TS3": "studio", "TS4": "studio"}
TEST_CALIBRATION_OF |= {"TS5": "outdoor", "TS6": "outdoor"}


def camera_of_test_sequence(sequence: str) -> Camera:
    """The official calibration of test sequence ``sequence`` (``"TS1"``..``"TS6"``) as a distortion-free ``Camera``.

    Read as docs/formats.md 2.2 records it, measured on the real test annotations (``annot3`` reprojects onto
    ``annot2`` at a median of 0.001-0.005 px this way): ``fx = focal / sensor width * width`` pixels,
    ``fy = fx * pixelAspect``, principal point = image centre + centre offset converted with the sensor's
    width and height, and no lens distortion.
    """
    calibration = TEST_CALIBRATIONS[TEST_CALIBRATION_OF[sequence]]
    width, height = calibration.image_size
    fx = calibration.focal_mm / calibration.sensor_mm[0] * width
    cx = width / 2 + calibration.centre_offset_mm[0] / calibration.sensor_mm[0] * width
    cy = height / 2 + calibration.centre_offset_mm[1] / calibration.sensor_mm[1] * height
    right, up = np.asarray(calibration.right), np.asarray(calibration.up)
    rotation = _nearest_rotation(np.stack([right, -up, np.cross(up, right)]))  # rows: camera x, y (down), z
    translation = -rotation @ np.asarray(calibration.origin_mm) / MILLIMETRES_PER_METRE
    return Camera(calibration.name, fx, fx * calibration.pixel_aspect, cx, cy, width, height, rotation, translation)


def _nearest_rotation(matrix: np.ndarray) -> np.ndarray:
    """The rotation closest to ``matrix`` (polar decomposition): printed calibrations are not orthonormal."""
    u, _, vt = np.linalg.svd(matrix)
    return u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt


def read_calibration(path: Path) -> dict[int, Camera]:
    """Parse a Skeletool ``camera.calibration`` file (docs/formats.md 2.1) into cameras by index.

    Each block starts with ``name <c>`` and holds ``size <w> <h>``, ``intrinsic`` (4x4 row-major, pixels) and
    ``extrinsic`` (4x4 row-major world->camera, translation in millimetres).

    Raises:
        ValueError: A block lacks one of those lines or holds the wrong count of numbers.
    """
    blocks: dict[int, dict[str, list[float]]] = {}
    current: dict[str, list[float]] | None = None
    for line in Path(path).read_text().splitlines()[1:]:
        key, *values = line.split()
        if key == "name":
            current = blocks.setdefault(int(values[0]), {})
        elif current is not None:
            current[key] = [float(v) for v in values]
    cameras = {}
    for index, block in blocks.items():
        if any(len(block.get(key, ())) != count for key, count in (("size", 2), ("intrinsic", 16), ("extrinsic", 16))):
            raise ValueError(f"{path}: camera {index} needs size (2), intrinsic (16) and extrinsic (16) numbers")
        intrinsic = np.reshape(block["intrinsic"], (4, 4))
        extrinsic = np.reshape(block["extrinsic"], (4, 4))
        width, height = (int(v) for v in block["size"])
        cameras[index] = Camera(
            str(index), intrinsic[0, 0], intrinsic[1, 1], intrinsic[0, 2], intrinsic[1, 2], width, height,
            _nearest_rotation(extrinsic[:3, :3]), extrinsic[:3, 3] / MILLIMETRES_PER_METRE,
        )  # fmt: skip
    return cameras
