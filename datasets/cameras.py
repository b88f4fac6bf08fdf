"""Cameras: intrinsics with the Human3.6M distortion model, extrinsics, projection, look-at cameras.

Conventions (all functions accept numpy arrays and torch tensors through one code path):

- Extrinsics map world to camera: ``X_cam = rotation @ X_world + translation``, metres. The camera frame has
  +z along the optical axis, +x to the right of the image and +y down it. Worlds are z-up (Human3.6M,
  HumanEva-I, AMASS).
- Projection is the model the field uses for Human3.6M (VideoPose3D ``project_to_2d``; the ground-truth 2D of
  ``data_2d_h36m_gt.npz`` is exactly this projection)::

      x, y = X / Z, Y / Z                      (clamped to [-1, 1] first, see below)
      r2 = x^2 + y^2
      radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3
      tangential = p1 x + p2 y
      (x_d, y_d) = (x, y) * (radial + tangential) + (p1, p2) * r2
      pixel = (fx x_d + cx, fy y_d + cy)

  This is the simplified tangential form the field uses, NOT full Brown-Conrady as in OpenCV (whose
  tangential terms are ``2 p1 x y + p2 (r2 + 2 x^2)`` and ``p1 (r2 + 2 y^2) + 2 p2 x y``).
- ``clamp=True`` (the default, as VideoPose3D) limits ``X/Z`` and ``Y/Z`` to [-1, 1] before distorting: the
  distortion polynomial is fitted inside the image and meaningless far outside it (for Human3.6M's cameras
  |x| = 1 lies about 650 px beyond the image border, so the clamp never changes in-image points and
  ``unproject(project(p))`` round-trips there).

Which projected points a camera sees (``out_of_frame_mask``: in front of it and inside its image) is decided
here once: the AMASS conversion records each view's ``out_of_frame_ratio``, the viewer marks the frames with
any joint out of frame.

The published rigs (Human3.6M, HumanEva-I) are read from package data by ``datasets.camera_rigs``.

    >>> from datasets.camera_rigs import h36m_cameras
    >>> camera = h36m_cameras("S9")[0]
    >>> camera.name, camera.width, camera.height
    ('54138969', 1000, 1002)
    >>> import numpy as np
    >>> pixel = project(world_to_camera(np.array([0.0, 0.0, 1.0]), camera), camera)
    >>> bool(0 < pixel[0] < camera.width and 0 < pixel[1] < camera.height)
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from datasets.array_kinds import ArrayOrTensor, torch_if_tensor

NORMALIZED_COORDINATE_LIMIT = 1.0
"""VideoPose3D ``project_to_2d`` clamps X/Z and Y/Z to [-1, 1] before distorting (docs/formats.md 1.5)."""

ROTATION_TOLERANCE = 1e-5
"""Largest |R R^T - I| entry accepted as a rotation (leaves room for float32 round trips)."""

_INDEX_SCALARS = ("fx", "fy", "cx", "cy", "width", "height")

UNDISTORT_MAX_ITERATIONS = 100
"""Upper bound on fixed-point iterations in ``unproject``; Human3.6M image corners converge in 7-10."""


@dataclass(frozen=True)
class Camera:
    """One calibrated camera.

    Attributes:
        name: Camera id, e.g. ``"54138969"`` or ``"virtual_0"``.
        fx: Focal length along x, pixels; NaN, like ``fy``, ``cx``, ``cy``, when intrinsics are unknown.
        fy: Focal length along y, pixels.
        cx: Principal point x, pixels.
        cy: Principal point y, pixels.
        width: Image width, pixels.
        height: Image height, pixels.
        rotation: (3, 3) float64, world -> camera.
        translation: (3,) float64, metres: ``X_cam = rotation @ X_world + translation``.
        radial: (k1, k2, k3).
        tangential: (p1, p2), Human3.6M's simplified form (module docstring).
    """

    name: str
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    rotation: np.ndarray
    translation: np.ndarray
    radial: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tangential: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        where = f"camera {self.name}"
        fx, fy, cx, cy = intrinsics = [float(v) for v in (self.fx, self.fy, self.cx, self.cy)]
        if not (np.isnan(intrinsics).all() or np.isfinite(intrinsics).all() and min(fx, fy) > 0):
            raise ValueError(f"{where}: fx, fy, cx, cy must be finite (fx, fy > 0) or all NaN; {intrinsics}")
        size = (self.width, self.height)
        if any(int(v) != v or v <= 0 for v in size):
            raise ValueError(f"{where}: width and height must be positive integers, got {size}")
        rotation = np.array(self.rotation, dtype=np.float64)
        translation = np.array(self.translation, dtype=np.float64)
        if rotation.shape != (3, 3) or translation.shape != (3,) or not np.isfinite(translation).all():
            raise ValueError(f"{where}: needs a (3, 3) rotation, a finite (3,) translation; t={translation}")
        error, determinant = float(np.abs(rotation @ rotation.T - np.eye(3)).max()), np.linalg.det(rotation)
        if error > ROTATION_TOLERANCE or determinant <= 0:
            message = f"|R R^T - I| = {error:.1e}, det = {determinant:.6f}"
            raise ValueError(f"{where}: rotation must be orthonormal with det > 0, got {message}")
        radial, tangential = tuple(map(float, self.radial)), tuple(map(float, self.tangential))
        if len(radial) != 3 or len(tangential) != 2:
            raise ValueError(f"{where}: needs 3 radial and 2 tangential terms, got {radial}, {tangential}")
        rotation.flags.writeable = translation.flags.writeable = False
        normalized = dict(fx=fx, fy=fy, cx=cx, cy=cy, width=int(self.width), height=int(self.height))
        normalized |= dict(rotation=rotation, translation=translation, radial=radial, tangential=tangential)
        for field_name, value in normalized.items():  # frozen: bypass __setattr__ to store converted values
            object.__setattr__(self, field_name, value)

    def _numbers(self) -> np.ndarray:
        """Every number of the camera in one float64 vector (for equality and hashing)."""
        scalars = [getattr(self, key) for key in _INDEX_SCALARS] + [*self.radial, *self.tangential]
        return np.concatenate([scalars, self.rotation.ravel(), self.translation])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Camera):
            return NotImplemented
        return self.name == other.name and np.array_equal(self._numbers(), other._numbers(), equal_nan=True)

    def __hash__(self) -> int:
        numbers = np.nan_to_num(self._numbers(), nan=0.0) + 0.0  # + 0.0 turns -0.0 into 0.0
        return hash((self.name, numbers.tobytes()))

    @property
    def center(self) -> np.ndarray:
        """(3,) float64, the camera centre in world coordinates, metres."""
        return -self.rotation.T @ self.translation

    @property
    def has_intrinsics(self) -> bool:
        """Whether focal lengths and principal point are known (HumanEva-I cameras have none)."""
        return not math.isnan(self.fx)

    @property
    def has_distortion(self) -> bool:
        """Whether any distortion coefficient is non-zero."""
        return any(self.radial) or any(self.tangential)

    def to_index_row(self) -> dict[str, Any]:
        """Plain-Python index columns: fx, fy, cx, cy, k, p, R (9, row-major), t, width, height."""
        row = {key: getattr(self, key) for key in _INDEX_SCALARS}
        extrinsics = {"R": self.rotation.ravel().tolist(), "t": self.translation.tolist()}
        return row | {"k": list(self.radial), "p": list(self.tangential)} | extrinsics

    @classmethod
    def from_index_row(cls, row: Mapping[str, Any], name: str = "") -> Camera:
        """Rebuild a camera from ``to_index_row``'s columns (lists or arrays); the inverse of it."""
        rotation = np.asarray(row["R"], dtype=np.float64).reshape(3, 3)
        scalars = (row[key] for key in _INDEX_SCALARS)
        return cls(name, *scalars, rotation, row["t"], radial=tuple(row["k"]), tangential=tuple(row["p"]))

    def videopose3d_intrinsics(self) -> np.ndarray:
        """(9,) float64 ``[fx_n, fy_n, cx_n, cy_n, k1, k2, k3, p1, p2]`` in normalised screen units.

        VideoPose3D's camera vector (docs/formats.md 1.5): ``f_n = f / width * 2``,
        ``c_n = pixels_to_normalized(c)``.
        """
        self._require_intrinsics()
        centre = pixels_to_normalized(np.array([self.cx, self.cy]), self.width, self.height)
        focal = np.array([self.fx, self.fy]) / self.width * 2.0
        return np.concatenate([focal, centre, self.radial, self.tangential])

    def _require_intrinsics(self) -> None:
        if not self.has_intrinsics:
            raise ValueError(
                f"camera {self.name} has no intrinsics (NaN, as for HumanEva-I, where VideoPose3D publishes "
                "none), so it cannot project or unproject; use the source's own 2D keypoints"
            )


def _like(values: Any, reference: ArrayOrTensor) -> ArrayOrTensor:
    """``values`` as the same kind of array as ``reference`` (dtype and device too)."""
    torch = torch_if_tensor(reference)
    if torch is not None:
        return torch.tensor(np.asarray(values), dtype=reference.dtype, device=reference.device)
    return np.asarray(values, dtype=reference.dtype)


def _floating(points: ArrayOrTensor) -> ArrayOrTensor:
    """Numpy input as a floating array (integers become float64); tensors must already be floating."""
    if torch_if_tensor(points) is not None:
        if not points.is_floating_point():
            raise TypeError(f"expected a floating-point tensor, got {points.dtype}")
        return points
    points = np.asarray(points)
    return points if np.issubdtype(points.dtype, np.floating) else points.astype(np.float64)


def _stack(parts: Sequence[ArrayOrTensor]) -> ArrayOrTensor:
    torch = torch_if_tensor(parts[0])
    return torch.stack(list(parts), dim=-1) if torch is not None else np.stack(parts, axis=-1)


def _check_last_axis(points: ArrayOrTensor, size: int, what: str) -> None:
    if points.ndim < 1 or points.shape[-1] != size:
        raise ValueError(f"{what} must be (..., {size}), got shape {tuple(points.shape)}")


def world_to_camera(points_world: ArrayOrTensor, camera: Camera) -> ArrayOrTensor:
    """Map world points into the camera frame.

    Args:
        points_world: (..., 3) metres, world frame (numpy or torch).
        camera: The camera.

    Returns:
        (..., 3) metres, camera frame, same type/dtype/device.
    """
    points_world = _floating(points_world)
    _check_last_axis(points_world, 3, "points_world")
    return points_world @ _like(camera.rotation, points_world).T + _like(camera.translation, points_world)


def camera_to_world(points_camera: ArrayOrTensor, camera: Camera) -> ArrayOrTensor:
    """Map camera-frame points (..., 3) metres to world points (..., 3) metres; inverse of world_to_camera."""
    points_camera = _floating(points_camera)
    _check_last_axis(points_camera, 3, "points_camera")
    return (points_camera - _like(camera.translation, points_camera)) @ _like(camera.rotation, points_camera)


def _distortion_terms(x: ArrayOrTensor, y: ArrayOrTensor, camera: Camera) -> tuple[ArrayOrTensor, ArrayOrTensor]:
    """``(radial + tangential, r2)`` at normalised image coordinates (module docstring)."""
    (k1, k2, k3), (p1, p2) = camera.radial, camera.tangential
    r2 = x * x + y * y
    return 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3)) + p1 * x + p2 * y, r2


def _distort(x: ArrayOrTensor, y: ArrayOrTensor, camera: Camera) -> tuple[ArrayOrTensor, ArrayOrTensor]:
    """Apply Human3.6M's distortion to normalised image coordinates."""
    scale, r2 = _distortion_terms(x, y, camera)
    return x * scale + camera.tangential[0] * r2, y * scale + camera.tangential[1] * r2


def project(points_camera: ArrayOrTensor, camera: Camera, distort: bool = True, *, clamp: bool = True) -> ArrayOrTensor:
    """Project camera-frame points to pixels.

    Args:
        points_camera: (..., 3) metres, camera frame, Z > 0 (points behind the camera give meaningless
            pixels).
        camera: A camera with intrinsics.
        distort: Apply the camera's distortion (False: VideoPose3D's ``project_to_2d_linear``).
        clamp: Clamp X/Z and Y/Z to [-1, 1] first, as VideoPose3D does (module docstring).

    Returns:
        (..., 2) pixels, same type/dtype/device.
    """
    camera._require_intrinsics()
    points_camera = _floating(points_camera)
    _check_last_axis(points_camera, 3, "points_camera")
    x = points_camera[..., 0] / points_camera[..., 2]
    y = points_camera[..., 1] / points_camera[..., 2]
    if clamp:
        limit = NORMALIZED_COORDINATE_LIMIT
        x, y = (v.clamp(-limit, limit) if torch_if_tensor(v) is not None else np.clip(v, -limit, limit) for v in (x, y))
    if distort:
        x, y = _distort(x, y, camera)
    return _stack([camera.fx * x + camera.cx, camera.fy * y + camera.cy])


def _max_abs(values: ArrayOrTensor) -> float:
    return float(abs(values).max()) if math.prod(values.shape) else 0.0


def unproject(pixels: ArrayOrTensor, depth: ArrayOrTensor | float, camera: Camera) -> ArrayOrTensor:
    """Lift pixels with known depth back to camera-frame points (inverse of ``project`` inside the image).

    Distortion is removed by the fixed-point iteration ``(x, y) <- ((x_d, y_d) - (p1, p2) r2) / scale(x, y)``
    until the update is below a few float epsilons (at most ``UNDISTORT_MAX_ITERATIONS`` rounds). Clamped
    projections cannot be inverted.

    Args:
        pixels: (..., 2) pixels (numpy or torch).
        depth: (...) metres, the camera-frame Z of each point (broadcast against ``pixels[..., 0]``).
        camera: A camera with intrinsics.

    Returns:
        (..., 3) metres, camera frame, same type/dtype/device as ``pixels``.
    """
    camera._require_intrinsics()
    pixels = _floating(pixels)
    _check_last_axis(pixels, 2, "pixels")
    depth = _like(depth, pixels)
    distorted_x = (pixels[..., 0] - camera.cx) / camera.fx
    distorted_y = (pixels[..., 1] - camera.cy) / camera.fy
    x, y = distorted_x, distorted_y
    if camera.has_distortion:
        torch = torch_if_tensor(pixels)
        eps = torch.finfo(pixels.dtype).eps if torch is not None else np.finfo(pixels.dtype).eps
        (p1, p2), tolerance = camera.tangential, 4.0 * float(eps)
        for _ in range(UNDISTORT_MAX_ITERATIONS):
            scale, r2 = _distortion_terms(x, y, camera)
            new_x, new_y = (distorted_x - p1 * r2) / scale, (distorted_y - p2 * r2) / scale
            change = max(_max_abs(new_x - x), _max_abs(new_y - y))
            x, y = new_x, new_y
            if change <= tolerance:
                break
    return _stack([x * depth, y * depth, depth + 0.0 * x])


def pixels_to_normalized(pixels: ArrayOrTensor, width: int, height: int) -> ArrayOrTensor:
    """Pixels to VideoPose3D's screen coordinates: ``pixels / width * 2 - [1, height / width]``.

    Args:
        pixels: (..., 2) pixels.
        width: Image width, pixels.
        height: Image height, pixels.

    Returns:
        (..., 2): x in [-1, 1] across the image, y scaled by the same factor (aspect ratio kept), so y spans
        [-height / width, height / width].
    """
    pixels = _floating(pixels)
    _check_last_axis(pixels, 2, "pixels")
    return pixels / width * 2.0 - _like([1.0, height / width], pixels)


def look_at_camera(
    name: str,
    position_world: Sequence[float] | np.ndarray,
    target_world: Sequence[float] | np.ndarray,
    up_world: Sequence[float] | np.ndarray = (0.0, 0.0, 1.0),
    *,
    fx: float,
    fy: float,
    cx: float,
    cy: float,
    width: int,
    height: int,
    radial: tuple[float, float, float] = (0.0, 0.0, 0.0),
    tangential: tuple[float, float] = (0.0, 0.0),
) -> Camera:
    """A (virtual) camera at ``position_world`` whose optical axis points at ``target_world``.

    The image's "up" is ``up_world`` (default +z, the z-up worlds of Human3.6M and AMASS): camera +y (image
    down) is the component of ``-up_world`` orthogonal to the viewing direction.

    Args:
        name: Camera name, e.g. ``"virtual_0"``.
        position_world: (3,) camera centre, metres, world frame.
        target_world: (3,) point the camera looks at, metres, world frame.
        up_world: (3,) world direction that appears upward in the image; must not be parallel to the view.
        fx: Focal length along x, pixels (this and the following are keyword-only).
        fy: Focal length along y, pixels.
        cx: Principal point x, pixels.
        cy: Principal point y, pixels.
        width: Image width, pixels.
        height: Image height, pixels.
        radial: (k1, k2, k3).
        tangential: (p1, p2), Human3.6M's simplified form.

    Returns:
        The camera.
    """
    position = np.asarray(position_world, dtype=np.float64)
    forward = np.asarray(target_world, dtype=np.float64) - position
    right = np.cross(forward, np.asarray(up_world, dtype=np.float64))
    if np.linalg.norm(forward) == 0 or np.linalg.norm(right) <= 1e-9 * np.linalg.norm(forward):
        raise ValueError(
            f"look_at_camera {name}: target must differ from position and the view must not be parallel to "
            f"up_world, got position {position}, target {target_world}, up {up_world}"
        )
    forward, right = forward / np.linalg.norm(forward), right / np.linalg.norm(right)
    rotation = np.stack([right, np.cross(forward, right), forward])  # rows: camera x, y (down), z axes
    translation = -rotation @ position
    return Camera(name, fx, fy, cx, cy, width, height, rotation, translation, radial, tangential)


def out_of_frame_mask(points_camera: np.ndarray, pixels: np.ndarray, camera: Camera) -> np.ndarray:
    """Which points are behind the camera or projected outside the image.

    Args:
        points_camera: (..., 3) metres, camera frame.
        pixels: (..., 2) their projections, pixels.
        camera: The camera (image size).

    Returns:
        (...) bool.
    """
    behind = points_camera[..., 2] <= 0.0
    outside = (
        (pixels[..., 0] < 0)
        | (pixels[..., 0] >= camera.width)
        | (pixels[..., 1] < 0)
        | (pixels[..., 1] >= camera.height)
    )
    return behind | outside


def out_of_frame_ratio(points_camera: np.ndarray, pixels: np.ndarray, camera: Camera) -> float:
    """Fraction of (frame, joint) points behind the camera or projected outside the image.

    Args:
        points_camera: (T, J, 3) metres, camera frame.
        pixels: (T, J, 2) their projections, pixels.
        camera: The camera (image size).

    Returns:
        A ratio in [0, 1]; 0 for an empty sequence.
    """
    if points_camera.size == 0:
        return 0.0
    return float(np.mean(out_of_frame_mask(points_camera, pixels, camera)))
