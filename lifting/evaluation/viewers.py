"""Viewer files an evaluation writes beside its report: its worst and its best sequence, every camera.

The report links them (``viewer_links``), so a reader goes from a table's number to the motion behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from datasets.escaping import markdown_text
from datasets.skeletons import get_skeleton
from datasets.store import PoseStore
from datasets.units import MILLIMETRES_PER_METRE
from lifting.visualization import build_scenes, extreme_sequences, write_viewer

VIEWER_FILE = "viewer_{label}.html"


class ViewerFile(NamedTuple):
    """A viewer file and what it shows (``"h36m test S9 Walking 1, MPJPE 52.3 mm"``)."""

    path: Path
    description: str


def write_extreme_viewers(
    output_dir: Path,
    store: PoseStore,
    clips: Mapping[int, tuple[np.ndarray, np.ndarray]],
    view_mpjpe: Mapping[int, float],
    keypoints: str,
) -> dict[str, ViewerFile]:
    """Write ``viewer_worst.html`` and ``viewer_best.html``.

    Args:
        output_dir: The evaluation's folder.
        store: The pose store evaluated on.
        clips: View id -> (root-relative truth, prediction), each (T, J, 3) metres; only the prediction is used.
        view_mpjpe: View id -> MPJPE over valid frames, metres.
        keypoints: Store array of the model's 2D input.

    Returns:
        ``{"worst": ViewerFile, "best": ViewerFile}``; empty when no view has a valid frame.
    """
    root = get_skeleton(store.skeleton).root
    written = {}
    for label, view_ids in extreme_sequences(store, view_mpjpe).items():
        scenes = build_scenes(store, view_ids, {v: clips[v][1] for v in view_ids}, keypoints)
        mean = np.mean([view_mpjpe[v] for v in view_ids]) * MILLIMETRES_PER_METRE
        description = f"{scenes[0].title.rsplit(',', 1)[0]}, MPJPE {mean:.1f} mm"
        path = write_viewer(output_dir / VIEWER_FILE.format(label=label), scenes, f"{label} sequence: {description}",
                            keypoints, root)  # fmt: skip
        written[label] = ViewerFile(path, description)
    return written


def viewer_links(viewers: Mapping[str, ViewerFile], output_dir: Path) -> str:
    """Markdown lines linking each viewer file, relative to the report's folder."""
    lines = [
        f"- [{label} sequence]({viewer.path.relative_to(output_dir).as_posix()}): {markdown_text(viewer.description)}"
        for label, viewer in viewers.items()
    ]
    lines.append("\nGround truth and prediction in every camera, per-joint errors coloured; opens offline.")
    return "\n".join(lines)
