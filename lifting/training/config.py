"""Training configuration: ``TrainingConfig`` with its loss (``LossConfig``) and window (``WindowSettings``) parts.

Defaults are the schedule the papers share (Uplift-and-Upsample Sec. 4.2, MixSTE supplement Sec. A): AdamW,
learning rate 4e-5 decayed by 0.99 per epoch, weight decay 4e-6 on the same schedule. Presets under
``presets/training/`` hold each paper's configuration; load one with
``datasets.config.load_config(TrainingConfig, "training", "uplift-upsample-h36m-351")``.

Weight decay is given as the decoupled per-step decay of the released TensorFlow code (``w -= 4e-6 * w``,
not multiplied by the learning rate). torch's AdamW multiplies its ``weight_decay`` by the learning rate, so
the trainer passes ``weight_decay / learning_rate`` (0.1 for the defaults; both decay at the same rate, so the
ratio stays constant): the same 0.1 MixSTE's released script hands to ``optim.AdamW``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from datasets.config import runtime_field
from datasets.windows import DEFAULT_CACHE_CHUNKS, DEFAULT_MEMORY_LIMIT_BYTES, VirtualCameraConfig

LossKind = Literal["auto", "uplift-upsample", "mixste", "strided", "mpjpe"]
Precision = Literal["auto", "bf16", "fp32"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
"""``"auto"`` (bf16 on CUDA, fp32 elsewhere: ``distributed.resolve_precision``), ``"bf16"``, ``"fp32"``."""
CompileMode = Literal["auto", "default", "reduce-overhead", "max-autotune-no-cudagraphs"]
COMPILE_MODES: tuple[str, ...] = ("auto", "default", "reduce-overhead", "max-autotune-no-cudagraphs")
CUDA_GRAPH_MAX_BATCH = 16
"""``compile_mode="auto"`` replays CUDA graphs (``"reduce-overhead"``) up to this many windows per process and
step: small batches are launch-bound (``docs/performance.md``, MixSTE at 4 clips)."""


@dataclass(frozen=True)
class LossConfig:
    """Which loss a model trains with, and its weights (None: the paper's value for that loss).

    Attributes:
        kind: ``"auto"`` picks the model's own loss: Uplift-and-Upsample 0.5 sequence + 0.5 centre MPJPE
            (Sec. 3.2); MixSTE and MixSTE-TMT WMPJPE + lambda_t TCLoss + lambda_m MPJVE (Eq. 9); Strided
            Transformer and Strided-TMT lambda_f sequence + lambda_s centre MPJPE (Eq. 17); ``"mpjpe"`` is the
            plain sequence MPJPE.
        sequence_weight: Weight of the sequence term (Uplift 0.5, Strided lambda_f 1.0).
        centre_weight: Weight of the centre term (Uplift 0.5, Strided lambda_s 1.0).
        temporal_consistency_weight: MixSTE's lambda_t (released script: 0.5).
        velocity_weight: MixSTE's lambda_m (released script: 2.0).
        joint_weights: MixSTE's WMPJPE weights: ``"released"`` (the released script's per-joint list,
            ``h36m17`` only), ``"paper"`` (the paper's joint groups, any skeleton with groups) or ``"uniform"``.
        target_frame_weights: Strided losses: weight the sequence term per frame (the strided-lifting seed's
            alpha_t) instead of uniformly.
    """

    kind: LossKind = "auto"
    sequence_weight: float | None = None
    centre_weight: float | None = None
    temporal_consistency_weight: float | None = None
    velocity_weight: float | None = None
    joint_weights: Literal["released", "paper", "uniform"] = "released"
    target_frame_weights: bool = False

    def __post_init__(self) -> None:
        """Validate the choices; each message names the rule and the value."""
        kinds = ("auto", "uplift-upsample", "mixste", "strided", "mpjpe")
        if self.kind not in kinds:
            raise ValueError(f"loss kind must be one of {kinds}, got {self.kind!r}")
        if self.joint_weights not in ("released", "paper", "uniform"):
            raise ValueError(f"joint_weights must be 'released', 'paper' or 'uniform', got {self.joint_weights!r}")
        for name in ("sequence_weight", "centre_weight", "temporal_consistency_weight", "velocity_weight"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0 or None (the paper's value), got {value}")


@dataclass(frozen=True)
class WindowSettings:
    """Training-side window choices; the window's length and strides come from the model's config.

    Attributes:
        sampling: ``"auto"``: non-overlapping clips for MixSTE (stride sampling with interval = T, Sec. 4.1),
            a window centred on every frame for the others; or ``"centres"`` / ``"clips"``.
        centre_interval: Frames between window centres with ``"centres"`` sampling.
        padding: ``"edge"`` (Uplift-and-Upsample's released code, VideoPose3D) or ``"zero"``.
        keypoints: Store array of the 2D input (``keypoints_2d`` = ground truth, or a detector's).
        random_key_frame_shift: Shift Uplift-and-Upsample's key-frame grid randomly (released code).
        cache: ``"auto"``, ``"memory"`` or ``"chunks"`` (``datasets.windows.WindowConfig``).
        memory_limit_bytes: Largest store kept in RAM with ``cache="auto"``.
        cache_chunks: Decoded chunks per array and process in ``"chunks"`` mode.
        virtual_cameras: New random cameras per window and epoch (AMASS pretraining), or None.
    """

    sampling: Literal["auto", "centres", "clips"] = "auto"
    centre_interval: int = 1
    padding: Literal["edge", "zero"] = "edge"
    keypoints: str = "keypoints_2d"
    random_key_frame_shift: bool = True
    cache: Literal["auto", "memory", "chunks"] = runtime_field(default="auto")  # where frames are read from
    memory_limit_bytes: int = runtime_field(default=DEFAULT_MEMORY_LIMIT_BYTES)
    cache_chunks: int = runtime_field(default=DEFAULT_CACHE_CHUNKS)
    virtual_cameras: VirtualCameraConfig | None = None

    def __post_init__(self) -> None:
        """Validate the choices; each message names the rule and the value."""
        if self.sampling not in ("auto", "centres", "clips"):
            raise ValueError(f"sampling must be 'auto', 'centres' or 'clips', got {self.sampling!r}")
        if self.centre_interval < 1:
            raise ValueError(f"centre_interval must be a positive number of frames, got {self.centre_interval}")


@dataclass(frozen=True)
class TrainingConfig:
    """How to train an uplifting model (defaults: the papers' shared schedule; presets cite each value).

    Attributes:
        epochs: Epochs to train.
        steps_per_epoch: Optimiser steps per epoch; None: one pass over the training windows. The
            Uplift-and-Upsample configs define an epoch as 6000 steps.
        batch_size: Windows per optimiser step over all processes, flipped copies included when
            ``flip_augmentation`` (the loader then reads ``batch_size / 2`` windows).
        learning_rate: Initial learning rate of AdamW.
        lr_decay: Factor applied to the learning rate (and the weight decay) after every epoch.
        lr_step_decay: Factor applied instead of ``lr_decay`` after every ``lr_step_every_epochs``-th epoch
            (the Strided Transformer's released schedule: x0.5 after epochs 5, 10, ..., x0.95 otherwise).
        lr_step_every_epochs: Period of ``lr_step_decay`` in epochs; None: only ``lr_decay``.
        weight_decay: Initial decoupled weight decay per step (module docstring); applied to weights with
            two or more dimensions only (biases, norms and embeddings-as-vectors are not decayed).
        adam_betas: AdamW's (beta1, beta2).
        amsgrad: Use AdamW's AMSGrad variant (the Strided Transformer's released optimiser).
        grad_clip_norm: Clip the global gradient norm to this value; None: no clipping.
        ema_decay: Decay of an exponential moving average of the weights used for validation, evaluation
            and the best checkpoint (``torch.optim.swa_utils.AveragedModel``); None: no EMA.
        flip_augmentation: In-batch flip: the second half of every batch is the mirrored first half.
        loss: The loss and its weights.
        window: Window sampling, padding, 2D input and loading.
        tmt_steps_per_batch: TMT models only: 2 runs step 1 (zero velocity) and step 2 (ground-truth
            velocity) on every batch, each with its own update (TMT Sec. 4.5: "two training steps in each
            batch"); 1 alternates the steps from batch to batch.
        store_weights: Sampling weight of each training store when several are mixed; None: by size.
        train_splits: Store splits trained on.
        validation_splits: Splits of the validation store, in order of preference: the first one present
            is used (Human3.6M has no validation split, so the papers validate on the test subjects).
        validate_every_epochs: Validate after every this many epochs (and after the last).
        validation_centre_interval: Frames between validated window centres.
        checkpoint_every_steps: Write ``checkpoint_last.pt`` every this many steps (also at every epoch end
            and on SIGTERM/SIGINT); None: only at epoch ends.
        max_steps: Stop after this many optimiser steps in total, resumable (smoke runs, tests); None: no cap.
        seed: Seed of the model's initialisation, dropout and the data order.
        precision: ``"bf16"`` autocast, ``"fp32"``, or ``"auto"``: bf16 on CUDA, fp32 on CPU.
        tf32: Allow TF32 matrix multiplications on CUDA.
        compile: Run the model (and the loss) through ``torch.compile``; None: on CUDA, off elsewhere (compiling
            costs tens of seconds up front and gains little on CPU).
        compile_mode: ``torch.compile``'s mode for the model; ``"auto"``: ``"reduce-overhead"`` (CUDA graphs) on
            CUDA for at most ``CUDA_GRAPH_MAX_BATCH`` windows per process and step, ``"default"`` otherwise.
        log_every_steps: Read the step metrics back from the device and write them (``metrics.jsonl``,
            TensorBoard, progress bar) every this many steps, one line per step; also before every checkpoint
            and at the end of every epoch. Between writes no step waits for the device.
        num_workers: DataLoader worker processes.
        progress_bar: Show a tqdm bar (loss, learning rate, windows/s, ETA).
    """

    epochs: int = 120  # Uplift-and-Upsample Sec. 4.2: 120 epochs
    steps_per_epoch: int | None = None
    batch_size: int = 512  # Uplift-and-Upsample Sec. 4.2: batch 512
    learning_rate: float = 4e-5  # Uplift-and-Upsample Sec. 4.2, MixSTE supplement Sec. A: 4e-5
    lr_decay: float = 0.99  # Uplift-and-Upsample Sec. 4.2, MixSTE supplement Sec. A: 0.99 per epoch
    lr_step_decay: float = 1.0
    lr_step_every_epochs: int | None = None
    weight_decay: float = 4e-6  # Uplift-and-Upsample Sec. 4.2: 4e-6 with the same schedule
    adam_betas: tuple[float, float] = (0.9, 0.999)  # torch / Keras defaults, as the released code
    amsgrad: bool = False
    grad_clip_norm: float | None = None
    ema_decay: float | None = None
    flip_augmentation: bool = True  # Uplift-and-Upsample Sec. 4.2: in-batch flip
    loss: LossConfig = field(default_factory=LossConfig)
    window: WindowSettings = field(default_factory=WindowSettings)
    tmt_steps_per_batch: int = 2
    store_weights: tuple[float, ...] | None = None
    train_splits: tuple[str, ...] = ("train",)
    validation_splits: tuple[str, ...] = ("validation", "test")
    validate_every_epochs: int = 1
    validation_centre_interval: int = 1
    checkpoint_every_steps: int | None = 1000
    max_steps: int | None = None
    seed: int = 0
    precision: Precision = "auto"
    tf32: bool = True
    # How the run executes, not what it trains (datasets.config.runtime_field): recorded, not hashed. Compiling
    # changes only the floating-point order of the same operations, as another GPU would.
    compile: bool | None = runtime_field(default=None)
    compile_mode: CompileMode = runtime_field(default="auto")
    log_every_steps: int = runtime_field(default=50)
    num_workers: int = runtime_field(default=0)
    progress_bar: bool = runtime_field(default=True)

    def __post_init__(self) -> None:
        """Validate the configuration; each message names the rule and the value."""
        positive = ("epochs", "batch_size", "validate_every_epochs", "validation_centre_interval", "log_every_steps")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("steps_per_epoch", "checkpoint_every_steps", "max_steps", "lr_step_every_epochs"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        for name in ("lr_decay", "lr_step_decay"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in (0, 1], got {getattr(self, name)}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if len(self.adam_betas) != 2 or not all(0 <= beta < 1 for beta in self.adam_betas):
            raise ValueError(f"adam_betas must be two numbers in [0, 1), got {self.adam_betas}")
        if self.grad_clip_norm is not None and not self.grad_clip_norm > 0:
            raise ValueError(f"grad_clip_norm must be positive or None, got {self.grad_clip_norm}")
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise ValueError(f"ema_decay must lie in (0, 1) or be None, got {self.ema_decay}")
        if self.flip_augmentation and self.batch_size % 2:
            raise ValueError(
                f"flip_augmentation needs an even batch_size (half read, half flipped), got {self.batch_size}"
            )
        if self.tmt_steps_per_batch not in (1, 2):
            raise ValueError(f"tmt_steps_per_batch must be 1 or 2, got {self.tmt_steps_per_batch}")
        if self.store_weights is not None and (
            not self.store_weights or any(weight < 0 for weight in self.store_weights) or sum(self.store_weights) <= 0
        ):
            raise ValueError(f"store_weights must be non-negative, not all 0, or None; got {self.store_weights}")
        if not self.train_splits or not self.validation_splits:
            raise ValueError(
                f"train_splits and validation_splits must name splits, got {self.train_splits}, "
                f"{self.validation_splits}"
            )
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.compile not in (None, True, False):
            raise ValueError(f"compile must be true, false or null (on CUDA only), got {self.compile!r}")
        if self.compile_mode not in COMPILE_MODES:
            raise ValueError(f"compile_mode must be one of {COMPILE_MODES}, got {self.compile_mode!r}")
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")

    @property
    def loader_batch_size(self) -> int:
        """Windows read per step over all processes (half the batch under in-batch flipping)."""
        return self.batch_size // 2 if self.flip_augmentation else self.batch_size

    def learning_rate_at(self, epoch: int) -> float:
        """Learning rate during ``epoch`` (0-based).

        ``learning_rate * lr_decay ** epoch``, with ``lr_step_decay`` instead of ``lr_decay`` after every
        ``lr_step_every_epochs``-th finished epoch.
        """
        steps = 0 if self.lr_step_every_epochs is None else epoch // self.lr_step_every_epochs
        return self.learning_rate * self.lr_step_decay**steps * self.lr_decay ** (epoch - steps)

    def compiles_on(self, device_type: str) -> bool:
        """Whether the run compiles the model on a ``device_type`` device (``compile``; None: CUDA only)."""
        return device_type == "cuda" if self.compile is None else self.compile

    def compile_mode_for(self, device_type: str, windows_per_process: int) -> str:
        """``torch.compile``'s mode for the model (``compile_mode``; ``"auto"``: CUDA graphs for small batches)."""
        if self.compile_mode != "auto":
            return self.compile_mode
        small = device_type == "cuda" and windows_per_process <= CUDA_GRAPH_MAX_BATCH
        return "reduce-overhead" if small else "default"

    @property
    def torch_weight_decay(self) -> float:
        """Torch AdamW's ``weight_decay`` giving the decoupled decay ``weight_decay`` per step (constant)."""
        return self.weight_decay / self.learning_rate
