"""``evaluate``: a checkpoint on a pose store's split -> published-protocol metrics, ``report.md`` and plots.

    result = evaluate(Path("runs/u351/checkpoint_best.pt"), store, EvaluationConfig(input_stride=20), Path("eval"))
    result.summary        # {"mpjpe_mm": ..., "p_mpjpe_mm": ..., "n_mpjpe_mm": ..., "mpjve_mm": ...}

``evaluate_predictions`` is the part after inference: any per-view predictions (a model's, an oracle's) are
scored by the same code, so ground truth in gives zeros out.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import torch

from datasets.config import to_jsonable
from datasets.escaping import markdown_text
from datasets.skeletons import get_skeleton
from datasets.store import PoseStore
from datasets.windows import PoseWindows
from datasets.windows.codec import SPATIAL_CHANNELS, root_relative
from lifting.evaluation.config import EvaluationConfig
from lifting.evaluation.inference import InferencePlan, predict_view
from lifting.evaluation.predictions import PREDICTIONS_FILE, save_predictions
from lifting.evaluation.protocols import (
    ERROR_COLUMNS,
    MPI_INF_3DHP_ACTIVITIES,
    PCK_COLUMNS,
    FrameErrors,
    pck_joints,
    protocol_for,
    protocol_tables,
    view_errors,
)
from lifting.evaluation.report import markdown_table, plot_bars, plot_skeletons, plot_training_curves, write_report
from lifting.evaluation.viewers import viewer_links, write_extreme_viewers
from lifting.training.checkpoint import CheckpointInfo, load_model
from lifting.training.distributed import resolve_device, resolve_precision
from lifting.training.model_interface import window_config_for
from lifting.training.records import read_metrics

REPORT_FILE, METRICS_JSON = "report.md", "metrics.json"


@dataclass(frozen=True)
class EvaluationResult:
    """What an evaluation produced.

    Attributes:
        protocol: ``"h36m"``, ``"mpi_inf_3dhp"``, ``"humaneva"`` or ``"generic"``.
        summary: Headline numbers (``mpjpe_mm``, ``p_mpjpe_mm``, ... or ``pck_150mm_percent``, ``auc_percent``).
        tables: ``protocol_tables``: per group, per joint, key-frames vs all frames.
        views: Views evaluated.
        frames: Frames counted (valid frames).
        report_path: ``report.md``.
        metrics_path: ``metrics.json`` (everything above as JSON).
        plots: PNG files written.
        markdown_table: The per-group table in Markdown (for a Prefect artifact).
        predictions_path: ``predictions.npz`` (``lifting.evaluation.predictions``).
        viewers: Viewer HTML files of the worst and best sequences (none without plots).
    """

    protocol: str
    summary: dict[str, float]
    tables: dict[str, Any]
    views: int
    frames: int
    report_path: Path
    metrics_path: Path
    plots: tuple[Path, ...]
    markdown_table: str
    predictions_path: Path | None = None
    viewers: tuple[Path, ...] = ()


def inference_plan(info: CheckpointInfo, config: EvaluationConfig, device: torch.device) -> InferencePlan:
    """The inference a checkpoint gets under ``config``: the windows it was validated on, mode, hop, flip.

    The window is the one validation reads (``window_config_for(..., "evaluation")``: length, strides,
    key-frames from frame 0), with ``config``'s padding and 2D array where it overrides the training run's.
    """
    settings = info.training_config.window
    if config.input_stride is not None and not info.model_config.input_strides:
        raise ValueError(f"input_stride={config.input_stride} applies to uplift-upsample models, not {info.model_name}")
    window = window_config_for(info.model_config, settings, "evaluation", input_stride=config.input_stride)
    window = dataclasses.replace(
        window,
        padding=settings.padding if config.padding == "auto" else config.padding,
        keypoints=config.keypoints or settings.keypoints,
    )
    mode = config.mode if config.mode != "auto" else info.model_config.output_kind
    bf16 = resolve_precision(config.precision, device) == "bf16"
    return InferencePlan(mode, window, config.seq2seq_hop, config.flip_test, config.batch_size, bf16)


def split_rows(store: PoseStore, split: str, max_views: int | None = None) -> np.ndarray:
    """Index rows of a split's views in view order (the first ``max_views`` if given)."""
    rows = np.flatnonzero(pc.equal(store.index["split"], split).to_numpy(zero_copy_only=False))
    if not len(rows):
        present = sorted(set(store.index["split"].to_pylist()))
        raise ValueError(f"store {store.directory} has no views in split {split!r}; it has {present}")
    return rows[:max_views]


def split_views(store: PoseStore, split: str, max_views: int | None = None) -> list[dict[str, Any]]:
    """The index rows of a split's views (``split_rows``) as dicts, read from the index in one go."""
    return store.index.take(split_rows(store, split, max_views)).to_pylist()


def _frame_groups(store: PoseStore, view: Mapping[str, Any], length: int) -> dict[str, np.ndarray]:
    """Per-frame group labels of a view (T,): its action, subject and action, and 3DHP's activity codes."""
    action = view["action"] or view["subset"] or view["dataset"]
    groups = {
        "action": np.full(length, action, dtype=object),
        "subject_action": np.full(length, f"{view['subject']} {action}", dtype=object),
    }
    if "activity" in store.arrays:
        codes = store.read("activity", view["view_id"])
        groups["activity"] = np.array(
            [MPI_INF_3DHP_ACTIVITIES.get(int(c), f"activity {int(c)}") for c in codes], object
        )
    return groups


@dataclass
class _ScoredViews:
    """Per-frame errors of the evaluated views, and what the figures and ``predictions.npz`` need of each."""

    errors: FrameErrors
    clips: dict[int, tuple[np.ndarray, np.ndarray]]  # view id -> (root-relative target, prediction), (T, J, 3)
    view_mpjpe: dict[int, float]  # view id -> MPJPE over its valid frames, metres


def _score_views(
    store: PoseStore, views: Sequence[Mapping[str, Any]], predictions: Mapping[int, np.ndarray], key_frame_stride: int
) -> _ScoredViews:
    """Score every view's prediction against the store's ground truth (``protocols.view_errors``)."""
    skeleton = get_skeleton(store.skeleton)
    joints_counted = pck_joints(skeleton)
    parts, clips, view_mpjpe = [], {}, {}
    for view in views:
        view_id = view["view_id"]
        if view_id not in predictions:
            raise KeyError(f"no prediction for view {view_id} of split {view['split']!r}")
        target = store.read("joints_3d", view_id)
        predicted = np.asarray(predictions[view_id])
        if predicted.shape != target.shape:
            raise ValueError(f"view {view_id}: predictions {predicted.shape} do not match the store's {target.shape}")
        length = len(target)
        valid = store.read("valid", view_id) if "valid" in store.arrays else np.ones(length, bool)
        key_frame = np.arange(length) % key_frame_stride == 0
        groups = _frame_groups(store, view, length)
        parts.append(view_errors(predicted, target, skeleton.root, joints_counted, valid, key_frame, groups))
        clips[view_id] = (root_relative(target, skeleton.root), predicted)
        view_mpjpe[view_id] = float(parts[-1].mpjpe[valid].mean()) if valid.any() else float("nan")
    return _ScoredViews(FrameErrors.concatenate(parts), clips, view_mpjpe)


def evaluate_predictions(
    store: PoseStore,
    predictions: Mapping[int, np.ndarray],
    config: EvaluationConfig,
    output_dir: Path,
    *,
    key_frame_stride: int = 1,
    training_records: Sequence[Mapping[str, Any]] = (),
    setup: Mapping[str, Any] | None = None,
    keypoints: str = "keypoints_2d",
) -> EvaluationResult:
    """Score per-view predictions with the store's protocol and write the report.

    Args:
        store: The pose store (ground truth, ``valid`` frames, groups).
        predictions: View id -> (T, J, 3) root-relative predictions in metres, camera frame, for every view of
            ``config.split`` (the first ``config.max_views`` of them).
        config: Split, protocol, figure choices.
        output_dir: Receives ``report.md``, ``metrics.json`` and the plots.
        key_frame_stride: ``s_in`` of the inputs: frames ``t % s_in == 0`` are key-frames (1: all are).
        training_records: The checkpoint's ``metrics.jsonl`` records, for the curves.
        setup: Lines describing the model and inference, for the report.
        keypoints: Store array the model's 2D input came from (drawn in the skeleton figure and the viewer files).

    Returns:
        The ``EvaluationResult``.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    views = split_views(store, config.split, config.max_views)
    protocol = protocol_for([view["dataset"] for view in views], config.protocol)
    scored = _score_views(store, views, predictions, key_frame_stride)
    tables = protocol_tables(scored.errors, protocol, get_skeleton(store.skeleton).joint_names)
    columns = PCK_COLUMNS if protocol == "mpi_inf_3dhp" else ERROR_COLUMNS
    group_markdown = markdown_table(tables["groups"], columns, tables["group_kind"].replace("_", " "))
    figures = _FigureInput(store, keypoints, {view["view_id"]: view for view in views})
    plots, viewers = _figures(output_dir, tables, training_records, scored, figures, config)
    predictions = {view_id: predicted for view_id, (_, predicted) in scored.clips.items()}
    predictions_path = save_predictions(output_dir / PREDICTIONS_FILE, predictions, scored.view_mpjpe)
    frames = int(scored.errors.valid.sum())
    document = {"protocol": protocol, "views": len(views), "evaluated_frames": frames, **tables}
    sections = _report_sections(document, columns, group_markdown, plots, output_dir, setup or {})
    if viewers:
        sections.append(("Viewer", viewer_links(viewers, output_dir)))
    metrics_path = output_dir / METRICS_JSON
    metrics_path.write_text(json.dumps(to_jsonable({**document, "setup": dict(setup or {})}), indent=2))
    report = write_report(output_dir / REPORT_FILE, sections, f"Evaluation: {protocol}, split {config.split}")
    return EvaluationResult(
        protocol, tables["summary"], tables, len(views), frames, report, metrics_path, plots, group_markdown,
        predictions_path, tuple(viewer.path for viewer in viewers.values()),
    )  # fmt: skip


@dataclass(frozen=True)
class _FigureInput:
    """Where the skeleton figure's 2D input and bones come from."""

    store: PoseStore
    keypoints: str
    views: Mapping[int, Mapping[str, Any]]  # view id -> its index row (``split_views``)

    def keypoints_of(self, view_id: int) -> np.ndarray:
        """(T, J, 2) pixels of a view's 2D input."""
        return np.asarray(self.store.read(self.keypoints, view_id))[..., :SPATIAL_CHANNELS]

    def title_of(self, view_id: int) -> str:
        """``view 3: S9 Walking, camera 54138969``."""
        view = self.views[view_id]
        return f"view {view_id}: {view['subject']} {view['sequence']}, camera {view['camera']}"


def _figures(output_dir: Path, tables: dict, records: Sequence, scored: _ScoredViews, source: _FigureInput,
             config: EvaluationConfig) -> tuple[tuple[Path, ...], dict]:  # fmt: skip
    """The PNG plots and the viewer files of the worst and best views (none without ``config.plots``)."""
    if not config.plots:
        return (), {}
    plots = _plots(output_dir, tables, records, scored.clips, source, config)
    return plots, write_extreme_viewers(output_dir, source.store, scored.clips, scored.view_mpjpe, source.keypoints)


def _plots(output_dir: Path, tables: dict, records: Sequence, clips: dict, source: _FigureInput,
           config: EvaluationConfig) -> tuple[Path, ...]:  # fmt: skip
    plots = [
        plot_bars(tables["per_joint"], output_dir / "per_joint_error.png", "MPJPE per joint", "mm"),
        plot_bars(
            {row: values["mpjpe_mm"] for row, values in tables["groups"].items() if "mpjpe_mm" in values},
            output_dir / "per_group_error.png", f"MPJPE per {tables['group_kind'].replace('_', ' ')}", "mm",
        ),
    ]  # fmt: skip
    curves = plot_training_curves(records, output_dir / "training_curves.png")
    if curves is not None:
        plots.append(curves)
    view = config.figure_view if config.figure_view is not None else next(iter(clips))
    if view not in clips:
        raise ValueError(f"figure_view {view} is not among the evaluated views {sorted(clips)}")
    target, predicted = clips[view]
    frames = sorted(set(np.linspace(0, len(target) - 1, config.figure_frames).round().astype(int).tolist()))
    skeleton = get_skeleton(source.store.skeleton)
    plots.append(plot_skeletons(target, predicted, skeleton, frames, output_dir / "skeletons.png",
                                source.title_of(view), keypoints=source.keypoints_of(view)))  # fmt: skip
    return tuple(plots)


def _report_sections(document: dict, columns, group_markdown: str, plots, output_dir: Path, setup: Mapping) -> list:
    summary = ", ".join(f"{name} {value:.2f}" for name, value in document["summary"].items())
    sections = [
        (
            "Setup",
            "\n".join(f"- {key}: {markdown_text(value)}" for key, value in setup.items())
            or "- predictions given directly",
        ),
        (
            "Results",
            f"{document['views']} views, {document['evaluated_frames']} frames. Headline: {summary}."
            f"\n\n{group_markdown}",
        ),
    ]
    if "key_frames" in document:
        sections.append(("Key-frames vs all frames", markdown_table(document["key_frames"], columns, "frames")))
    per_joint = {name: {"mpjpe_mm": value} for name, value in document["per_joint"].items()}
    sections.append(("Per joint", markdown_table(per_joint, ["mpjpe_mm"], "joint")))
    if plots:
        sections.append(("Plots", "\n".join(f"![{path.stem}]({path.relative_to(output_dir)})" for path in plots)))
    return sections


def evaluate(
    checkpoint: Path, store: PoseStore, config: EvaluationConfig, output_dir: Path, device: str = "auto"
) -> EvaluationResult:
    """Evaluate a checkpoint on a store's split with the published protocol of the store's dataset.

    Args:
        checkpoint: A ``checkpoint_*.pt`` written by ``lifting.training.train`` (it names its model and config).
        store: The pose store evaluated on.
        config: Split, protocol, inference mode, flip test, input stride, ...
        output_dir: Receives ``report.md``, ``metrics.json`` and PNG plots.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns:
        The ``EvaluationResult``.
    """
    checkpoint = Path(checkpoint)
    model, info = load_model(checkpoint, config.weights)
    if info.skeleton != store.skeleton:
        raise ValueError(f"{checkpoint} predicts {info.skeleton} joints; the store holds {store.skeleton}")
    target_device = resolve_device(device)
    model = model.to(target_device).eval()
    plan = inference_plan(info, config, target_device)
    views = split_views(store, config.split, config.max_views)
    windows = PoseWindows(store, plan.window, splits=(config.split,), view_ids=[view["view_id"] for view in views])
    rows = split_rows(store, config.split, config.max_views)
    predictions = {
        view["view_id"]: predict_view(model, windows, int(row), plan, target_device)
        for view, row in zip(views, rows, strict=True)
    }
    setup = {
        "checkpoint": checkpoint,
        "model": f"{info.model_name} (preset {info.model_preset}), {info.weights} weights, "
        f"{info.progress.epoch} epochs / {info.progress.global_step} steps",
        "store": f"{store.directory}, array {plan.window.keypoints}",
        "inference": plan.describe(),
    }
    return evaluate_predictions(
        store, predictions, config, output_dir, key_frame_stride=plan.key_frame_stride,
        training_records=read_metrics(checkpoint.parent), setup=setup, keypoints=plan.window.keypoints,
    )  # fmt: skip
