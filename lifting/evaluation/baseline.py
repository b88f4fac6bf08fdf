"""The constant-pose baseline: predict one pose, the training split's mean, for every test frame.

A lifting model that has learnt anything must beat it; the demo's comparison table prints it beside the
trained routes. The mean is of root-relative camera-frame poses (what the models predict), over the valid
frames of every view of the training splits; it is scored by ``evaluate_predictions``, so with the same
protocol, metrics and test frames as a checkpoint's evaluation.

    result = evaluate_mean_pose(store, EvaluationConfig(split="test", plots=False), Path("eval/baseline"))
    result.summary["mpjpe_mm"]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datasets.skeletons import get_skeleton
from datasets.store import PoseStore
from datasets.windows.codec import root_relative
from lifting.evaluation.config import EvaluationConfig
from lifting.evaluation.evaluate import EvaluationResult, evaluate_predictions, split_views


def _root_relative_frames(store: PoseStore, view_id: int) -> np.ndarray:
    """(F, J, 3) float64 metres: a view's valid frames, root-relative, camera frame."""
    joints = np.asarray(store.read("joints_3d", view_id), dtype=np.float64)
    if "valid" in store.arrays:
        joints = joints[np.asarray(store.read("valid", view_id), dtype=bool)]
    return root_relative(joints, get_skeleton(store.skeleton).root)


def mean_pose(store: PoseStore, splits: Sequence[str] = ("train",)) -> np.ndarray:
    """The mean root-relative pose of the valid frames of ``splits``: (J, 3) float64, metres, camera frame.

    Every frame weighs the same (a long view counts more than a short one).
    """
    total, count = None, 0
    for split in splits:
        for view in split_views(store, split):
            frames = _root_relative_frames(store, view["view_id"])
            total = frames.sum(axis=0) if total is None else total + frames.sum(axis=0)
            count += len(frames)
    if total is None or count == 0:
        raise ValueError(f"store {store.directory} has no valid frames in splits {tuple(splits)}")
    return total / count


def evaluate_mean_pose(
    store: PoseStore, config: EvaluationConfig, output_dir: Path, train_splits: Sequence[str] = ("train",)
) -> EvaluationResult:
    """Score the constant prediction ``mean_pose(store, train_splits)`` on ``config.split``.

    Args:
        store: The pose store (its ``train_splits`` give the pose, ``config.split`` the test frames).
        config: Split, protocol, figure choices, as for a checkpoint.
        output_dir: Receives ``report.md``, ``metrics.json`` and the plots.
        train_splits: Splits the mean is taken over.

    Returns:
        The ``EvaluationResult`` (its ``summary`` holds the same metrics as a checkpoint's evaluation).
    """
    pose = mean_pose(store, train_splits)
    predictions = {}
    for view in split_views(store, config.split, config.max_views):
        predictions[view["view_id"]] = np.broadcast_to(pose, (view["length"], *pose.shape))
    setup = {"model": f"constant pose: the mean root-relative pose of splits {', '.join(train_splits)}"}
    return evaluate_predictions(store, predictions, config, output_dir, setup=setup)
