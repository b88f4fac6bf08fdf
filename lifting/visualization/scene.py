"""What the viewer and the video draw: each view's skeletons, camera and 2D keypoints in one display frame.

A ``ViewScene`` is computed once, in Python, from the pose store (``datasets.store``) and optionally an
evaluation's predictions; the HTML viewer (``html``) and the video renderer (``video``) only draw its numbers,
so both show the same thing.

Display frame: the store's world rotated so that "up" is +z. The world's up axis is the signed world axis
closest to the first camera's image-up direction (``-rotation[1]``): +z for Human3.6M, HumanEva-I and AMASS
(z-up worlds), +y for MPI-INF-3DHP's calibrated test cameras, -y for its training views, whose world is the
camera frame.

    scenes = build_scenes(store, [0, 1, 2, 3])                      # one sequence in its four cameras
    scenes = build_scenes(store, [12], predictions={12: predicted})   # with a prediction and its errors
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from datasets.cameras import Camera, camera_to_world, out_of_frame_mask, project, unproject
from datasets.skeletons import get_skeleton
from datasets.store import PoseStore
from datasets.units import MILLIMETRES_PER_METRE
from datasets.windows.codec import restore_root, root_relative
from lifting.metrics import per_joint_position_error
from lifting.visualization.selection import sequence_key
from lifting.visualization.style import AZIMUTH_OFFSET_RAD, ELEVATION_RAD

FRUSTUM_DEPTH_M = 0.4
"""Distance from a camera's centre to the image rectangle drawn for it, metres."""
NOMINAL_FOCAL_PER_WIDTH = 1.0
"""Cameras without intrinsics (HumanEva-I, MPI-INF-3DHP training) are drawn with ``fx = fy = width``."""
MINIMUM_RADIUS_M = 0.5
"""Smallest radius a 3D panel fits (a body standing still still gets a readable size)."""
FRUSTUM_MARGIN_M = 0.3
"""Room kept around a camera centre when the 3D panel fits the whole scene, metres."""


@dataclass(frozen=True)
class ViewScene:
    """One view, ready to draw. ``T`` frames, ``J`` joints; display frame z-up, metres.

    Attributes:
        view_id: The store's view id.
        title: ``dataset subset subject sequence, camera NAME``.
        sequence: ``dataset/subset/subject/sequence``: views sharing it show one motion (one world).
        camera: The camera's name.
        fps: Frames per second, Hz.
        width: Image width, pixels.
        height: Image height, pixels.
        bones: (parent, child) joint pairs.
        truth: (T, J, 3) float32, ground truth in the display frame.
        keypoints: (T, J, 2) float32, the store's 2D keypoints, pixels.
        frustum: (8, 2, 3) float32, the camera's frustum as segments (4 from the centre to the image corners,
            4 around the image rectangle at ``FRUSTUM_DEPTH_M``), display frame.
        out_of_frame: (T,) bool, frames where a joint is behind the camera or projects outside the image.
        prediction: (T, J, 3) float32 or None, the prediction placed at the ground truth's root, display frame.
        reprojection: (T, J, 2) float32 or None, ``prediction`` projected into the image, pixels.
        joint_error_mm: (T, J) float32 or None, root-relative per-joint error (MPJPE's terms), millimetres.
        frame_mpjpe_mm: (T,) float32 or None, each frame's MPJPE, millimetres.
        truth_label: What ``truth`` is, shown in the 3D panel (``"ground truth"``; a lifted sequence drawn
            alone says so).
    """

    view_id: int
    title: str
    sequence: str
    camera: str
    fps: float
    width: int
    height: int
    bones: tuple[tuple[int, int], ...]
    truth: np.ndarray
    keypoints: np.ndarray
    frustum: np.ndarray
    out_of_frame: np.ndarray
    prediction: np.ndarray | None = None
    reprojection: np.ndarray | None = None
    joint_error_mm: np.ndarray | None = None
    frame_mpjpe_mm: np.ndarray | None = None
    truth_label: str = "ground truth"

    @property
    def frames(self) -> int:
        """Number of frames T."""
        return len(self.truth)

    def clip(self, start: int = 0, length: int | None = None) -> ViewScene:
        """Frames ``[start, start + length)`` only (``length`` None: to the end)."""
        if not 0 <= start < self.frames or (length is not None and length < 1):
            raise ValueError(f"view {self.view_id}: cannot clip {self.frames} frames to start {start}, length {length}")
        frames = slice(start, None if length is None else start + length)
        per_frame = ("truth", "keypoints", "out_of_frame", "prediction", "reprojection", "joint_error_mm",
                     "frame_mpjpe_mm")  # fmt: skip
        clipped = {name: getattr(self, name)[frames] for name in per_frame if getattr(self, name) is not None}
        return dataclasses.replace(self, **clipped)


def index_row(store: PoseStore, view_id: int) -> dict:
    """The store's index row of ``view_id`` as a plain dict."""
    rows = np.flatnonzero(store.index["view_id"].to_numpy() == int(view_id))
    if not len(rows):
        store.view_range(view_id)  # raises KeyError naming the valid range
    return store.index.slice(int(rows[0]), 1).to_pylist()[0]


def view_camera(row: Mapping) -> Camera:
    """The camera of an index row."""
    return Camera.from_index_row(row, name=str(row["camera"]))


def display_rotation(camera: Camera) -> np.ndarray:
    """(3, 3) rotation taking world coordinates to the z-up display frame (module docstring).

    Rows ``(e_{i+1}, s e_{i+2}, s e_i)`` for up axis ``s e_i``: a cyclic permutation with signs, det +1.
    """
    image_up = -camera.rotation[1]
    axis = int(np.argmax(np.abs(image_up)))
    sign = 1.0 if image_up[axis] > 0 else -1.0
    eye = np.eye(3)
    return np.stack([eye[(axis + 1) % 3], sign * eye[(axis + 2) % 3], sign * eye[axis]])


def frustum_segments(camera: Camera, depth: float = FRUSTUM_DEPTH_M) -> np.ndarray:
    """(8, 2, 3) world-frame segments of a camera's frustum: centre to 4 image corners, and the rectangle."""
    if not camera.has_intrinsics:
        focal = NOMINAL_FOCAL_PER_WIDTH * camera.width
        camera = Camera(camera.name, focal, focal, camera.width / 2, camera.height / 2, camera.width,
                        camera.height, camera.rotation, camera.translation)  # fmt: skip
    corners_pixels = np.array([[0, 0], [camera.width, 0], [camera.width, camera.height], [0, camera.height]], float)
    corners = camera_to_world(unproject(corners_pixels, depth, camera), camera)
    centre = np.broadcast_to(camera.center, corners.shape)
    rectangle = np.stack([corners, np.roll(corners, -1, axis=0)], axis=1)
    return np.concatenate([np.stack([centre, corners], axis=1), rectangle]).astype(np.float32)


def _title(row: Mapping) -> str:
    parts = [row["dataset"], row["subset"], row["subject"], row["sequence"]]
    return " ".join(str(part) for part in parts if part) + f", camera {row['camera']}"


def build_scene(
    store: PoseStore,
    view_id: int,
    rotation: np.ndarray,
    prediction: np.ndarray | None = None,
    keypoints: str = "keypoints_2d",
) -> ViewScene:
    """One view's ``ViewScene``.

    Args:
        store: The pose store.
        view_id: The view.
        rotation: (3, 3) world -> display frame (``display_rotation``).
        prediction: (T, J, 3) metres, camera frame (any root offset: it is re-centred on the truth's root).
        keypoints: Store array drawn as the 2D keypoints (``keypoints_2d`` or a detector's).

    Returns:
        The scene.
    """
    row = index_row(store, view_id)
    camera = view_camera(row)
    skeleton = get_skeleton(store.skeleton)
    root = skeleton.root
    truth_camera = store.read("joints_3d", view_id).astype(np.float64)
    pixels = store.read(keypoints, view_id)[..., :2].astype(np.float32)
    projected = project(truth_camera, camera) if camera.has_intrinsics else pixels
    out_of_frame = out_of_frame_mask(truth_camera, projected, camera).any(axis=-1)

    def to_display(points_camera: np.ndarray) -> np.ndarray:
        return (camera_to_world(points_camera, camera) @ rotation.T).astype(np.float32)

    extra = {}
    if prediction is not None:
        prediction = np.asarray(prediction, dtype=np.float64)
        if prediction.shape != truth_camera.shape:
            raise ValueError(f"view {view_id}: prediction {prediction.shape} does not match {truth_camera.shape}")
        placed = restore_root(root_relative(prediction, root), truth_camera[:, root])
        errors = per_joint_position_error(prediction, truth_camera, root=root) * MILLIMETRES_PER_METRE
        extra = {
            "prediction": to_display(placed),
            "reprojection": project(placed, camera).astype(np.float32) if camera.has_intrinsics else None,
            "joint_error_mm": errors.astype(np.float32),
            "frame_mpjpe_mm": errors.mean(axis=-1).astype(np.float32),
        }
    frustum = (frustum_segments(camera) @ rotation.T).astype(np.float32)
    return ViewScene(
        view_id=int(view_id), title=_title(row), sequence="/".join(sequence_key(row)), camera=camera.name,
        fps=float(row["fps"]),
        width=camera.width, height=camera.height,
        bones=skeleton.bones, truth=to_display(truth_camera), keypoints=pixels, frustum=frustum,
        out_of_frame=out_of_frame, **extra,
    )  # fmt: skip


def build_scenes(
    store: PoseStore,
    view_ids: Sequence[int],
    predictions: Mapping[int, np.ndarray] | None = None,
    keypoints: str = "keypoints_2d",
) -> list[ViewScene]:
    """Scenes of several views in one display frame (the first view's camera decides "up").

    Args:
        store: The pose store.
        view_ids: Views, drawn side by side in this order.
        predictions: View id -> (T, J, 3) metres, camera frame; views without one show the ground truth only.
        keypoints: Store array drawn as the 2D keypoints.

    Returns:
        One ``ViewScene`` per view.
    """
    if not view_ids:
        raise ValueError("build_scenes needs at least one view id")
    rotation = display_rotation(view_camera(index_row(store, view_ids[0])))
    predictions = predictions or {}
    return [build_scene(store, v, rotation, predictions.get(int(v)), keypoints) for v in view_ids]


@dataclass(frozen=True)
class Viewpoint:
    """Where a 3D panel looks from and what it fits; display frame, metres and radians.

    Attributes:
        centre: (3,) orbit centre: the root joint's mean position over the view's frames.
        body_radius: Largest distance of any joint, any frame, from ``centre`` (at least 0.5 m).
        scene_radius: ``body_radius`` grown to take in the frustums of every scene of the same sequence.
        ground: Height of the ground grid: the lowest joint of any frame.
        azimuth: Initial azimuth of the eye around +z, ``AZIMUTH_OFFSET_RAD`` beside the view's camera.
        elevation: Initial elevation of the eye above the ground plane.
    """

    centre: np.ndarray
    body_radius: float
    scene_radius: float
    ground: float
    azimuth: float
    elevation: float


def viewpoint(scene: ViewScene, scenes: Sequence[ViewScene], root: int) -> Viewpoint:
    """The initial ``Viewpoint`` of ``scene``'s 3D panel (``scenes``: all shown, for the scene radius)."""
    centre = scene.truth[:, root].astype(np.float64).mean(axis=0)
    body = max(MINIMUM_RADIUS_M, float(np.linalg.norm(scene.truth - centre, axis=-1).max()))
    cameras = [other.frustum[0, 0] for other in scenes if other.sequence == scene.sequence]
    reach = max(float(np.linalg.norm(camera - centre)) + FRUSTUM_MARGIN_M for camera in cameras)
    camera_offset = scene.frustum[0, 0] - centre
    azimuth = float(np.arctan2(camera_offset[1], camera_offset[0])) + AZIMUTH_OFFSET_RAD
    return Viewpoint(centre, body, max(body, reach), float(scene.truth[..., 2].min()), azimuth, ELEVATION_RAD)
