"""``evaluate``: a checkpoint on a pose store's split -> published-protocol metrics, ``report.md`` and plots.

    result = evaluate(Path("runs/u351/checkpoint_best.pt"), store, EvaluationConfig(input_stride=20), Path("eval"))
    result.summary        # {"mpjpe_mm": ..., "p_mpjpe_mm": ..., "n_mpjpe_mm": ..., "mpjve_mm": ...}

``evaluate_predictions`` is the part after inference: any per-view predictions (a model's, an oracle's) are
scored by the same code, so ground truth in gives zeros out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import torch

from datasets.cameras import pixels_to_normalized
from datasets.config import to_jsonable
from datasets.skeletons import get_skeleton
from datasets.store import PoseStore
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
from lifting.training.models import window_config_for
from lifting.training.records import read_metrics

REPORT_FILE, METRICS_JSON = "report.md", "metrics.json"
SPATIAL_CHANNELS = 2


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
    """The inference a checkpoint gets under ``config`` (mode, window, strides, padding, flip)."""
    settings = info.training_config.window
    window = window_config_for(info.model_config, settings, "evaluation", input_stride=config.input_stride)
    mode = config.mode if config.mode != "auto" else info.model_config.output_kind
    if config.input_stride is not None and not info.model_config.input_strides:
        raise ValueError(f"input_stride={config.input_stride} applies to uplift-upsample models, not {info.model_name}")
    bf16 = resolve_precision(config.precision, device) == "bf16"
    return InferencePlan(
        mode=mode,
        frames=window.frames,
        output_stride=window.output_stride,
        input_stride=window.input_strides[0] if window.input_strides else window.output_stride,
        hop=config.seq2seq_hop or window.frames,
        padding=settings.padding if config.padding == "auto" else config.padding,
        flip_test=config.flip_test,
        batch_size=config.batch_size,
        bf16=bf16,
    )


def split_rows(store: PoseStore, split: str, max_views: int | None = None) -> np.ndarray:
    """Index rows of a split's views in view order (the first ``max_views`` if given)."""
    rows = np.flatnonzero(pc.equal(store.index["split"], split).to_numpy(zero_copy_only=False))
    if not len(rows):
        present = sorted(set(store.index["split"].to_pylist()))
        raise ValueError(f"store {store.directory} has no views in split {split!r}; it has {present}")
    return rows[:max_views]


def view_keypoints(store: PoseStore, row: int, name: str) -> np.ndarray:
    """(T, J, 2) screen-normalised 2D of a view from store array ``name``."""
    index = store.index
    pixels = store.read(name, int(index["view_id"][row].as_py()))[..., :SPATIAL_CHANNELS]
    return pixels_to_normalized(pixels, int(index["width"][row].as_py()), int(index["height"][row].as_py()))


def _frame_groups(store: PoseStore, row: int, length: int) -> dict[str, np.ndarray]:
    index = store.index
    action = index["action"][row].as_py() or index["subset"][row].as_py() or index["dataset"][row].as_py()
    groups = {
        "action": np.full(length, action, dtype=object),
        "subject_action": np.full(length, f"{index['subject'][row].as_py()} {action}", dtype=object),
    }
    if "activity" in store.arrays:
        codes = store.read("activity", int(index["view_id"][row].as_py()))
        groups["activity"] = np.array(
            [MPI_INF_3DHP_ACTIVITIES.get(int(c), f"activity {int(c)}") for c in codes], object
        )
    return groups


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
    skeleton = get_skeleton(store.skeleton)
    rows = split_rows(store, config.split, config.max_views)
    protocol = protocol_for(store.index["dataset"].take(rows).to_pylist(), config.protocol)
    joints_counted = pck_joints(skeleton)
    parts, clips, view_mpjpe = [], {}, {}
    for row in rows:
        view_id = int(store.index["view_id"][row].as_py())
        if view_id not in predictions:
            raise KeyError(f"no prediction for view {view_id} of split {config.split!r}")
        target = store.read("joints_3d", view_id)
        predicted = np.asarray(predictions[view_id])
        if predicted.shape != target.shape:
            raise ValueError(f"view {view_id}: predictions {predicted.shape} do not match the store's {target.shape}")
        length = len(target)
        valid = store.read("valid", view_id) if "valid" in store.arrays else np.ones(length, bool)
        key_frame = np.arange(length) % key_frame_stride == 0
        parts.append(
            view_errors(
                predicted, target, skeleton.root, joints_counted, valid, key_frame, _frame_groups(store, row, length)
            )
        )
        clips[view_id] = (target - target[:, skeleton.root : skeleton.root + 1], predicted)
        view_mpjpe[view_id] = float(parts[-1].mpjpe[valid].mean()) if valid.any() else float("nan")
    errors = FrameErrors.concatenate(parts)
    tables = protocol_tables(errors, protocol, skeleton.joint_names)
    columns = PCK_COLUMNS if protocol == "mpi_inf_3dhp" else ERROR_COLUMNS
    group_markdown = markdown_table(tables["groups"], columns, tables["group_kind"].replace("_", " "))
    figure_input = _FigureInput(store, keypoints)
    plots = _plots(output_dir, tables, training_records, clips, figure_input, config) if config.plots else ()
    predictions_path = save_predictions(
        output_dir / PREDICTIONS_FILE, {v: p for v, (_, p) in clips.items()}, view_mpjpe
    )
    viewers = write_extreme_viewers(output_dir, store, clips, view_mpjpe, keypoints) if config.plots else {}
    metrics_path = output_dir / METRICS_JSON
    document = {"protocol": protocol, "views": len(rows), "evaluated_frames": int(errors.valid.sum()), **tables}
    metrics_path.write_text(json.dumps(to_jsonable({**document, "setup": dict(setup or {})}), indent=2))
    sections = _report_sections(document, columns, group_markdown, plots, output_dir, setup or {})
    if viewers:
        sections.append(("Viewer", viewer_links(viewers, output_dir)))
    report = write_report(output_dir / REPORT_FILE, sections, f"Evaluation: {protocol}, split {config.split}")
    return EvaluationResult(
        protocol, tables["summary"], tables, len(rows), int(errors.valid.sum()), report, metrics_path, plots,
        group_markdown, predictions_path, tuple(viewer.path for viewer in viewers.values()),
    )  # fmt: skip


@dataclass(frozen=True)
class _FigureInput:
    """Where the skeleton figure's 2D input and bones come from."""

    store: PoseStore
    keypoints: str

    def keypoints_of(self, view_id: int) -> np.ndarray:
        """(T, J, 2) pixels of a view's 2D input."""
        return np.asarray(self.store.read(self.keypoints, view_id))[..., :SPATIAL_CHANNELS]

    def title_of(self, view_id: int) -> str:
        """``view 3: S9 Walking, camera 54138969``."""
        [row] = np.flatnonzero(self.store.index["view_id"].to_numpy() == view_id)
        values = {name: self.store.index[name][int(row)].as_py() for name in ("subject", "sequence", "camera")}
        return f"view {view_id}: {values['subject']} {values['sequence']}, camera {values['camera']}"


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
        ("Setup", "\n".join(f"- {key}: {value}" for key, value in setup.items()) or "- predictions given directly"),
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
    model = model.to(target_device)
    plan = inference_plan(info, config, target_device)
    keypoints_name = config.keypoints or info.training_config.window.keypoints
    flip_permutation = get_skeleton(store.skeleton).flip_permutation
    predictions = {}
    for row in split_rows(store, config.split, config.max_views):
        view_id = int(store.index["view_id"][row].as_py())
        keypoints = view_keypoints(store, row, keypoints_name)
        predictions[view_id] = predict_view(model, keypoints, plan, flip_permutation, target_device)
    setup = {
        "checkpoint": checkpoint,
        "model": f"{info.model_name} (preset {info.model_preset}), {info.weights} weights, "
        f"{info.progress.epoch} epochs / {info.progress.global_step} steps",
        "store": f"{store.directory}, array {keypoints_name}",
        "inference": f"{plan.mode}, N={plan.frames}, s_out={plan.output_stride}, s_in={plan.input_stride}, "
        f"hop={plan.hop if plan.mode == 'seq2seq' else '-'}, padding {plan.padding}, flip test {plan.flip_test}",
    }
    return evaluate_predictions(
        store, predictions, config, output_dir, key_frame_stride=plan.input_stride,
        training_records=read_metrics(checkpoint.parent), setup=setup, keypoints=keypoints_name,
    )  # fmt: skip
