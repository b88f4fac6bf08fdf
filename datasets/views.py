"""What every source reader hands to the pose store: views, and the items it refused.

A *view* is one sequence seen by one camera (real or virtual). Readers turn their source files into
``View`` objects and ``Rejection`` records; the pose store (``datasets.store``) concatenates views along
the frame axis and writes one index row per view. Readers never write the store themselves, so each
reader is a plain function that can be tested without Zarr, Dask or Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from datasets.cameras import Camera

SPLITS = ("train", "validation", "test", "unlabelled")
"""Allowed values of a view's ``split``."""


@dataclass
class View:
    """One sequence seen by one camera, in the store's units.

    Attributes:
        dataset: Dataset name, e.g. ``"h36m"``, ``"amass"``, ``"mpi_inf_3dhp"``, ``"humaneva"``.
        subset: Part of the dataset, e.g. AMASS sub-dataset ``"CMU"``, or ``"train"``/``"test"`` folders.
        subject: Subject id as the source names it, e.g. ``"S1"``.
        action: Normalised base action, e.g. ``"Walking"``; ``""`` when the source has none.
        sequence: Sequence name unique within (dataset, subset, subject), e.g. ``"Walking 1"``.
        split: One of ``SPLITS``.
        fps: Frame rate of the stored frames, Hz.
        camera: The camera the view is seen by; its parameters go into the index row.
        joints_3d: (T, J, 3) float32, metres, camera frame.
        keypoints_2d: (T, J, 2) float32, pixels (ground-truth projection or the source's own 2D).
        extra_keypoints: Detector outputs by source name, each (T, J, 2 or 3) float32 pixels (3rd channel:
            confidence); stored as arrays ``keypoints_2d_<name>``.
        valid: (T,) bool, frames to evaluate; ``None`` means every frame is valid.
        extra_columns: Additional index columns for this view (e.g. ``out_of_frame_ratio``); every view of
            one store must carry the same keys.
        per_frame: Additional per-frame arrays by name, each (T,), e.g. MPI-INF-3DHP's ``activity`` codes;
            stored as arrays of that name. Every view of one store must carry the same names.
        joints_world: (T, J, 3) float32 metres, world frame, for a virtual-camera view of a sequence (AMASS);
            ``joints_3d`` and ``keypoints_2d`` must then be ``datasets.store.world.film_world`` of it and the
            camera. The store keeps only this array, once per sequence, and derives the camera-frame ones
            (schema 2, ``docs/store.md``). None: the camera-frame arrays are stored as they are (real cameras,
            sources with their own 2D).
    """

    dataset: str
    subset: str
    subject: str
    action: str
    sequence: str
    split: str
    fps: float
    camera: Camera
    joints_3d: np.ndarray
    keypoints_2d: np.ndarray
    extra_keypoints: dict[str, np.ndarray] = field(default_factory=dict)
    valid: np.ndarray | None = None
    extra_columns: dict[str, Any] = field(default_factory=dict)
    per_frame: dict[str, np.ndarray] = field(default_factory=dict)
    joints_world: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"View split must be one of {SPLITS}, got {self.split!r} ({self.describe()})")
        if self.fps <= 0:
            raise ValueError(f"View fps must be positive, got {self.fps} ({self.describe()})")
        frames = len(self.joints_3d)
        if self.joints_3d.ndim != 3 or self.joints_3d.shape[2] != 3:
            raise ValueError(f"joints_3d must be (T, J, 3), got {self.joints_3d.shape} ({self.describe()})")
        expected_2d = (frames, self.joints_3d.shape[1], 2)
        if self.keypoints_2d.shape != expected_2d:
            raise ValueError(
                f"keypoints_2d must be {expected_2d} to match joints_3d, got {self.keypoints_2d.shape} "
                f"({self.describe()})"
            )
        for name, keypoints in self.extra_keypoints.items():
            if keypoints.shape[:2] != expected_2d[:2] or keypoints.shape[2] not in (2, 3):
                raise ValueError(
                    f"keypoints_2d_{name} must be ({frames}, {expected_2d[1]}, 2 or 3), got {keypoints.shape} "
                    f"({self.describe()})"
                )
        for name, values in self.per_frame.items():
            if values.shape != (frames,):
                raise ValueError(f"per-frame {name!r} must be ({frames},), got {values.shape} ({self.describe()})")
        if self.joints_world is not None and self.extra_keypoints:
            raise ValueError(
                f"A world-frame view derives its 2D from its camera; it carries no detections ({self.describe()})"
            )
        if self.joints_world is not None and self.joints_world.shape != self.joints_3d.shape:
            raise ValueError(
                f"joints_world must be {self.joints_3d.shape} like joints_3d, got {self.joints_world.shape} "
                f"({self.describe()})"
            )
        if self.valid is not None and self.valid.shape != (frames,):
            raise ValueError(f"valid must be ({frames},), got {self.valid.shape} ({self.describe()})")

    @property
    def frames(self) -> int:
        """Number of frames T."""
        return len(self.joints_3d)

    def describe(self) -> str:
        """Human-readable identity, for error messages: ``h36m/S1/Walking 1/54138969``."""
        return f"{self.dataset}/{self.subset}/{self.subject}/{self.sequence}/{self.camera.name}"


@dataclass(frozen=True)
class Rejection:
    """A source item a reader refused, with the reason; stored in a version's ``rejected`` table.

    Attributes:
        path: The file (or ``file::key`` for an item inside a file) that was refused.
        reason: A short machine-friendly reason, e.g. ``"missing_key"``, ``"nan_values"``.
        detail: One sentence for a person: what was wrong and, where possible, the fix.
    """

    path: str
    reason: str
    detail: str
