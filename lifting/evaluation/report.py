"""The evaluation report: ``report.md`` with the protocol's tables and PNG plots beside it.

Plots are drawn on matplotlib ``Figure`` objects with the Agg canvas (no pyplot, no display, no global
backend switch): training loss and validation curves (from the checkpoint's ``metrics.jsonl``), per-joint
errors, per-group errors, and a test clip's skeletons, ground truth beside prediction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from datasets.skeletons import Skeleton
from datasets.units import MILLIMETRES_PER_METRE
from lifting.evaluation.protocols import COLUMN_TITLES

FIGURE_DPI = 110
SMOOTHING_STEPS = 20
"""Window of the running mean drawn over the per-step training loss."""


def markdown_table(rows: Mapping[str, Mapping[str, float]], columns: Sequence[str], first: str = "") -> str:
    """A Markdown table: one row per key of ``rows``, one column per entry of ``columns`` (2 decimals)."""
    header = f"| {first} | " + " | ".join(COLUMN_TITLES.get(column, column) for column in columns) + " |"
    rule = "|---|" + "---:|" * len(columns)
    lines = [header, rule]
    for name, values in rows.items():
        cells = " | ".join("" if values.get(column) is None else f"{values[column]:.2f}" for column in columns)
        lines.append(f"| {name} | {cells} |")
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


def _draw_skeleton(axes: Any, pose: np.ndarray, skeleton: Skeleton, colour: str) -> None:
    """Camera-frame pose (J, 3) metres drawn upright: x right, z (depth) into the page, -y up."""
    for parent, child in skeleton.bones:
        segment = pose[[parent, child]]
        axes.plot(segment[:, 0], segment[:, 2], -segment[:, 1], color=colour, linewidth=2)


def plot_skeletons(
    target: np.ndarray, predicted: np.ndarray, skeleton: Skeleton, frames: Sequence[int], path: Path, title: str
) -> Path:
    """Ground truth (top row) beside prediction (bottom row) at a few frames of one clip.

    Args:
        target: (T, J, 3) metres, root-relative.
        predicted: (T, J, 3) metres, root-relative.
        skeleton: Bones to draw.
        frames: Frames shown.
        path: PNG to write.
        title: Figure title (the clip).
    """
    figure = Figure(figsize=(2.6 * len(frames), 5.4))
    extent = float(np.abs(np.concatenate([target[frames], predicted[frames]])).max()) or 1.0
    for column, frame in enumerate(frames):
        for row, (pose, colour, label) in enumerate(((target, "C2", "ground truth"), (predicted, "C3", "prediction"))):
            axes = figure.add_subplot(2, len(frames), row * len(frames) + column + 1, projection="3d")
            _draw_skeleton(axes, pose[frame], skeleton, colour)
            axes.set(xlim=(-extent, extent), ylim=(-extent, extent), zlim=(-extent, extent))
            axes.set_title(f"{label}, frame {frame}", fontsize=8)
            axes.tick_params(labelsize=6)
    figure.suptitle(title)
    return _save(figure, path)


def write_report(path: Path, sections: Sequence[tuple[str, str]], title: str) -> Path:
    """``report.md`` from (heading, Markdown body) sections."""
    parts = [f"# {title}", ""]
    for heading, body in sections:
        parts += [f"## {heading}", "", body.strip(), ""]
    path.write_text("\n".join(parts))
    return path
