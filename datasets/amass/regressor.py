"""Human3.6M vertex regressors (17 x V): loading, reordering to our joint order, and a left/right check.

Two orders circulate (docs/formats.md 5.6): SPIN's ``J_regressor_h36m.npy`` lists the left leg before the right
(pelvis, L hip, L knee, L ankle, R hip, ...), Pose2Mesh's ``J_regressor_h36m_correct.npy`` uses the standard
order of ``datasets.skeletons.H36MJoint``. Both are float64 (17, 6890) arrays, SPIN's Fortran-ordered.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datasets.amass.body_model import SKELETON_NAMES, BodyModel
from datasets.amass.config import REGRESSOR_ORDERS
from datasets.skeletons import H36MJoint, get_skeleton
from datasets.source_entries import open_regular

SPIN_TO_H36M = (0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
"""SPIN row for each standard H36M joint (docs/formats.md 5.6); it swaps the legs, so it also maps back."""

NUM_H36M_JOINTS = len(H36MJoint)


def load_regressor(path: Path, order: str) -> np.ndarray:
    """Read a 17 x V regressor ``.npy`` and return it in the standard Human3.6M joint order.

    Args:
        path: A ``.npy`` file holding a (17, V) numeric array (C- or Fortran-ordered).
        order: ``"spin"`` (left leg first, reordered with ``SPIN_TO_H36M``) or ``"h36m"`` (kept).

    Returns:
        (17, V) float64, C-contiguous, rows in ``H36MJoint`` order.

    Raises:
        ValueError: If ``order`` is unknown or the file is not a finite (17, V) numeric array.
    """
    if order not in REGRESSOR_ORDERS:
        raise ValueError(f"regressor order must be one of {REGRESSOR_ORDERS}, got {order!r}")
    try:
        with open_regular(path) as handle:  # a pipe or device is refused, never waited on
            matrix = np.load(handle, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"regressor {path} is not a readable .npy array: {error}") from error
    if isinstance(matrix, np.lib.npyio.NpzFile):
        members = matrix.files
        matrix.close()
        raise ValueError(
            f"regressor {path} is an .npz archive (members {members}), not a .npy array: save the (17, V) "
            'matrix alone with np.save("J_regressor_h36m.npy", matrix) and pass that file'
        )
    if matrix.ndim != 2 or matrix.shape[0] != NUM_H36M_JOINTS or not np.issubdtype(matrix.dtype, np.number):
        raise ValueError(f"regressor {path} must be a numeric ({NUM_H36M_JOINTS}, V) array, got "
                         f"{matrix.shape} {matrix.dtype}")  # fmt: skip
    if not np.isfinite(matrix).all():
        raise ValueError(f"regressor {path} contains NaN or infinite weights")
    if order == "spin":
        matrix = matrix[list(SPIN_TO_H36M)]
    return np.ascontiguousarray(matrix, dtype=np.float64)


def regressor_side_warning(regressor: np.ndarray, model: BodyModel) -> str | None:
    """Check that the regressed left hip lies on the body's left; describe the problem if not.

    The body's left is taken from the model itself: its own ``left_hip`` minus ``right_hip`` joint in the
    rest pose. A regressor read with the wrong ``order`` puts the left hip on the right.

    Args:
        regressor: (17, V) in the standard order (as ``load_regressor`` returns it).
        model: A body model with V vertices.

    Returns:
        None when the sides agree, else a message naming the fix.
    """
    skeleton = get_skeleton(SKELETON_NAMES[model.model_type])
    rest_joints = model.rest_joints
    body_left = rest_joints[skeleton.index("left_hip")] - rest_joints[skeleton.index("right_hip")]
    regressed = regressor @ model.v_template
    regressed_left = regressed[H36MJoint.LEFT_HIP] - regressed[H36MJoint.RIGHT_HIP]
    if float(regressed_left @ body_left) > 0:
        return None
    return (
        "the regressor's left hip lies on the body's right side: the regressor order looks swapped "
        "(SPIN's J_regressor_h36m.npy needs --regressor-order spin, Pose2Mesh's J_regressor_h36m_correct.npy "
        "needs --regressor-order h36m)"
    )
