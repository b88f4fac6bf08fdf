"""Convert one AMASS motion file into views (one per virtual camera), or say why not.

``convert_amass_file(item, config)`` is the unit of parallel work: a top-level function of plain, picklable
arguments that never raises for a bad file; it returns ``list[View]`` or a ``Rejection`` whose ``reason`` is
one of ``RejectionReason``. Body models and regressors are loaded once per process (``lru_cache`` keyed by
paths), so calling it many times in one Dask worker costs one load per model.
``datasets.amass.checks.check_inputs`` runs once before any work and raises for inputs that would fail every
file.

Pipeline per file: read and validate the arrays; pick the gender's model (``AmassConfig.unknown_gender``);
plan the resampling to ``config.fps`` and evaluate the fast joint model (``datasets.amass.fast_joints``) at
only the source frames the plan needs; interpolate; place in the Human3.6M world; film with each camera.

torch (with the fast joint model) is imported by the first file a process converts, not with this module:
a process that only checks inputs and hands files to forked workers never needs it, and its import would be
most of the serial part of a parallel run (``docs/performance.md``, "Conversion workers").
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from datasets.amass.body_model import (
    GENDERS,
    POSE_WIDTHS,
    SKELETON_NAMES,
    dmpl_file,
    fit_betas,
    load_body_model,
    model_file,
)
from datasets.amass.config import AmassConfig
from datasets.amass.discovery import FRAME_RATE_KEYS, AmassFile, decode_text, model_type_for_width
from datasets.amass.regressor import load_regressor
from datasets.amass.virtual_cameras import film, place_in_h36m_world, sequence_cameras
from datasets.errors import reraise_if_environment
from datasets.resample import apply_plan, resampling_plan
from datasets.safe_npz import NPY_SUFFIX, read_member_array
from datasets.skeletons import joint_mapping
from datasets.source_entries import entry_problem, open_regular
from datasets.views import Rejection, View

if TYPE_CHECKING:
    from datasets.amass.fast_joints import FoldedJointModel

DATASET_NAME = "amass"

REQUIRED_KEYS = ("poses", "trans", "betas")
"""Keys a motion file must have, besides a frame rate (docs/formats.md 4.2, 4.3). A missing ``gender`` counts as
an unknown gender (rejected, or posed with the neutral model under ``unknown_gender="neutral"``)."""

EXTRA_COLUMNS = ("out_of_frame_ratio", "source_fps", "source_frames", "gender", "model_type")
"""Index columns every AMASS view carries in ``View.extra_columns``."""


class RejectionReason(StrEnum):
    """Why a file was not converted (the ``reason`` column of a version's ``rejected`` table)."""

    UNREADABLE_FILE = "unreadable_file"  # not a zip / truncated / corrupt member
    MISSING_KEY = "missing_key"
    MISSING_FRAME_RATE = "missing_frame_rate"
    INVALID_FRAME_RATE = "invalid_frame_rate"  # zero, negative, NaN or infinite
    UNSUPPORTED_POSE_WIDTH = "unsupported_pose_width"  # neither 156 (SMPL+H) nor 165 (SMPL-X)
    ZERO_FRAMES = "zero_frames"
    INCONSISTENT_SHAPES = "inconsistent_shapes"  # trans/betas/dmpls do not fit poses
    NON_FINITE_VALUES = "non_finite_values"  # NaN or infinity in poses, trans, betas or dmpls
    UNKNOWN_GENDER = "unknown_gender"
    MISSING_BODY_MODEL = "missing_body_model"
    REGRESSOR_MISMATCH = "regressor_mismatch"  # the regressor's vertex count differs from the model's
    TOO_SHORT = "too_short"  # no frame at the target rate
    CONVERSION_ERROR = "conversion_error"  # anything unexpected; detail has the exception


class _Rejected(Exception):
    """Internal: stop converting a file with a reason."""

    def __init__(self, reason: RejectionReason, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Motion:
    """A validated motion file.

    Attributes:
        poses: (T, 3 J) float64 axis-angle, radians.
        trans: (T, 3) float64 metres, AMASS world.
        betas: (B,) float64 as stored.
        dmpls: (T, D) float64 or None.
        fps: Source frame rate, Hz.
        gender: The model gender to use (``GENDERS``).
        model_type: ``"smplh"`` or ``"smplx"``.
    """

    poses: np.ndarray
    trans: np.ndarray
    betas: np.ndarray
    dmpls: np.ndarray | None
    fps: float
    gender: str
    model_type: str

    @property
    def frames(self) -> int:
        """Source frame count T."""
        return len(self.poses)


def _read_arrays(path: Path, root: Path) -> dict[str, np.ndarray]:
    """The arrays a conversion needs (never the pickled ones SMPL-X files also hold).

    Only a regular file (or a link to one inside the archive ``root``) is opened, and each member's size is
    checked from its headers before it is inflated (``datasets.safe_npz.read_member_array``).
    """
    problem = entry_problem(path, root)
    if problem:
        raise _Rejected(RejectionReason.UNREADABLE_FILE, problem)
    try:
        with open_regular(path) as handle:
            if not zipfile.is_zipfile(handle):
                raise _Rejected(RejectionReason.UNREADABLE_FILE, "not an .npz (zip) archive: truncated or corrupt")
            with zipfile.ZipFile(handle) as archive:
                keys = {name.removesuffix(NPY_SUFFIX) for name in archive.namelist() if name.endswith(NPY_SUFFIX)}
                missing = [key for key in REQUIRED_KEYS if key not in keys]
                if missing:
                    raise _Rejected(RejectionReason.MISSING_KEY, f"missing key(s) {missing}; has {sorted(keys)}")
                rate_key = next((key for key in FRAME_RATE_KEYS if key in keys), None)
                if rate_key is None:
                    raise _Rejected(RejectionReason.MISSING_FRAME_RATE, f"none of {FRAME_RATE_KEYS} present")
                wanted = [*REQUIRED_KEYS, rate_key] + [key for key in ("gender", "dmpls") if key in keys]
                arrays = {key: read_member_array(archive, key, f"{path}::{key}") for key in wanted}
    except _Rejected:
        raise
    except Exception as error:  # bad zip, zlib.error (corrupt deflate stream), malformed npy header...
        reraise_if_environment(error)
        raise _Rejected(RejectionReason.UNREADABLE_FILE, f"{type(error).__name__}: {error}") from error
    arrays["fps"] = arrays.pop(rate_key)
    return arrays


def _resolve_gender(stored: np.ndarray | None, config: AmassConfig) -> str:
    gender = "" if stored is None else decode_text(stored).lower()
    if gender in GENDERS:
        return gender
    if config.unknown_gender == "neutral":
        return "neutral"
    raise _Rejected(
        RejectionReason.UNKNOWN_GENDER,
        f"gender {gender!r} is not one of {GENDERS}; convert it with the neutral model via unknown_gender='neutral'",
    )


def load_motion(path: Path, config: AmassConfig) -> Motion:
    """Read and validate a motion file.

    Args:
        path: An AMASS SMPL+H or SMPL-X ``.npz``.
        config: Conversion settings (gender policy).

    Returns:
        The motion.

    Raises:
        _Rejected: With the reason the file cannot be converted.
    """
    arrays = _read_arrays(path, config.amass_root)
    poses = arrays["poses"]
    if poses.ndim != 2 or model_type_for_width(poses.shape[1]) == "unknown":
        widths = " or ".join(f"(T, {width})" for width in POSE_WIDTHS.values())
        raise _Rejected(RejectionReason.UNSUPPORTED_POSE_WIDTH, f"poses must be {widths}, got {poses.shape}")
    frames = len(poses)
    if frames == 0:
        raise _Rejected(RejectionReason.ZERO_FRAMES, "poses has 0 frames")
    trans, betas, dmpls = arrays["trans"], arrays["betas"].reshape(-1), arrays.get("dmpls")
    if trans.shape != (frames, 3) or (dmpls is not None and (dmpls.ndim != 2 or len(dmpls) != frames)):
        shapes = f"trans {trans.shape}, dmpls {None if dmpls is None else dmpls.shape}"
        raise _Rejected(RejectionReason.INCONSISTENT_SHAPES, f"poses has {frames} frames but {shapes}")
    try:
        fps = float(arrays["fps"])
    except (TypeError, ValueError) as error:
        raise _Rejected(RejectionReason.INVALID_FRAME_RATE, f"frame rate {arrays['fps']!r} is not a number") from error
    if not (math.isfinite(fps) and fps > 0):
        raise _Rejected(RejectionReason.INVALID_FRAME_RATE, f"frame rate must be finite and positive, got {fps}")
    numeric = {"poses": poses, "trans": trans, "betas": betas} | ({} if dmpls is None else {"dmpls": dmpls})
    for key, values in numeric.items():
        if values.dtype.kind not in "fiu" or not np.isfinite(values).all():  # complex: not a pose
            raise _Rejected(
                RejectionReason.NON_FINITE_VALUES,
                f"{key} ({values.dtype}) contains NaN, infinite, complex or non-numeric values",
            )
    as_float = lambda values: np.asarray(values, dtype=np.float64)  # noqa: E731
    return Motion(
        poses=as_float(poses), trans=as_float(trans), betas=as_float(betas),
        dmpls=None if dmpls is None else as_float(dmpls), fps=fps,
        gender=_resolve_gender(arrays.get("gender"), config), model_type=model_type_for_width(poses.shape[1]),
    )  # fmt: skip


class RegressorMismatchError(ValueError):
    """The regressor's vertex count differs from the body model's."""


@lru_cache(maxsize=4)
def _regressor(path: str, order: str) -> np.ndarray:
    return load_regressor(Path(path), order)


@lru_cache(maxsize=16)
def joint_model(
    model_path: str, model_type: str, dmpl_path: str | None, regressor_path: str | None, regressor_order: str,
    num_betas: int, num_dmpls: int, device: str, precision: str,
) -> FoldedJointModel:  # fmt: skip
    """The folded 17-joint model for one model file, loaded once per process (arguments are cache keys).

    Args:
        model_path: Body-model file.
        model_type: ``"smplh"`` or ``"smplx"``.
        dmpl_path: DMPL file, or None.
        regressor_path: 17 x V regressor ``.npy``, or None for the model's joints mapped to H36M's 17.
        regressor_order: ``"spin"`` or ``"h36m"``.
        num_betas: Shape coefficients.
        num_dmpls: DMPL coefficients.
        device: Torch device.
        precision: ``"float32"`` or ``"float64"``.

    Returns:
        The folded model.

    Raises:
        RegressorMismatchError: If the regressor does not fit the model's vertices.
    """
    import torch

    from datasets.amass.fast_joints import fold_joint_model

    model = load_body_model(
        Path(model_path), model_type, num_betas, None if dmpl_path is None else Path(dmpl_path), num_dmpls
    )
    dtype = getattr(torch, precision)
    if regressor_path is None:
        indices = joint_mapping(SKELETON_NAMES[model_type], "h36m17")
        return fold_joint_model(model, joint_indices=indices, device=device, dtype=dtype)
    regressor = _regressor(regressor_path, regressor_order)
    if regressor.shape[1] != model.num_vertices:
        raise RegressorMismatchError(
            f"regressor {regressor_path} has {regressor.shape[1]} vertex columns, the {model_type} model "
            f"{model_path} has {model.num_vertices} vertices (a regressor fits one mesh topology only)"
        )
    return fold_joint_model(model, regressor=regressor, device=device, dtype=dtype)


def _model_for(motion: Motion, config: AmassConfig) -> FoldedJointModel:
    path = model_file(config.body_models, motion.model_type, motion.gender)
    if not path.is_file():
        raise _Rejected(RejectionReason.MISSING_BODY_MODEL, f"no {motion.model_type} model for gender "
                        f"{motion.gender!r}: {path} does not exist")  # fmt: skip
    dmpl_path = dmpl_file(config.body_models, motion.gender)
    use_dmpls = config.use_dmpls and config.num_dmpls > 0 and motion.model_type == "smplh" and dmpl_path.is_file()
    try:
        return joint_model(
            str(path), motion.model_type, str(dmpl_path) if use_dmpls else None,
            None if config.regressor is None else str(config.regressor), config.regressor_order,
            config.num_betas, config.num_dmpls, config.resolved_device, config.precision,
        )  # fmt: skip
    except RegressorMismatchError as error:
        raise _Rejected(RejectionReason.REGRESSOR_MISMATCH, str(error)) from error


def motion_joints(motion: Motion, config: AmassConfig) -> np.ndarray:
    """The motion's 17 joints at ``config.fps`` in AMASS's world.

    Args:
        motion: A validated motion.
        config: Conversion settings.

    Returns:
        (T_out, 17, 3) float64, metres, AMASS world (z up), standard H36M joint order; T_out >= 1.

    Raises:
        _Rejected: When the file has no model or too few frames.
    """
    plan = resampling_plan(motion.frames, motion.fps, config.fps)
    if plan.frames < 1:
        raise _Rejected(RejectionReason.TOO_SHORT, f"{motion.frames} frames at {motion.fps} Hz last less than "
                        f"one frame at {config.fps} Hz")  # fmt: skip
    import torch

    from datasets.amass.fast_joints import folded_joints

    folded = _model_for(motion, config)
    needed = plan.source_frames
    num_betas = folded.point_shapedirs.shape[0]
    betas = torch.as_tensor(fit_betas(motion.betas, num_betas))
    num_dmpls = folded.point_dmpldirs.shape[0]
    parts = []
    for start in range(0, len(needed), config.batch_frames):
        frames = needed[start : start + config.batch_frames]
        dmpls = None
        if num_dmpls and motion.dmpls is not None:
            dmpls = torch.zeros(len(frames), num_dmpls, dtype=torch.float64)
            available = min(num_dmpls, motion.dmpls.shape[1])
            dmpls[:, :available] = torch.as_tensor(motion.dmpls[frames, :available])
        with torch.no_grad():
            joints = folded_joints(folded, torch.as_tensor(motion.poses[frames]), betas,
                                   torch.as_tensor(motion.trans[frames]), dmpls)  # fmt: skip
        parts.append(joints.to("cpu", torch.float64).numpy())
    return apply_plan(plan, np.concatenate(parts), needed)


def convert_amass_file(item: AmassFile, config: AmassConfig) -> list[View] | Rejection:
    """Convert one motion file into one view per virtual camera; never raises for a bad file.

    Args:
        item: The file and its sub-dataset, subject, sequence and split (``discovery.manifest_files``).
        config: Conversion settings.

    Returns:
        ``config.camera_count`` views of one sequence (joints_world (T, 17, 3) float32 metres Human3.6M world,
        shared; joints_3d (T, 17, 3) float32 metres camera frame and keypoints_2d (T, 17, 2) float32 pixels
        filmed from it; extra columns ``EXTRA_COLUMNS``), or a ``Rejection``. The store keeps the world
        joints once and derives the rest (``docs/store.md``, schema 2).
    """
    try:
        motion = load_motion(item.path, config)
        placed = place_in_h36m_world(motion_joints(motion, config), config.placement)
        joints = placed.astype(np.float32)  # what the store keeps: film exactly these numbers
        views = []
        for camera in sequence_cameras(config, item.relative_path, placed):
            joints_3d, keypoints_2d, ratio = film(joints, camera)
            extra = {"out_of_frame_ratio": ratio, "source_fps": motion.fps, "source_frames": motion.frames,
                     "gender": motion.gender, "model_type": motion.model_type}  # fmt: skip
            views.append(View(
                dataset=DATASET_NAME, subset=item.subset, subject=item.subject, action="", sequence=item.sequence,
                split=item.split, fps=config.fps, camera=camera, joints_3d=joints_3d, keypoints_2d=keypoints_2d,
                extra_columns=extra, joints_world=joints,
            ))  # fmt: skip
        return views
    except _Rejected as rejected:
        return Rejection(str(item.path), rejected.reason.value, rejected.detail)
    except Exception as error:  # a batch must never stop on one file: report it instead
        reraise_if_environment(error)
        return Rejection(str(item.path), RejectionReason.CONVERSION_ERROR.value, f"{type(error).__name__}: {error}")
