"""The evaluation report: ``report.md`` with the protocol's tables and PNG plots beside it.

Plots are drawn on matplotlib ``Figure`` objects with the Agg canvas (no pyplot, no display, no global
backend switch): training loss and validation curves (from the checkpoint's ``metrics.jsonl``), per-joint
errors, per-group errors, and a test clip's 2D input above its 3D ground truth and prediction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from datasets.escaping import markdown_text
from datasets.skeletons import Skeleton
from datasets.units import MILLIMETRES_PER_METRE
from lifting.evaluation.protocols import COLUMN_TITLES

FIGURE_DPI = 110
SMOOTHING_STEPS = 20
"""Window of the running mean drawn over the per-step training loss."""


def markdown_table(rows: Mapping[str, Mapping[str, float]], columns: Sequence[str], first: str = "") -> str:
    """A Markdown table: one row per key of ``rows``, one column per entry of ``columns`` (2 decimals).

    Row names come from data files (sequence, subject, action names) and are escaped (``markdown_text``).
    """
    header = f"| {markdown_text(first)} | " + " | ".join(COLUMN_TITLES.get(column, column) for column in columns) + " |"
    rule = "|---|" + "---:|" * len(columns)
    lines = [header, rule]
    for name, values in rows.items():
        cells = " | ".join("" if values.get(column) is None else f"{values[column]:.2f}" for column in columns)
        lines.append(f"| {markdown_text(name)} | {cells} |")
    return "\n".join(lines)


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight")
    return path


def plot_training_curves(records: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    """Per-step loss (with a running mean) and per-epoch validation MPJPE in mm; None without records."""
    steps = [record for record in records if record.get("kind") == "step"]
    epochs = [record for record in records if record.get("kind") == "epoch"]
    if not steps:
        return None
    figure = Figure(figsize=(9, 3.5))
    loss_axes, validation_axes = figure.subplots(1, 2)
    x = np.array([record["step"] for record in steps])
    loss = np.array([record["loss"] for record in steps])
    loss_axes.plot(x, loss, color="0.7", linewidth=0.8, label="step")
    window = min(SMOOTHING_STEPS, len(loss))
    smoothed = np.convolve(loss, np.ones(window) / window, mode="valid")
    loss_axes.plot(x[window - 1 :], smoothed, color="C0", label=f"mean of {window}")
    loss_axes.set(xlabel="step", ylabel="training loss", title="Training loss")
    loss_axes.legend()
    validated = [record for record in epochs if record.get("validation_mpjpe") is not None]
    if validated:
        validation_axes.plot(
            [record["epoch"] + 1 for record in validated],
            [record["validation_mpjpe"] * MILLIMETRES_PER_METRE for record in validated],
            marker="o", color="C1",
        )  # fmt: skip
    validation_axes.set(xlabel="epoch", ylabel="MPJPE (mm)", title="Validation (centre frames)")
    return _save(figure, path)


def plot_bars(values: Mapping[str, float], path: Path, title: str, unit: str) -> Path:
    """Horizontal bars of ``values`` (e.g. per-joint or per-action MPJPE)."""
    names = list(values)
    figure = Figure(figsize=(6, 0.28 * len(names) + 1.2))
    axes = figure.subplots()
    axes.barh(np.arange(len(names)), [values[name] for name in names], color="C0")
    axes.set_yticks(np.arange(len(names)), names)
    axes.invert_yaxis()
    axes.set(xlabel=unit, title=title)
    return _save(figure, path)


SKELETON_VIEW = {"elev": 12.0, "azim": -70.0}
"""Viewpoint of the 3D panels (degrees): from in front of the subject, a little above and to its right."""
MIN_HALF_EXTENT = 0.5
"""Half-width (metres) of the 3D panels' cube is a multiple of this (at least one), so a collapsed prediction
still shows at scale and the ticks fall on round numbers."""


def _draw_skeleton(axes: Any, pose: np.ndarray, skeleton: Skeleton, colour: str, label: str) -> None:
    """Camera-frame pose (J, 3) metres drawn upright: x right, z (depth) into the page, -y up."""
    for bone, (parent, child) in enumerate(skeleton.bones):
        segment = pose[[parent, child]]
        axes.plot(segment[:, 0], segment[:, 2], -segment[:, 1], color=colour, linewidth=2,
                  label=label if bone == 0 else None)  # fmt: skip


def _draw_keypoints(axes: Any, keypoints: np.ndarray, skeleton: Skeleton) -> None:
    """2D input (J, 2) pixels, image convention: y down, equal axes."""
    for parent, child in skeleton.bones:
        axes.plot(keypoints[[parent, child], 0], keypoints[[parent, child], 1], color="C0", linewidth=2)
    axes.set_aspect("equal", adjustable="datalim")
    axes.invert_yaxis()
    axes.tick_params(labelsize=6)


def plot_skeletons(
    target: np.ndarray,
    predicted: np.ndarray,
    skeleton: Skeleton,
    frames: Sequence[int],
    path: Path,
    title: str,
    keypoints: np.ndarray | None = None,
) -> Path:
    """The 2D input (top row) and the 3D ground truth with the prediction overlaid (bottom row) at a few frames.

    The 3D panels show camera-frame poses upright (``_draw_skeleton``) from ``SKELETON_VIEW`` in a cube of
    equal axes centred on the root.

    Args:
        target: (T, J, 3) metres, root-relative, camera frame.
        predicted: (T, J, 3) metres, root-relative, camera frame.
        skeleton: Bones to draw.
        frames: Frames shown.
        path: PNG to write.
        title: Figure title (the clip).
        keypoints: (T, J, 2) pixels, the 2D input; None leaves out the top row.
    """
    rows = 1 if keypoints is None else 2
    figure = Figure(figsize=(2.8 * len(frames), 2.9 * rows + 0.4))
    chosen = np.concatenate([target[frames], predicted[frames]])
    extent = MIN_HALF_EXTENT * max(float(np.ceil(np.abs(chosen).max() / MIN_HALF_EXTENT)), 1.0)
    for column, frame in enumerate(frames):
        if keypoints is not None:
            flat = figure.add_subplot(rows, len(frames), column + 1)
            _draw_keypoints(flat, keypoints[frame], skeleton)
            flat.set_title(f"2D input (px), frame {frame}", fontsize=8)
        axes = figure.add_subplot(rows, len(frames), (rows - 1) * len(frames) + column + 1, projection="3d")
        _draw_skeleton(axes, target[frame], skeleton, "C2", "ground truth")
        _draw_skeleton(axes, predicted[frame], skeleton, "C3", "prediction")
        ticks = [-extent / 2, 0.0, extent / 2]
        axes.set(xlim=(-extent, extent), ylim=(-extent, extent), zlim=(-extent, extent))
        axes.set(xticks=ticks, yticks=ticks, zticks=ticks, xlabel="x (m)", ylabel="depth (m)", zlabel="up (m)")
        axes.set_box_aspect((1.0, 1.0, 1.0))
        axes.view_init(**SKELETON_VIEW)
        axes.set_title(f"3D, frame {frame}", fontsize=8)
        axes.tick_params(labelsize=6, pad=0)
        if column == 0:
            figure.legend(*axes.get_legend_handles_labels(), loc="upper right", fontsize=8)
    figure.suptitle(title)
    return _save(figure, path)


def write_report(path: Path, sections: Sequence[tuple[str, str]], title: str) -> Path:
    """``report.md`` from (heading, Markdown body) sections."""
    parts = [f"# {title}", ""]
    for heading, body in sections:
        parts += [f"## {heading}", "", body.strip(), ""]
    path.write_text("\n".join(parts))
    return path
