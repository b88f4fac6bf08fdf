"""The AMASS conversion's settings: one frozen, validated, picklable dataclass passed to every stage.

Its fields are also ``preprocess-amass``'s options (``pipelines.cli.options`` generates them, with the help
text of the ``Attributes:`` section below): a new option is a new field here, documented there. This module
imports no torch, so ``--help`` stays fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from datasets.config import runtime_field

DEFAULT_PRESET = "default"
"""``presets/amass/default.yaml``: Uplift-and-Upsample's AMASS settings."""
REGRESSOR_ORDERS = ("spin", "h36m")
"""Row orders of a 17 x V regressor file: SPIN's ``J_regressor_h36m.npy`` (left leg first) or Human3.6M's."""
H36M_FPS = 50.0
"""Human3.6M's frame rate; uplift-upsample resamples AMASS to it (docs/formats.md 1.1, 4.5)."""

# Uplift-and-Upsample (Einfalt et al., WACV 2023) AMASS validation split, from its released code
# (common/dataset/amass_dataset.py via AMASS-to-3DHPE; docs/formats.md 4.5): the other sub-datasets train. Matching
# ignores case and non-alphanumerics ("MPI_HDM05" matches "MPIHDM05").
UPLIFT_UPSAMPLE_VALIDATION_SUBSETS = ("MPIHDM05", "SFU", "MPImosh")

PLACEMENTS = ("as_recorded", "start_at_origin")
"""Where a sequence goes in the Human3.6M world (``datasets.amass.virtual_cameras.place_in_h36m_world``)."""
UNKNOWN_GENDER_POLICIES = ("reject", "neutral")
PRECISIONS = ("float32", "float64")

# Human3.6M's cameras stand 4.1-5.6 m from the capture-volume centre, 1.4-1.7 m above the floor, all around
# it (camera centres of every subject in datasets/data/h36m_cameras.json); random cameras sample that volume.
H36M_CAMERA_DISTANCE_RANGE = (4.0, 5.6)
H36M_CAMERA_HEIGHT_RANGE = (1.4, 1.7)
FULL_CIRCLE_DEGREES = (-180.0, 180.0)


@dataclass(frozen=True)
class AmassConfig:
    """How to convert an AMASS archive into views.

    Attributes:
        amass_root: Archive root: ``<root>/<SubDataset>/<Subject>/*.npz`` (one extra folder level allowed).
        body_models: Body-model directory in AMASS's layout (``datasets.amass.body_model``).
        regressor: A 17 x V vertex regressor ``.npy``; None uses the model's own joints mapped to H36M's 17
            (an approximation: ``datasets.skeletons.APPROXIMATE_CORRESPONDENCES``).
        regressor_order: Row order of ``regressor``: ``"spin"`` (left leg first) or ``"h36m"``.
        fps: Target frame rate, Hz.
        placement: ``"as_recorded"`` (AMASS world coordinates unchanged, as Uplift-and-Upsample's pipeline) or
            ``"start_at_origin"`` (each sequence shifted so its first-frame pelvis is at x = y = 0).
        cameras: ``"h36m"`` (the four Human3.6M cameras) or ``"random:K"`` (K sampled look-at cameras).
        h36m_camera_subject: Whose Human3.6M extrinsics place the ``"h36m"`` cameras.
        camera_distance_range: Random cameras' horizontal distance from the subject's start, metres.
        camera_height_range: Random cameras' height above the floor, metres.
        camera_azimuth_range: Random cameras' azimuth around the subject, degrees (0 = world +x).
        seed: Mixed with each file's relative path to seed its random cameras.
        unknown_gender: ``"reject"`` files whose gender is not male/female/neutral, or pose them with the
            ``"neutral"`` model.
        num_betas: Shape coefficients used (AMASS: 16).
        use_dmpls: Apply a file's ``dmpls`` when the body-model directory has DMPL files.
        num_dmpls: DMPL coefficients used (AMASS: 8).
        include: Glob patterns on archive-relative paths; when given, only matching files are converted.
        exclude: Glob patterns on archive-relative paths of files to skip.
        validation_subsets: Sub-datasets whose files form the validation split (the rest train).
        batch_frames: Frames posed per batch (bounds memory).
        device: Torch device for the body model, e.g. ``"cpu"`` or ``"cuda:0"``; ``"auto"`` takes the GPU
            when one is present, else the CPU (``resolved_device``).
        precision: ``"float32"`` or ``"float64"`` for the body model.
    """

    # Where the inputs are: their content counts through the input fingerprint, so the paths are runtime.
    amass_root: Path = runtime_field()
    body_models: Path = runtime_field()
    regressor: Path | None = runtime_field(default=None)
    regressor_order: str = "spin"
    fps: float = H36M_FPS
    placement: str = "as_recorded"  # Uplift-and-Upsample's released pipeline; measured in docs/amass.md
    cameras: str = "h36m"
    h36m_camera_subject: str = "S1"
    camera_distance_range: tuple[float, float] = H36M_CAMERA_DISTANCE_RANGE
    camera_height_range: tuple[float, float] = H36M_CAMERA_HEIGHT_RANGE
    camera_azimuth_range: tuple[float, float] = FULL_CIRCLE_DEGREES
    seed: int = 0
    unknown_gender: str = "reject"
    num_betas: int = 16  # AMASS's extended SMPL+H shape space (docs/formats.md 5.2)
    use_dmpls: bool = True
    num_dmpls: int = 8  # AMASS uses the first 8 DMPLs (docs/formats.md 5.4)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    validation_subsets: tuple[str, ...] = UPLIFT_UPSAMPLE_VALIDATION_SUBSETS
    batch_frames: int = runtime_field(default=4096)  # how the run executes (memory), not what it makes
    device: str = runtime_field(default="cpu")
    precision: str = "float32"

    def __post_init__(self) -> None:
        for name in ("amass_root", "body_models", "regressor"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        if self.regressor_order not in REGRESSOR_ORDERS:
            raise ValueError(f"regressor_order must be one of {REGRESSOR_ORDERS}, got {self.regressor_order!r}")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be a finite positive rate in Hz, got {self.fps}")
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {self.placement!r}")
        _ = self.camera_count  # raises for a malformed ``cameras``
        for name in ("camera_distance_range", "camera_height_range", "camera_azimuth_range"):
            low, high = getattr(self, name)
            if not (math.isfinite(low) and math.isfinite(high) and low <= high):
                raise ValueError(f"{name} must be a finite (low, high) with low <= high, got {(low, high)}")
        if self.camera_distance_range[0] <= 0:
            raise ValueError(f"camera_distance_range must be positive, got {self.camera_distance_range}")
        if self.unknown_gender not in UNKNOWN_GENDER_POLICIES:
            raise ValueError(f"unknown_gender must be one of {UNKNOWN_GENDER_POLICIES}, got {self.unknown_gender!r}")
        for name in ("num_betas", "batch_frames"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_dmpls < 0:
            raise ValueError(f"num_dmpls must be >= 0, got {self.num_dmpls}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        for name in ("include", "exclude", "validation_subsets"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def resolved_device(self) -> str:
        """``device``, with ``"auto"`` resolved to ``"cuda"`` when CUDA is available, else ``"cpu"``."""
        if self.device != "auto":
            return self.device
        import torch  # here, not at the top: the command line reads this module's fields for --help

        return "cuda" if torch.cuda.is_available() else "cpu"

    @property
    def camera_mode(self) -> str:
        """``"h36m"`` or ``"random"``."""
        return self.cameras.split(":", 1)[0]

    @property
    def camera_count(self) -> int:
        """Views per sequence: 4 for ``"h36m"``, K for ``"random:K"``."""
        mode, _, count = self.cameras.partition(":")
        if mode == "h36m" and not count:
            return 4
        if mode == "random" and count.isdigit() and int(count) >= 1:
            return int(count)
        raise ValueError(f"cameras must be 'h36m' or 'random:K' with K >= 1, got {self.cameras!r}")
