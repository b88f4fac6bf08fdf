"""The predictions an evaluation scored, saved beside ``metrics.json`` so they can be looked at later.

``predictions.npz`` holds the views flat along one frame axis with per-view offsets, like the pose store:

| array | shape | dtype | meaning |
|---|---|---|---|
| ``view_id`` | (V,) | int64 | store view ids, in evaluation order |
| ``start``, ``length`` | (V,) | int64 | each view's frames on the frame axis |
| ``joints_3d`` | (F, J, 3) | float32 | predictions, metres, camera frame, root-relative as the model output them |
| ``view_mpjpe_m`` | (V,) | float64 | each view's MPJPE over its valid frames, metres (NaN: none valid) |

    save_predictions(path, {3: predicted_3, 7: predicted_7}, {3: 0.041, 7: 0.052})
    predictions, view_mpjpe = load_predictions(path)       # {3: (T, J, 3), 7: ...}, {3: 0.041, 7: 0.052}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

PREDICTIONS_FILE = "predictions.npz"


def save_predictions(path: Path, predictions: Mapping[int, np.ndarray], view_mpjpe: Mapping[int, float]) -> Path:
    """Write ``predictions.npz`` (module docstring); views in ``predictions``' order.

    Args:
        path: File to write.
        predictions: View id -> (T, J, 3) metres.
        view_mpjpe: View id -> MPJPE over the view's valid frames, metres; one per view of ``predictions``.

    Returns:
        ``path``.
    """
    view_ids = np.array(list(predictions), dtype=np.int64)
    lengths = np.array([len(predictions[view_id]) for view_id in view_ids], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    frames = np.concatenate([np.asarray(predictions[view_id], dtype=np.float32) for view_id in view_ids])
    np.savez_compressed(
        path, view_id=view_ids, start=starts, length=lengths, joints_3d=frames,
        view_mpjpe_m=np.array([view_mpjpe[view_id] for view_id in view_ids], dtype=np.float64),
    )  # fmt: skip
    return Path(path)


def load_predictions(path: Path) -> tuple[dict[int, np.ndarray], dict[int, float]]:
    """Read ``predictions.npz``: view id -> (T, J, 3) float32 metres, and view id -> MPJPE in metres."""
    with np.load(path, allow_pickle=False) as data:
        frames = data["joints_3d"]
        views = zip(data["view_id"].tolist(), data["start"].tolist(), data["length"].tolist(), strict=True)
        predictions = {view_id: frames[start : start + length] for view_id, start, length in views}
        view_mpjpe = dict(zip(data["view_id"].tolist(), data["view_mpjpe_m"].tolist(), strict=True))
    return predictions, view_mpjpe
