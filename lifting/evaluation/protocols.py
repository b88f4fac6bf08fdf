"""Published evaluation protocols: per-frame errors of each view, then the tables the papers report.

- Human3.6M: Protocol 1 (MPJPE), Protocol 2 (P-MPJPE), N-MPJPE and MPJVE, each the mean over the frames of
  an action, then the mean over actions (``lifting.metrics.aggregate_by_group``); 15 actions.
- MPI-INF-3DHP: PCK at 150 mm and AUC over 0..150 mm on the official 14 joints, MPJPE on all 17, valid frames
  only (``valid`` array), per activity (the ``activity`` per-frame codes, else the view's action) and over
  all valid frames (the headline numbers); ground truth as the store holds it (universal coordinates for
  the test set, ``datasets.mpi_inf_3dhp``).
- HumanEva-I: the Human3.6M metrics per (subject, action).
- Generic (AMASS, synthetic stores): the Human3.6M metrics per action.

Errors are computed root-relative (the skeleton's root) in metres by ``lifting.metrics`` and reported in
millimetres (``MILLIMETRES_PER_METRE``) or percent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from datasets.skeletons import JOINT_CORRESPONDENCES, Skeleton
from datasets.units import MILLIMETRES_PER_METRE
from datasets.windows.codec import root_relative
from lifting import metrics
from lifting.evaluation.config import PROTOCOLS

PERCENT = 100.0
"""Fractions to percent in reports."""

MPI_INF_3DHP_ACTIVITIES = {
    1: "Standing/Walking", 2: "Exercising", 3: "Sitting", 4: "Reaching/Crouching", 5: "On The Floor",
    6: "Sports", 7: "Miscellaneous",
}  # fmt: skip
"""``activity_annotation`` codes of the MPI-INF-3DHP test set (docs/formats.md 2.2)."""

MPI_INF_3DHP_PCK_EXCLUDED = ("pelvis", "spine", "head")
"""mpi_inf_3dhp17 joints left out of PCK/AUC: the official evaluation counts the other 14 (docs/formats.md 2.3)."""

ALL_FRAMES = "all frames"
ERROR_COLUMNS = ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm")
PCK_COLUMNS = ("pck_150mm_percent", "auc_percent", "mpjpe_mm", "p_mpjpe_mm")
COLUMN_TITLES = {
    "mpjpe_mm": "MPJPE (mm)", "p_mpjpe_mm": "P-MPJPE (mm)", "n_mpjpe_mm": "N-MPJPE (mm)",
    "mpjve_mm": "MPJVE (mm/frame)", "pck_150mm_percent": "PCK@150mm (%)", "auc_percent": "AUC (%)",
}  # fmt: skip


def protocol_for(datasets: Sequence[str], requested: str = "auto") -> str:
    """The protocol to apply: ``requested``, or for ``"auto"`` the store's dataset if it has one."""
    if requested != "auto":
        return requested
    names = set(datasets)
    if len(names) == 1 and next(iter(names)) in PROTOCOLS:
        return next(iter(names))
    return "generic"


def pck_joints(skeleton: Skeleton) -> list[int]:
    """Indices of the joints MPI-INF-3DHP's PCK counts, in ``skeleton``'s order (all joints if unmappable)."""
    if skeleton.name == "mpi_inf_3dhp17":
        excluded = set(MPI_INF_3DHP_PCK_EXCLUDED)
        return [index for index, name in enumerate(skeleton.joint_names) if name not in excluded]
    sources = JOINT_CORRESPONDENCES.get(("mpi_inf_3dhp17", skeleton.name))
    if sources is None:
        return list(range(skeleton.num_joints))
    return [index for index, source in enumerate(sources) if source not in MPI_INF_3DHP_PCK_EXCLUDED]


@dataclass
class FrameErrors:
    """Per-frame errors of evaluated frames (one view, or several concatenated), metres or fractions.

    Attributes:
        per_joint: (F, J) joint position errors.
        mpjpe: (F,) MPJPE.
        p_mpjpe: (F,) MPJPE after similarity Procrustes.
        n_mpjpe: (F,) MPJPE after least-squares scaling.
        velocity: (F,) ``metrics.velocity_errors`` of the step ending at this frame (NaN at a view's first
            frame and where either end is not valid); its mean over a view's frames is ``metrics.mpjve``.
        pck: (F,) fraction of the PCK joints within 150 mm.
        auc: (F,) mean PCK over 0..150 mm.
        valid: (F,) frames that count (the store's ``valid``).
        key_frame: (F,) frames that were key-frames of the input (every frame when ``s_in = 1``).
        groups: Per-frame labels by kind (``"action"``, ``"subject_action"``, ``"activity"``).
    """

    per_joint: np.ndarray
    mpjpe: np.ndarray
    p_mpjpe: np.ndarray
    n_mpjpe: np.ndarray
    velocity: np.ndarray
    pck: np.ndarray
    auc: np.ndarray
    valid: np.ndarray
    key_frame: np.ndarray
    groups: dict[str, np.ndarray]

    @classmethod
    def concatenate(cls, parts: Sequence[FrameErrors]) -> FrameErrors:
        """Frames of several views, in order."""
        fields = ("per_joint", "mpjpe", "p_mpjpe", "n_mpjpe", "velocity", "pck", "auc", "valid", "key_frame")
        joined = {name: np.concatenate([getattr(part, name) for part in parts]) for name in fields}
        groups = {kind: np.concatenate([part.groups[kind] for part in parts]) for kind in parts[0].groups}
        return cls(**joined, groups=groups)


def view_errors(
    predicted: np.ndarray,
    target: np.ndarray,
    root: int,
    pck_joint_indices: Sequence[int],
    valid: np.ndarray,
    key_frame: np.ndarray,
    groups: Mapping[str, np.ndarray],
) -> FrameErrors:
    """Per-frame errors of one view.

    Args:
        predicted: (T, J, 3) metres.
        target: (T, J, 3) metres, same frame.
        root: Root joint; both are re-centred on it first (``datasets.windows.codec.root_relative``).
        pck_joint_indices: Joints counted by PCK/AUC.
        valid: (T,) frames that count.
        key_frame: (T,) input key-frames.
        groups: Per-frame labels by kind, each (T,).

    Returns:
        The view's ``FrameErrors``.
    """
    predicted, target = root_relative(predicted, root), root_relative(target, root)
    per_joint = metrics.per_joint_position_error(predicted, target, root=None)
    velocity = np.full(len(target), np.nan)
    if len(target) > 1:
        step = metrics.velocity_errors(predicted, target, root=None)  # (T - 1,): the terms of metrics.mpjve
        velocity[1:] = np.where(valid[1:] & valid[:-1], step, np.nan)
    return FrameErrors(
        per_joint=per_joint.astype(np.float32),
        mpjpe=per_joint.mean(axis=-1),
        p_mpjpe=metrics.p_mpjpe(predicted, target),
        n_mpjpe=metrics.n_mpjpe(predicted, target, root=root),
        velocity=velocity,
        pck=metrics.pck(predicted, target, root=root, joints=pck_joint_indices),
        auc=metrics.auc(predicted, target, root=root, joints=pck_joint_indices),
        valid=np.asarray(valid, dtype=bool),
        key_frame=np.asarray(key_frame, dtype=bool),
        groups={kind: np.asarray(labels, dtype=object) for kind, labels in groups.items()},
    )


def _column_values(errors: FrameErrors, column: str) -> tuple[np.ndarray, float]:
    """Per-frame metres/fractions of a report column and the factor to report units."""
    source = {
        "mpjpe_mm": (errors.mpjpe, MILLIMETRES_PER_METRE),
        "p_mpjpe_mm": (errors.p_mpjpe, MILLIMETRES_PER_METRE),
        "n_mpjpe_mm": (errors.n_mpjpe, MILLIMETRES_PER_METRE),
        "mpjve_mm": (errors.velocity, MILLIMETRES_PER_METRE),
        "pck_150mm_percent": (errors.pck, PERCENT),
        "auc_percent": (errors.auc, PERCENT),
    }
    return source[column]


def group_table(errors: FrameErrors, group_kind: str, columns: Sequence[str], frame_weighted_row: bool) -> dict:
    """Rows per group (mean over its counted frames) plus ``"average"`` (mean over groups).

    Args:
        errors: Frames to aggregate (only ``valid`` frames count; NaN velocities are skipped).
        group_kind: Key of ``errors.groups``.
        columns: Report columns (``COLUMN_TITLES`` keys).
        frame_weighted_row: Add a row ``"all frames"``: the mean over every counted frame.

    Returns:
        ``{row: {column: value in mm or %}}``.
    """
    table: dict[str, dict[str, float]] = {}
    for column in columns:
        values, scale = _column_values(errors, column)
        counted = errors.valid & np.isfinite(values)
        if not counted.any():
            continue
        by_group = metrics.aggregate_by_group(values[counted] * scale, errors.groups[group_kind][counted].tolist())
        for row, value in by_group.items():
            table.setdefault(row, {})[column] = value
        if frame_weighted_row:
            table.setdefault(ALL_FRAMES, {})[column] = float(np.mean(values[counted]) * scale)
    return table


def protocol_tables(errors: FrameErrors, protocol: str, joint_names: Sequence[str]) -> dict[str, dict]:
    """Every table of a protocol.

    Returns:
        ``{"groups": per-group table, "group_kind": its label kind, "summary": {column: value} (the headline
        row), "key_frames": {"all frames": ..., "key-frames": ...} (when some frames are not key-frames),
        "per_joint": {joint: MPJPE mm}}``.
    """
    if protocol == "mpi_inf_3dhp":
        kind = "activity" if "activity" in errors.groups else "action"
        groups = group_table(errors, kind, PCK_COLUMNS, frame_weighted_row=True)
        summary, columns = groups[ALL_FRAMES], PCK_COLUMNS
    else:
        kind = "subject_action" if protocol == "humaneva" else "action"
        groups = group_table(errors, kind, ERROR_COLUMNS, frame_weighted_row=False)
        summary, columns = groups[metrics.AVERAGE_KEY], ERROR_COLUMNS
    tables: dict[str, dict] = {"groups": groups, "summary": dict(summary), "group_kind": kind}
    if not errors.key_frame.all():
        headline = ALL_FRAMES if protocol == "mpi_inf_3dhp" else metrics.AVERAGE_KEY
        keyed = FrameErrors(**{**errors.__dict__, "valid": errors.valid & errors.key_frame})
        key_table = group_table(keyed, kind, columns, frame_weighted_row=protocol == "mpi_inf_3dhp")
        tables["key_frames"] = {"all frames": dict(summary), "key-frames": key_table.get(headline, {})}
    valid_errors = errors.per_joint[errors.valid] * MILLIMETRES_PER_METRE
    tables["per_joint"] = metrics.per_joint_table(valid_errors, joint_names)
    return tables
