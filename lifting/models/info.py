"""Model facts for ``flows.py model-info``: parameters, FLOPs and shapes, counted without running real math.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``, which counts 2 FLOPs per multiply-add for
matrix products and convolutions (norms, activations and softmax are not counted). Papers usually quote
multiply-adds ("MACs", often printed as "FLOPs"), so both are reported. The model runs on the ``meta``
device: shapes propagate, nothing is computed, and attention is counted through its decomposition into
batched matrix products (the CPU kernel would not be counted at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

FLOPS_PER_MULTIPLY_ADD = 2
"""FlopCounterMode counts a multiply-add as two FLOPs."""

_ATTENTION_OPERATORS = ("bmm", "baddbmm", "_scaled_dot_product")
"""Operators that only attention uses in these models (queries x keys, weights x values)."""

SEQUENCE_HEAD_NAME = "sequence_head"
"""Module name of a full-sequence head that centre-frame inference does not need."""


@dataclass(frozen=True)
class ModelInfo:
    """Size and cost of one model preset.

    Attributes:
        model: Registry name.
        preset: Preset name.
        parameters: Trainable parameters.
        parameters_without_sequence_head: Without the full-sequence head (models with a centre head), else None.
        flops_per_forward: FLOPs of one forward pass at batch 1 (2 per multiply-add).
        multiply_adds_per_forward: ``flops_per_forward / 2``.
        flops_by_kind: ``{"weights": ..., "attention": ...}``: linear/convolution layers vs attention products.
        output_frames_per_forward: Output poses one forward pass yields at inference (seq2seq: all frames;
            centre-frame models: 1; Uplift-and-Upsample: ``s_out``, the frames between centre predictions).
        flops_per_output_frame: ``flops_per_forward / output_frames_per_forward``.
        input_shapes: Name -> shape of the forward inputs at batch 1.
        output_shapes: Name -> shape of the outputs at batch 1.
        paper_parameters: The paper's parameter count (absolute), or None.
        paper_counted: Which count the paper's figure matches: ``"all"`` or ``"without_sequence_head"``.
        paper_source: Paper and table of the figure.
    """

    model: str
    preset: str
    parameters: int
    parameters_without_sequence_head: int | None
    flops_per_forward: int
    multiply_adds_per_forward: int
    flops_by_kind: Mapping[str, int]
    output_frames_per_forward: int
    flops_per_output_frame: float
    input_shapes: Mapping[str, tuple[int, ...]]
    output_shapes: Mapping[str, tuple[int, ...]]
    paper_parameters: float | None = None
    paper_counted: str = "all"
    paper_source: str = ""

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of the keypoint input ``(1, T, J, C)``."""
        return self.input_shapes["keypoints"]

    @property
    def compared_parameters(self) -> int:
        """Our count that the paper's figure describes."""
        if self.paper_counted == "without_sequence_head" and self.parameters_without_sequence_head is not None:
            return self.parameters_without_sequence_head
        return self.parameters

    @property
    def paper_relative_difference(self) -> float | None:
        """``(ours - paper) / paper`` for the compared count, or None without a paper figure."""
        if self.paper_parameters is None:
            return None
        return (self.compared_parameters - self.paper_parameters) / self.paper_parameters


def count_parameters(model: nn.Module, exclude: str | None = None) -> int:
    """Parameters of ``model``, skipping those under a submodule named ``exclude``.

    Every ``nn.Parameter`` counts, frozen or not, as the papers and released code count them: the Strided
    Transformer's two final norms are created but never applied (released code), so they are frozen here, yet
    part of its published 4.34 M.
    """
    return sum(
        parameter.numel()
        for name, parameter in model.named_parameters()
        if exclude is None or exclude not in name.split(".")
    )


def count_flops(model: nn.Module, inputs: Mapping[str, torch.Tensor]) -> tuple[Mapping[str, int], dict[str, tuple]]:
    """FLOPs of one forward pass, split into weight layers and attention, and the output shapes.

    Args:
        model: Any model returning a tensor or a NamedTuple of tensors (best on the ``meta`` device).
        inputs: Keyword arguments of ``forward``.

    Returns:
        ``({"weights": ..., "attention": ...}, {output name: shape})``.
    """
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        outputs = model(**inputs)
    by_kind = {"weights": 0, "attention": 0}
    for operator, flops in counter.get_flop_counts()["Global"].items():
        kind = "attention" if any(name in str(operator) for name in _ATTENTION_OPERATORS) else "weights"
        by_kind[kind] += int(flops)
    if isinstance(outputs, torch.Tensor):
        shapes = {"output": tuple(outputs.shape)}
    else:
        shapes = {name: tuple(value.shape) for name, value in outputs._asdict().items()}
    return MappingProxyType(by_kind), shapes


def describe_model(model: nn.Module, name: str, preset: str, paper: tuple[float, str, str] | None = None) -> ModelInfo:
    """Count a built model's parameters and FLOPs (batch 1); build it on the ``meta`` device for speed.

    Args:
        model: A registry model with ``example_inputs`` and ``output_frames_per_forward``.
        name: Registry name, for the report.
        preset: Preset name, for the report.
        paper: ``(parameters, counted, source)`` of the paper's figure, or None.

    Returns:
        The ``ModelInfo``.
    """
    model.eval()
    device = next(model.parameters()).device
    inputs = model.example_inputs(batch_size=1, device=device)
    flops_by_kind, output_shapes = count_flops(model, inputs)
    total = sum(flops_by_kind.values())
    frames = model.output_frames_per_forward()
    has_sequence_head = any(SEQUENCE_HEAD_NAME in n.split(".") for n, _ in model.named_parameters())
    paper_parameters, paper_counted, paper_source = paper if paper is not None else (None, "all", "")
    return ModelInfo(
        model=name,
        preset=preset,
        parameters=count_parameters(model),
        parameters_without_sequence_head=count_parameters(model, SEQUENCE_HEAD_NAME) if has_sequence_head else None,
        flops_per_forward=total,
        multiply_adds_per_forward=total // FLOPS_PER_MULTIPLY_ADD,
        flops_by_kind=flops_by_kind,
        output_frames_per_forward=frames,
        flops_per_output_frame=total / frames,
        input_shapes=MappingProxyType({key: tuple(value.shape) for key, value in inputs.items()}),
        output_shapes=MappingProxyType(output_shapes),
        paper_parameters=paper_parameters,
        paper_counted=paper_counted,
        paper_source=paper_source,
    )


def _scaled(value: float) -> str:
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3f} {suffix}"
    return f"{value:.0f}"


def format_model_info(info: ModelInfo) -> str:
    """The text ``python flows.py model-info MODEL --preset P`` prints: one labelled line per fact."""
    shapes_in = ", ".join(f"{name} {shape}" for name, shape in info.input_shapes.items())
    shapes_out = ", ".join(f"{name} {shape}" for name, shape in info.output_shapes.items())
    lines = [
        f"model                    {info.model} (preset {info.preset})",
        f"inputs (batch 1)         {shapes_in}",
        f"outputs (batch 1)        {shapes_out}",
        f"parameters               {info.parameters:,} ({info.parameters / 1e6:.2f} M)",
    ]
    if info.parameters_without_sequence_head is not None:
        count = info.parameters_without_sequence_head
        lines.append(f"  without sequence head  {count:,} ({count / 1e6:.2f} M)")
    if info.paper_parameters is not None:
        which = "without sequence head" if info.paper_counted == "without_sequence_head" else "all parameters"
        lines.append(
            f"  paper                  {info.paper_parameters / 1e6:.2f} M ({which}; {info.paper_source}): "
            f"ours differs by {100 * info.paper_relative_difference:+.2f} %"
        )
    lines += [
        f"FLOPs per forward        {_scaled(info.flops_per_forward)}FLOPs "
        f"= {_scaled(info.multiply_adds_per_forward)} multiply-adds "
        f"(weights {_scaled(info.flops_by_kind['weights'])}FLOPs, "
        f"attention {_scaled(info.flops_by_kind['attention'])}FLOPs)",
        f"output frames / forward  {info.output_frames_per_forward}",
        f"FLOPs per output frame   {_scaled(info.flops_per_output_frame)}FLOPs",
        "(FLOPs: torch.utils.flop_counter, 2 per multiply-add; matmul, linear and convolution only)",
    ]
    return "\n".join(lines)
