"""``EvaluationConfig``: which split, which protocol, which inference mode; defaults follow the papers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lifting.training.config import PRECISIONS, Precision

Protocol = Literal["auto", "h36m", "mpi_inf_3dhp", "humaneva", "generic"]
PROTOCOLS = ("h36m", "mpi_inf_3dhp", "humaneva", "generic")
"""Evaluation protocols; ``"auto"`` picks by the store's ``dataset`` column (``generic`` for any other)."""


@dataclass(frozen=True)
class EvaluationConfig:
    """How to evaluate a checkpoint on a pose store.

    Attributes:
        split: Views evaluated (the papers' test subjects are the stores' ``test`` split).
        protocol: ``"h36m"`` (P1 MPJPE, P2 P-MPJPE, N-MPJPE, MPJVE per action, averaged over actions),
            ``"mpi_inf_3dhp"`` (PCK@150 mm, AUC, MPJPE on valid frames per activity), ``"humaneva"`` (per
            subject and action), ``"generic"`` (the h36m metrics per action), or ``"auto"``.
        mode: ``"centre"`` (sliding window, centre pose), ``"seq2seq"`` (whole windows), or ``"auto"``:
            seq2seq for MixSTE (its evaluation), centre for the others.
        flip_test: Flip test-time augmentation (all three papers use it).
        input_stride: Uplift-and-Upsample's ``s_in`` at test time (key-frames from frame 0); None: the
            smallest the model was trained with.
        seq2seq_hop: Frames between seq2seq windows; None: the window length (non-overlapping tiles).
        keypoints: Store array of the 2D input; None: the one the checkpoint was trained on.
        padding: ``"edge"``, ``"zero"`` or ``"auto"`` (as trained).
        weights: ``"auto"`` (EMA weights if the run kept them), ``"ema"`` or ``"model"``.
        batch_size: Windows per forward pass.
        precision: ``"bf16"`` autocast, ``"fp32"``, or ``"auto"`` (bf16 on CUDA).
        max_views: Evaluate only the first this many views of the split (smoke runs); None: all.
        figure_view: View drawn in the skeleton figure; None: the first evaluated view.
        figure_frames: Frames of that view drawn (evenly spaced).
        plots: Draw the PNG plots (False: tables only, for quick runs).
    """

    split: str = "test"
    protocol: Protocol = "auto"
    mode: Literal["auto", "centre", "seq2seq"] = "auto"
    flip_test: bool = True
    input_stride: int | None = None
    seq2seq_hop: int | None = None
    keypoints: str | None = None
    padding: Literal["auto", "edge", "zero"] = "auto"
    weights: Literal["auto", "ema", "model"] = "auto"
    batch_size: int = 256
    precision: Precision = "auto"
    max_views: int | None = None
    figure_view: int | None = None
    figure_frames: int = 4
    plots: bool = True

    def __post_init__(self) -> None:
        """Validate the choices; each message names the rule and the value."""
        choices = {
            "protocol": ("auto", *PROTOCOLS),
            "mode": ("auto", "centre", "seq2seq"),
            "padding": ("auto", "edge", "zero"),
            "weights": ("auto", "ema", "model"),
            "precision": PRECISIONS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("input_stride", "seq2seq_hop", "max_views"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if self.batch_size < 1 or self.figure_frames < 1:
            raise ValueError(
                f"batch_size and figure_frames must be positive, got {self.batch_size}, {self.figure_frames}"
            )
