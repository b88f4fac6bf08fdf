"""Evaluation metrics for 3D human pose: MPJPE, N-MPJPE, P-MPJPE, MPJVE, PCK, AUC and report tables.

Every function takes predictions and targets of any float precision, computes in float64 and is
batched over any leading dimensions. Shape legend: ``...`` any leading dimensions (sequences, frames),
``T`` frames, ``J`` joints. Inputs are in metres; results are metres (errors), metres per frame
(velocity errors) or fractions in [0, 1] (PCK, AUC). Reports convert metres to millimetres with
``datasets.units.MILLIMETRES_PER_METRE`` and fractions to percent by multiplying by 100.
There is one implementation of each metric, in numpy: evaluation scores numpy predictions, and
training's validation measures its torch batches with ``lifting.losses.mpjpe_loss`` (no Procrustes there).

Protocols (docs/references.md, "Common protocol" and "Metrics conventions"):
Human3.6M Protocol 1 is root-relative MPJPE, Protocol 2 is P-MPJPE (per-pose similarity Procrustes),
N-MPJPE aligns scale only, MPJVE is the MPJPE of first temporal differences; papers average per action,
then over actions (``aggregate_by_group``). MPI-INF-3DHP reports PCK at 150 mm and AUC over
0, 5, ..., 150 mm, counting a joint as correct when its error is strictly below the threshold, as the
official ``mpii_compute_3d_pck.m`` does (docs/formats.md, section 2.3).

Example:
    >>> import numpy as np
    >>> target = np.zeros((2, 17, 3))
    >>> predicted = target + np.array([0.0, 0.0, 0.010])
    >>> mpjpe(predicted, target, root=None).round(6).tolist()
    [0.01, 0.01]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from datasets.windows.codec import root_relative

PCK_THRESHOLD_METRES = 0.150
"""PCK threshold: 150 mm, the MPI-INF-3DHP protocol (docs/references.md, "Common protocol")."""

AUC_THRESHOLDS_METRES = np.linspace(0.0, 0.150, 31)
"""AUC thresholds 0, 5, ..., 150 mm (31 values), the MPI-INF-3DHP protocol (docs/references.md, "Common protocol")."""
AUC_THRESHOLDS_METRES.flags.writeable = False

AVERAGE_KEY = "average"
"""Key of the mean over groups in ``aggregate_by_group``'s result."""


def _pose_pair(predicted: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return both poses as float64 arrays after checking they are matching ``(..., J, 3)`` arrays."""
    predicted = np.asarray(predicted, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if predicted.shape != target.shape:
        raise ValueError(f"predicted and target must have the same shape; got {predicted.shape} and {target.shape}")
    if predicted.ndim < 2 or predicted.shape[-1] != 3 or predicted.shape[-2] == 0:
        raise ValueError(f"poses must be (..., J, 3) with J >= 1; got shape {predicted.shape}")
    return predicted, target


def _centre_on_root(poses: np.ndarray, root: int | None) -> np.ndarray:
    """Subtract joint ``root`` from every joint of each pose; return ``poses`` unchanged when root is None."""
    if root is None:
        return poses
    joint_count = poses.shape[-2]
    if not 0 <= root < joint_count:
        raise ValueError(f"root must be a joint index in [0, {joint_count}) or None; got {root}")
    return root_relative(poses, root)


def per_joint_position_error(predicted: np.ndarray, target: np.ndarray, root: int | None = 0) -> np.ndarray:
    """Euclidean distance between predicted and target joints.

    Args:
        predicted: (..., J, 3) metres.
        target: (..., J, 3) metres, same frame as ``predicted``.
        root: Joint both poses are re-centred on before comparing (root-relative error), or None to
            compare absolute positions.

    Returns:
        (..., J) float64, metres.
    """
    predicted, target = _pose_pair(predicted, target)
    difference = _centre_on_root(predicted, root) - _centre_on_root(target, root)
    return np.linalg.norm(difference, axis=-1)


def mpjpe(predicted: np.ndarray, target: np.ndarray, root: int | None = 0) -> np.ndarray:
    """Mean per-joint position error of each pose (Human3.6M Protocol 1 with the default ``root``).

    Args:
        predicted: (..., J, 3) metres.
        target: (..., J, 3) metres.
        root: Joint both poses are re-centred on (root-relative MPJPE), or None for absolute MPJPE.

    Returns:
        (...) float64, metres: the mean over joints of the Euclidean error.
    """
    return per_joint_position_error(predicted, target, root).mean(axis=-1)


def n_mpjpe(predicted: np.ndarray, target: np.ndarray, root: int | None = 0) -> np.ndarray:
    """MPJPE after scaling each prediction by its least-squares optimal scale (N-MPJPE).

    Both poses are re-centred on ``root`` first; the scale ``s = <P, Q> / <P, P>`` (sums over joints
    and coordinates) minimises ``||s P - Q||^2`` per pose. A prediction whose root-relative joints are
    all zero gets scale 0.

    Args:
        predicted: (..., J, 3) metres.
        target: (..., J, 3) metres.
        root: Joint the poses are re-centred on before scaling, or None to scale about the origin.

    Returns:
        (...) float64, metres.
    """
    predicted, target = _pose_pair(predicted, target)
    predicted = _centre_on_root(predicted, root)
    target = _centre_on_root(target, root)
    cross = np.einsum("...jc,...jc->...", predicted, target)
    squared_norm = np.einsum("...jc,...jc->...", predicted, predicted)
    scale = np.divide(cross, squared_norm, out=np.zeros_like(cross), where=squared_norm > 0)
    return mpjpe(scale[..., None, None] * predicted, target, root=None)


def procrustes_align(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Align each prediction to its target by the least-squares similarity transform (Umeyama).

    Per pose, with centred joints ``P`` (predicted) and ``Q`` (target) as (J, 3) row matrices, the
    cross-covariance ``P^T Q = U S V^T`` gives the rotation ``R = U D V^T`` (applied as ``P @ R``) with
    ``D = diag(1, 1, sign(det(U V^T)))``, so that a reflection is never used (when ``det(U V^T) < 0`` the
    last singular vector is flipped), and the scale ``s = trace(D S) / ||P||^2``. The aligned pose is
    ``s P R + mean(target)``. All poses are solved at once by a batched SVD. A prediction whose joints
    all coincide gets scale 0 (it is aligned to the target's centroid).

    Args:
        predicted: (..., J, 3) metres.
        target: (..., J, 3) metres.

    Returns:
        (..., J, 3) float64, metres: ``predicted`` rotated, scaled and translated onto ``target``.
    """
    predicted, target = _pose_pair(predicted, target)
    predicted_centroid = predicted.mean(axis=-2, keepdims=True)
    target_centroid = target.mean(axis=-2, keepdims=True)
    predicted_centred = predicted - predicted_centroid  # (..., J, 3)
    target_centred = target - target_centroid  # (..., J, 3)

    cross_covariance = np.einsum("...ja,...jb->...ab", predicted_centred, target_centred)  # (..., 3, 3)
    left, singular_values, right_transposed = np.linalg.svd(cross_covariance)
    reflection = np.linalg.det(left @ right_transposed) < 0  # (...)
    signs = np.ones(singular_values.shape)  # (..., 3)
    signs[..., -1] = np.where(reflection, -1.0, 1.0)
    rotation = (left * signs[..., None, :]) @ right_transposed  # (..., 3, 3): U D V^T

    squared_norm = np.einsum("...jc,...jc->...", predicted_centred, predicted_centred)
    trace = (signs * singular_values).sum(axis=-1)
    scale = np.divide(trace, squared_norm, out=np.zeros_like(trace), where=squared_norm > 0)
    return scale[..., None, None] * (predicted_centred @ rotation) + target_centroid


def p_mpjpe(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """MPJPE after per-pose similarity Procrustes alignment (Human3.6M Protocol 2, P-MPJPE).

    Args:
        predicted: (..., J, 3) metres.
        target: (..., J, 3) metres.

    Returns:
        (...) float64, metres. Invariant to rotating, uniformly scaling and translating ``predicted``,
        but not to mirroring it (see ``procrustes_align``).
    """
    aligned = procrustes_align(predicted, target)
    return mpjpe(aligned, target, root=None)


def velocity_errors(predicted: np.ndarray, target: np.ndarray, root: int | None = 0) -> np.ndarray:
    """Per-step velocity error: MPJPE of each first temporal difference (the terms ``mpjve`` averages).

    Args:
        predicted: (..., T, J, 3) metres, T >= 2 consecutive frames.
        target: (..., T, J, 3) metres.
        root: Joint both poses are re-centred on in every frame before differencing, or None to compare
            absolute velocities.

    Returns:
        (..., T - 1) float64, metres per frame: entry ``t`` is the error of the step from frame t to t + 1.
    """
    predicted, target = _pose_pair(predicted, target)
    if predicted.ndim < 3 or predicted.shape[-3] < 2:
        raise ValueError(f"mpjve needs sequences (..., T, J, 3) with T >= 2; got shape {predicted.shape}")
    predicted_velocity = np.diff(_centre_on_root(predicted, root), axis=-3)  # (..., T - 1, J, 3)
    target_velocity = np.diff(_centre_on_root(target, root), axis=-3)
    return mpjpe(predicted_velocity, target_velocity, root=None)


def mpjve(predicted: np.ndarray, target: np.ndarray, root: int | None = 0) -> np.ndarray:
    """Mean per-joint velocity error of each sequence: MPJPE of first temporal differences.

    Velocities are frame-to-frame displacements, so the result is in metres per frame. Multiply by the
    frame rate (frames per second) to get metres per second; papers report MPJVE in millimetres per
    frame at the dataset's frame rate (50 Hz for Human3.6M).

    Args:
        predicted: (..., T, J, 3) metres, T >= 2 consecutive frames.
        target: (..., T, J, 3) metres.
        root: Joint both poses are re-centred on in every frame before differencing, or None to compare
            absolute velocities.

    Returns:
        (...) float64, metres per frame: the mean over the T - 1 differences (``velocity_errors``) and the J
        joints.
    """
    return velocity_errors(predicted, target, root).mean(axis=-1)


def _correct_joints(
    predicted: np.ndarray,
    target: np.ndarray,
    thresholds: np.ndarray,
    root: int | None,
    joints: Sequence[int] | None,
    inclusive: bool,
) -> np.ndarray:
    """Return (..., K) fractions of the counted joints whose error passes each of the K thresholds."""
    errors = per_joint_position_error(predicted, target, root)  # (..., J)
    if joints is not None:
        joint_indices = np.asarray(joints, dtype=np.intp)
        if joint_indices.ndim != 1 or joint_indices.size == 0:
            raise ValueError(f"joints must be a non-empty sequence of joint indices; got {joints!r}")
        errors = errors[..., joint_indices]
    if thresholds.ndim != 1 or thresholds.size == 0 or not np.all(np.isfinite(thresholds)):
        raise ValueError(f"thresholds must be a non-empty 1-D array of finite metres; got {thresholds!r}")
    if np.any(thresholds < 0):
        raise ValueError(f"thresholds must be >= 0 metres; got {thresholds!r}")
    compare = np.less_equal if inclusive else np.less
    passed = compare(errors[..., None, :], thresholds[:, None])  # (..., K, J)
    return passed.mean(axis=-1)


def pck(
    predicted: np.ndarray,
    target: np.ndarray,
    threshold: float = PCK_THRESHOLD_METRES,
    root: int | None = 0,
    *,
    joints: Sequence[int] | None = None,
    inclusive: bool = False,
) -> np.ndarray:
    """Percentage of correct keypoints of each pose, as a fraction (multiply by 100 to report percent).

    A joint is correct when its (root-relative) error is strictly below ``threshold``, as in the official
    MPI-INF-3DHP evaluation; ``inclusive=True`` counts an error equal to the threshold as correct too.

    Args:
        predicted: (..., J, 3) metres.
        target: (..., J, 3) metres.
        threshold: Largest error still counted, metres (150 mm by the MPI-INF-3DHP protocol).
        root: Joint both poses are re-centred on, or None for absolute positions.
        joints: Indices of the joints counted, chosen after re-centring (the official MPI-INF-3DHP
            evaluation counts 14 of its 17 joints); None counts all J.
        inclusive: Compare with ``error <= threshold`` instead of ``error < threshold``.

    Returns:
        (...) float64 fractions in [0, 1].
    """
    thresholds = np.asarray([threshold], dtype=np.float64)
    return _correct_joints(predicted, target, thresholds, root, joints, inclusive)[..., 0]


def auc(
    predicted: np.ndarray,
    target: np.ndarray,
    thresholds: np.ndarray = AUC_THRESHOLDS_METRES,
    root: int | None = 0,
    *,
    joints: Sequence[int] | None = None,
    inclusive: bool = False,
) -> np.ndarray:
    """Area under the PCK curve of each pose: the mean of ``pck`` over ``thresholds``, as a fraction.

    With the default thresholds (0, 5, ..., 150 mm) and the strict comparison, the 0 mm threshold
    contributes 0 to the mean, as in the official MPI-INF-3DHP evaluation. Multiply by 100 to report.

    Args:
        predicted: (..., J, 3) metres.
        target: (..., J, 3) metres.
        thresholds: (K,) thresholds, metres.
        root: Joint both poses are re-centred on, or None for absolute positions.
        joints: Indices of the joints counted, chosen after re-centring; None counts all J.
        inclusive: Compare with ``error <= threshold`` instead of ``error < threshold``.

    Returns:
        (...) float64 fractions in [0, 1].
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    return _correct_joints(predicted, target, thresholds, root, joints, inclusive).mean(axis=-1)


def aggregate_by_group(values: np.ndarray, groups: Sequence[str]) -> dict[str, float]:
    """Mean of ``values`` per group, then the unweighted mean of the group means under ``"average"``.

    This is how papers report Human3.6M: an error per action, then the average over actions, so every
    action weighs the same whatever its number of frames.

    Args:
        values: (N,) per-sample values, e.g. per-frame MPJPE in metres; the unit is kept.
        groups: N group names, e.g. the action of each sample.

    Returns:
        Group name -> mean value, in order of first appearance, followed by ``AVERAGE_KEY`` -> the mean
        of the group means.
    """
    values = np.asarray(values, dtype=np.float64)
    group_names = np.asarray(list(groups), dtype=object)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"values must be a non-empty 1-D array; got shape {values.shape}")
    if group_names.shape != values.shape:
        raise ValueError(f"groups must name one group per value; got {group_names.size} for {values.size}")
    if AVERAGE_KEY in set(group_names.tolist()):
        raise ValueError(f"a group may not be named {AVERAGE_KEY!r}, the key of the mean over groups")
    table = {str(name): float(values[group_names == name].mean()) for name in dict.fromkeys(group_names.tolist())}
    table[AVERAGE_KEY] = float(np.mean(list(table.values())))
    return table


def per_joint_table(per_joint_errors: np.ndarray, joint_names: Sequence[str]) -> dict[str, float]:
    """Mean error of each joint over all samples, keyed by joint name.

    Args:
        per_joint_errors: (..., J) errors, e.g. ``per_joint_position_error`` over N poses, metres; the
            unit is kept.
        joint_names: J distinct joint names in the order of the last axis.

    Returns:
        Joint name -> mean error over every leading index, in joint order.
    """
    errors = np.asarray(per_joint_errors, dtype=np.float64)
    names = list(joint_names)
    if errors.ndim < 1 or errors.shape[-1] != len(names):
        raise ValueError(f"per_joint_errors must be (..., {len(names)}) for the names; got {errors.shape}")
    if len(set(names)) != len(names):
        raise ValueError(f"joint names must be distinct; got {names}")
    if errors.size == 0:
        raise ValueError(f"per_joint_errors holds no samples; got shape {errors.shape}")
    means = errors.reshape(-1, len(names)).mean(axis=0)
    return {name: float(mean) for name, mean in zip(names, means, strict=True)}
