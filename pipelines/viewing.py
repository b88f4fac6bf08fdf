"""``python flows.py view REF``: which store, predictions and views a version names, then the viewer or video.

A store version (``preprocess-*``) shows its ground truth; an evaluation version shows the predictions it
saved (``predictions.npz``) against the store it evaluated (its second parent). The drawing lives in
``lifting.visualization``; this module only resolves versions and files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from datasets.store import PoseStore, open_store
from datasets.workspace import Manifest, Workspace
from pipelines.stage_names import EVALUATE

DEFAULT_KEYPOINTS = "keypoints_2d"


@dataclass
class ViewSource:
    """What a version gives the viewer.

    Attributes:
        manifest: The version named.
        store: The pose store drawn.
        predictions: View id -> (T, J, 3) metres (evaluation versions), else None.
        keypoints: Store array of the 2D input (the evaluated model's, for evaluation versions).
    """

    manifest: Manifest
    store: PoseStore
    predictions: dict[int, np.ndarray] | None
    keypoints: str


def _trained_keypoints(workspace: Workspace, manifest: Manifest) -> str:
    """The 2D array an evaluation fed its model: its own config's, else the checkpoint's training config's."""
    chosen = manifest.config.get("keypoints")
    if chosen:
        return str(chosen)
    checkpoint = workspace.get(manifest.parents[0]) if manifest.parents else None
    training: dict[str, Any] = checkpoint.config.get("training", {}) if checkpoint else {}
    return str(training.get("window", {}).get("keypoints") or DEFAULT_KEYPOINTS)


def resolve_view_source(workspace: str | None, reference: str) -> ViewSource:
    """The store (and predictions) behind a store or evaluation version.

    Raises:
        VersionNotFoundError: No such version.
        ValueError: The version is neither a store nor an evaluation with saved predictions.
    """
    from lifting.evaluation import PREDICTIONS_FILE, load_predictions
    from pipelines.train.publish import local_output

    workspace = Workspace(workspace)
    manifest = workspace.resolve(reference)
    if "store" in manifest.outputs:
        return ViewSource(manifest, open_store(workspace.root, manifest.id), None, DEFAULT_KEYPOINTS)
    if manifest.stage != EVALUATE:
        raise ValueError(f"{manifest.id} (stage {manifest.stage}) is neither a pose store nor an evaluation")
    if "predictions" not in manifest.outputs:
        raise ValueError(
            f"evaluation {manifest.id} saved no {PREDICTIONS_FILE} (it predates saving them); rerun the evaluation "
            "with this mocaplift to view its predictions"
        )
    predictions, _ = load_predictions(local_output(workspace, manifest, "predictions"))
    store = open_store(workspace.root, manifest.parents[1])
    return ViewSource(manifest, store, predictions, _trained_keypoints(workspace, manifest))


def default_output(manifest: Manifest, view_ids: list[int], suffix: str = ".html") -> Path:
    """``view-<version>-v<first>[-<last>].html`` in the current directory."""
    span = f"{view_ids[0]}" if len(view_ids) == 1 else f"{view_ids[0]}-{view_ids[-1]}"
    return Path(f"view-{manifest.id}-v{span}{suffix}")
