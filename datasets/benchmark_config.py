"""What the benchmark conversions (``preprocess-h36m``, ``-3dhp``, ``-humaneva``) read: one config per dataset.

Each frozen dataclass is the one declaration of a conversion's options: the flow takes its fields as a
mapping, and ``python flows.py preprocess-*`` generates one option per field, with the help text of the
``Attributes:`` section (``pipelines.cli.options``). The readers' format names come from here too. This
module imports no reader, so the command line's ``--help`` stays fast.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from datasets.config import runtime_field

H36mFormat = Literal["videopose3d", "cdf"]
HumanEvaFormat = Literal["videopose3d", "mat"]
Mpi3dhpFormat = Literal["mat", "npz"]
Mpi3dhpAnnotation = Literal["univ_annot3", "annot3"]


@dataclass(frozen=True)
class H36mConversionConfig:
    """How to read a Human3.6M source.

    Attributes:
        source: Folder with data_3d_h36m.npz (+ data_2d_h36m_*.npz) or S*/MyPoseFeatures/D3_Positions/*.cdf.
            Unset: licence-free demo data.
        format: Source format; detected from the folder when unset.
        detections: Extra 2D file by name, stored as keypoints_2d_NAME.
    """

    source: Path | None = runtime_field(default=None)  # its content counts through the input fingerprint
    format: H36mFormat | None = None
    detections: Mapping[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class HumanEvaConversionConfig:
    """How to read a HumanEva-I source.

    Attributes:
        source: Folder with data_3d_humaneva15.npz (+ data_2d_humaneva15_*.npz) or the MATLAB export.
            Unset: licence-free demo data.
        format: Source format; detected from the folder when unset.
        detections: Extra 2D file by name, stored as keypoints_2d_NAME.
    """

    source: Path | None = runtime_field(default=None)  # its content counts through the input fingerprint
    format: HumanEvaFormat | None = None
    detections: Mapping[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class Mpi3dhpConversionConfig:
    """How to read an MPI-INF-3DHP source.

    Attributes:
        source: Folder with S*/Seq*/annot.mat (+ camera.calibration) and/or TS*/annot_data.mat, or
            data_train_3dhp.npz / data_test_3dhp.npz. Unset: licence-free demo data.
        format: Source format; detected from the folder when unset.
        cameras: Training camera indices 0..13; unset: the 8 commonly used (datasets.mpi_inf_3dhp.VNECT_CAMERAS).
        annotation: The 3D annotation read; univ_annot3 is the evaluation ground truth.
    """

    source: Path | None = runtime_field(default=None)  # its content counts through the input fingerprint
    format: Mpi3dhpFormat | None = None
    cameras: tuple[int, ...] | None = None
    annotation: Mpi3dhpAnnotation = "univ_annot3"


def choices(literal: object) -> tuple[str, ...]:
    """The values a ``Literal`` alias allows, e.g. ``choices(H36mFormat) == ("videopose3d", "cdf")``."""
    return typing.get_args(literal)
