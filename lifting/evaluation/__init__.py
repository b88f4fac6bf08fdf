"""Evaluation of uplifting models with the published protocols, and its report.

    from lifting.evaluation import EvaluationConfig, evaluate

    result = evaluate(Path("runs/demo/checkpoint_best.pt"), store, EvaluationConfig(split="test"), Path("eval/demo"))
    print(result.markdown_table)          # per-action (or per-activity) table; report.md and PNGs in eval/demo

Modules: ``config`` (``EvaluationConfig``), ``inference`` (centre / seq2seq inference over the windows of
``datasets.windows``, flip TTA, key-frames from frame 0, interpolation to the full frame rate), ``protocols``
(Human3.6M, MPI-INF-3DHP, HumanEva-I tables), ``report`` (Markdown and plots), ``predictions``
(``predictions.npz`` beside the metrics), ``viewers`` (viewer files of the worst and best sequences),
``evaluate`` (the entry points), ``baseline`` (the constant mean-pose prediction, scored the same way).
"""

from lifting.evaluation.baseline import evaluate_mean_pose, mean_pose
from lifting.evaluation.config import PROTOCOLS, EvaluationConfig
from lifting.evaluation.evaluate import (
    METRICS_JSON,
    REPORT_FILE,
    EvaluationResult,
    evaluate,
    evaluate_predictions,
    inference_plan,
    split_views,
)
from lifting.evaluation.inference import InferencePlan, predict_view
from lifting.evaluation.predictions import PREDICTIONS_FILE, load_predictions, save_predictions
from lifting.evaluation.protocols import (
    ALL_FRAMES,
    COLUMN_TITLES,
    MPI_INF_3DHP_ACTIVITIES,
    FrameErrors,
    pck_joints,
    protocol_for,
    protocol_tables,
    view_errors,
)
from lifting.evaluation.report import markdown_table

__all__ = [
    "ALL_FRAMES",
    "COLUMN_TITLES",
    "METRICS_JSON",
    "PREDICTIONS_FILE",
    "MPI_INF_3DHP_ACTIVITIES",
    "PROTOCOLS",
    "REPORT_FILE",
    "EvaluationConfig",
    "EvaluationResult",
    "FrameErrors",
    "InferencePlan",
    "evaluate",
    "evaluate_mean_pose",
    "evaluate_predictions",
    "inference_plan",
    "load_predictions",
    "markdown_table",
    "mean_pose",
    "pck_joints",
    "predict_view",
    "protocol_for",
    "protocol_tables",
    "save_predictions",
    "split_views",
    "view_errors",
]
