"""``train``: pretrain or finetune an uplifting model on pose stores, resumably, on CPU, one GPU or DDP.

    result = train("uplift-upsample", "h36m-351", store, validation_store,
                   load_config(TrainingConfig, "training", "uplift-upsample-h36m-351"), Path("runs/u351"))

What a run does, in order: resolve the model config and its windows; seed (inside ``torch.random.fork_rng``,
so the caller's generators are untouched); build the model, AdamW (decay on >= 2-D weights only), the EMA;
load initial weights (finetuning) or resume from ``checkpoint_last.pt``; then per epoch set the learning rate
``lr * decay ** epoch``, train on the sampler's batches (in-batch flip on the device), log every step (read
back from the device every ``log_every_steps`` steps), checkpoint every K steps, validate every K epochs and
keep the best checkpoint. SIGTERM/SIGINT end the current step, write ``checkpoint_last.pt`` and return;
``resume=True`` continues from it exactly (same losses on CPU with the same seed: model, optimiser, EMA,
generator states and the sampler's position are all restored).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from datasets.config import to_jsonable
from datasets.store import PoseStore
from datasets.windows import PoseWindows, WindowBatchSampler, WindowMixture, append_flipped, make_window_loader
from lifting.models import TMTStep, TwoStepMixedTraining, tmt_step
from lifting.training.checkpoint import (
    BEST_CHECKPOINT,
    LAST_CHECKPOINT,
    TrainingProgress,
    inference_state,
    load_checkpoint,
    make_checkpoint,
    restore_rng,
    save_checkpoint,
)
from lifting.training.config import TrainingConfig
from lifting.training.distributed import (
    DistributedContext,
    barrier,
    resolve_precision,
    setup_distributed,
    teardown_distributed,
)
from lifting.training.models import (
    build_model_from_config,
    model_config_to_dict,
    resolve_model_config,
    unwrap_model,
    window_config_for,
)
from lifting.training.objectives import LiftingObjective, loss_kind_for
from lifting.training.records import PendingSteps, RunRecords
from lifting.training.runtime import StopRequests, numerics
from lifting.training.step import train_step
from lifting.training.validation import validation_mpjpe, validation_windows

RESUMABLE_CHANGES = frozenset(
    {"epochs", "max_steps", "progress_bar", "num_workers", "checkpoint_every_steps", "compile", "compile_mode",
     "log_every_steps"}
)  # fmt: skip
"""TrainingConfig fields a resumed run may change; any other difference is refused."""

RunStatus = Literal["completed", "stopped", "interrupted"]


@dataclass(frozen=True)
class TrainingResult:
    """How a training run ended.

    Attributes:
        output_dir: Where its files are.
        checkpoint_last: ``checkpoint_last.pt``.
        checkpoint_best: ``checkpoint_best.pt`` (lowest validation MPJPE; the last one without validation).
        status: ``"completed"`` (all epochs), ``"stopped"`` (``max_steps``) or ``"interrupted"`` (a signal).
        epochs_completed: Epochs finished.
        global_step: Batches trained on.
        last_epoch_loss: Mean training loss of the last finished epoch (None before one finished).
        best_validation_mpjpe: Lowest validation MPJPE, metres (None without validation).
        data: Where the training frames came from (``PoseWindows.describe``).
    """

    output_dir: Path
    checkpoint_last: Path
    checkpoint_best: Path
    status: RunStatus
    epochs_completed: int
    global_step: int
    last_epoch_loss: float | None
    best_validation_mpjpe: float | None
    data: str


def _parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weights with >= 2 dimensions decay; biases, norm scales and 1-D embeddings do not (nanoGPT's rule)."""
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    return [
        {"params": [p for p in parameters if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0},
    ]


class _TrainingRun:
    """State of one run; ``train`` builds it and calls ``run``."""

    def __init__(
        self,
        model_name: str,
        model_preset: str | None,
        model_overrides: Mapping[str, Any] | None,
        stores: Sequence[PoseStore],
        validation_store: PoseStore | None,
        config: TrainingConfig,
        output_dir: Path,
        context: DistributedContext,
    ) -> None:
        self.config, self.output_dir, self.context = config, output_dir, context
        self.model_name, self.model_preset, self.model_overrides = model_name, model_preset, dict(model_overrides or {})
        self.model_config = resolve_model_config(model_name, model_preset, model_overrides)
        skeletons = {(store.skeleton, store.joint_names) for store in stores}
        if len(skeletons) != 1:
            raise ValueError(f"training stores must share one skeleton and joint order, got {sorted(skeletons)}")
        ((self.skeleton, self.joint_names),) = skeletons
        window_config = window_config_for(self.model_config, config.window, "training")
        datasets = [PoseWindows(store, window_config, config.train_splits, seed=config.seed) for store in stores]
        self.windows = datasets[0] if len(datasets) == 1 else WindowMixture(datasets)
        if config.store_weights is not None and len(config.store_weights) != len(stores):
            raise ValueError(f"store_weights has {len(config.store_weights)} weights for {len(stores)} training stores")
        samples = None if config.steps_per_epoch is None else config.steps_per_epoch * config.loader_batch_size
        self.sampler = WindowBatchSampler(
            [len(dataset) for dataset in datasets], config.loader_batch_size, weights=config.store_weights,
            samples_per_epoch=samples, seed=config.seed, rank=context.rank, world_size=context.world_size,
        )  # fmt: skip
        if self.sampler.batches_per_epoch == 0:
            raise ValueError(
                f"{len(self.windows)} training windows make no batch of {config.loader_batch_size}; lower batch_size "
                "or set steps_per_epoch"
            )
        self.validation = None
        if validation_store is not None:
            validation_config = window_config_for(
                self.model_config, config.window, "validation", centre_interval=config.validation_centre_interval
            )
            self.validation = validation_windows(validation_store, validation_config, config.validation_splits)
        self.bf16 = resolve_precision(config.precision, context.device) == "bf16"
        self.objective = LiftingObjective(loss_kind_for(model_name, config.loss), config.loss, self.skeleton)
        self.progress = TrainingProgress()

    def build(self, init_checkpoint: Path | None, resume: bool) -> TrainingProgress | None:
        """Model, optimiser and EMA, from scratch, initial weights or the last checkpoint; returns resumed progress."""
        config, device = self.config, self.context.device
        torch.manual_seed(config.seed)  # inside fork_rng (``numerics``): the caller's generator is restored
        self.model = build_model_from_config(self.model_name, self.model_config).to(device)
        self.optimizer = torch.optim.AdamW(
            _parameter_groups(self.model, config.torch_weight_decay),
            lr=config.learning_rate,
            betas=config.adam_betas,
            amsgrad=config.amsgrad,
            fused=device.type == "cuda" or None,  # one kernel for all parameters on CUDA; torch's default elsewhere
        )
        self.ema = None
        if config.ema_decay is not None:
            self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
        last = self.output_dir / LAST_CHECKPOINT
        resumed = None
        if resume and last.is_file():
            resumed = self._resume(load_checkpoint(last))
        elif init_checkpoint is not None:
            self._initialise_from(Path(init_checkpoint))
        self.network: torch.nn.Module = self.model
        if self.context.distributed:
            device_ids = [device.index] if device.type == "cuda" else None
            self.network = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=device_ids)
        self.loss_fn = self.objective
        self.cuda_graphs = False
        if config.compiles_on(device.type):
            mode = config.compile_mode_for(device.type, config.batch_size // self.context.world_size)
            self.network = torch.compile(self.network, mode=mode)
            # The loss without CUDA graphs: its detached parts are held across steps (PendingSteps), and a graph
            # replay would overwrite them.
            self.loss_fn = torch.compile(self.objective.__call__)
            self.cuda_graphs = mode == "reduce-overhead"
        return resumed

    def _initialise_from(self, path: Path) -> None:
        checkpoint = load_checkpoint(path)
        if checkpoint["model"]["name"] != self.model_name:
            raise ValueError(f"{path} holds a {checkpoint['model']['name']!r} model, not {self.model_name!r}")
        state, _ = inference_state(checkpoint)
        try:
            self.model.load_state_dict(state)
        except RuntimeError as error:
            raise ValueError(f"{path}'s weights do not fit this {self.model_name} configuration: {error}") from error
        if self.ema is not None:
            self.ema = AveragedModel(
                self.model, multi_avg_fn=get_ema_multi_avg_fn(self.config.ema_decay), use_buffers=True
            )

    def _resume(self, checkpoint: dict[str, Any]) -> TrainingProgress:
        saved, current = checkpoint["training"], to_jsonable(self.config)
        changed = sorted(key for key in current if saved.get(key) != current[key] and key not in RESUMABLE_CHANGES)
        if changed or checkpoint["model"]["config"] != model_config_to_dict(self.model_config):
            what = changed or ["the model config"]
            raise ValueError(f"cannot resume {self.output_dir}: {', '.join(what)} differ from the checkpoint's")
        self.model.load_state_dict(checkpoint["state"]["model"])
        self.optimizer.load_state_dict(checkpoint["state"]["optimizer"])
        if self.ema is not None:
            self.ema.load_state_dict(checkpoint["state"]["ema"])
        self.progress = TrainingProgress(**checkpoint["progress"])
        restore_rng(checkpoint)
        return TrainingProgress(**checkpoint["progress"])

    def save(self, path: Path) -> None:
        """Write the current state to ``path`` (main process only)."""
        if not self.context.is_main:
            return
        checkpoint = make_checkpoint(
            model_name=self.model_name, model_preset=self.model_preset, model_overrides=self.model_overrides,
            model_config_data=model_config_to_dict(self.model_config), training_data=to_jsonable(self.config),
            skeleton=self.skeleton, joint_names=self.joint_names, model=self.model, ema=self.ema,
            optimizer=self.optimizer, progress=self.progress,
        )  # fmt: skip
        save_checkpoint(path, checkpoint)

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | float]:
        """One batch: move, flip, then one update (two for TMT's two-step schedule); metrics stay on the device."""
        device = self.context.device
        if self.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()  # a new iteration: earlier graph outputs may be overwritten
        batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
        if self.config.flip_augmentation:
            batch = append_flipped(batch, self.windows.flip_permutation)
        options = dict(bf16=self.bf16, grad_clip_norm=self.config.grad_clip_norm, ema=self.ema)
        arguments = (self.network, batch, self.optimizer, self.loss_fn)
        if not isinstance(unwrap_model(self.model), TwoStepMixedTraining):
            return train_step(*arguments, **options)
        if self.config.tmt_steps_per_batch == 1:
            velocity = tmt_step(self.progress.global_step) == TMTStep.GROUND_TRUTH_VELOCITY
            return {**train_step(*arguments, **options, tmt_velocity=velocity), "tmt_step": 2.0 if velocity else 1.0}
        first = train_step(*arguments, **options, tmt_velocity=False)
        second = train_step(*arguments, **options, tmt_velocity=True)
        return {**first, **{f"{name}_step2": value for name, value in second.items()}}

    def validate(self) -> float | None:
        """Validation MPJPE (metres) of the EMA (if any) or trained weights; main process only."""
        if self.validation is None or not self.context.is_main:
            return None
        model = self.ema.module if self.ema is not None else self.model
        value = validation_mpjpe(model, self.validation, self.context.device, self.bf16)
        self.model.train()
        return value

    def run(self, records: RunRecords) -> RunStatus:
        """Train until all epochs are done, ``max_steps`` is reached or a signal arrives."""
        config, progress = self.config, self.progress
        batches = self.sampler.batches_per_epoch
        loader = make_window_loader(self.windows, self.sampler, config.num_workers, self.context.device.type == "cuda")
        bar = tqdm(
            total=config.epochs * batches, initial=progress.global_step, unit="step", dynamic_ncols=True,
            disable=None if config.progress_bar and self.context.is_main else True,  # None: off unless a terminal
        )  # fmt: skip
        pending = PendingSteps(records, config.batch_size)
        with StopRequests() as stop, bar:
            while progress.epoch < config.epochs:
                learning_rate = config.learning_rate_at(progress.epoch)
                for group in self.optimizer.param_groups:
                    group["lr"] = learning_rate
                self.sampler.set_epoch(progress.epoch, progress.batch_in_epoch)
                pending.restart_clock()
                for batch in loader:
                    metrics = self.step(batch)
                    progress.batch_in_epoch += 1
                    progress.global_step += 1
                    progress.epoch_batches += 1
                    pending.add(progress.epoch, progress.global_step, metrics, learning_rate)
                    bar.update(1)
                    step = progress.global_step
                    checkpoint = bool(config.checkpoint_every_steps) and step % config.checkpoint_every_steps == 0
                    stopping = stop.received is not None or bool(config.max_steps and step >= config.max_steps)
                    if checkpoint or stopping or progress.global_step % config.log_every_steps == 0:
                        self.write_steps(pending, bar)
                    if checkpoint:
                        self.save(self.output_dir / LAST_CHECKPOINT)
                    if stopping:
                        self.save(self.output_dir / LAST_CHECKPOINT)
                        return "interrupted" if stop.received is not None else "stopped"
                self.write_steps(pending, bar)
                self.end_epoch(records)
        return "completed"

    def write_steps(self, pending: PendingSteps, bar: tqdm) -> None:
        """Read the held step metrics back (one device sync), write them and add their losses to the epoch's."""
        rows = pending.flush()
        for values in rows:  # in step order, as the per-step sum always was
            self.progress.epoch_loss_sum += values["loss"]
        if rows:
            last = rows[-1]
            bar.set_postfix(loss=f"{last['loss']:.4f}", lr=f"{last['lr']:.2e}", win_s=f"{last['windows_per_s']:.0f}")

    def end_epoch(self, records: RunRecords) -> None:
        """Epoch bookkeeping: mean loss, validation, records, last and best checkpoints."""
        config, progress = self.config, self.progress
        progress.epoch += 1
        progress.batch_in_epoch = 0
        progress.last_epoch_loss = progress.epoch_loss_sum / max(progress.epoch_batches, 1)
        progress.epoch_loss_sum, progress.epoch_batches = 0.0, 0
        due = progress.epoch % config.validate_every_epochs == 0 or progress.epoch == config.epochs
        validation = self.validate() if due else None
        improved = validation is not None and (
            progress.best_validation is None or validation < progress.best_validation
        )
        if improved:
            progress.best_validation, progress.best_epoch = validation, progress.epoch
        values = {"train_loss": progress.last_epoch_loss, "validation_mpjpe": validation,
                  "lr": config.learning_rate_at(progress.epoch - 1)}  # fmt: skip
        records.write("epoch", progress.epoch - 1, progress.global_step, values)
        self.save(self.output_dir / LAST_CHECKPOINT)
        best = self.output_dir / BEST_CHECKPOINT
        if self.context.is_main and (improved or (self.validation is None) or not best.is_file()):
            shutil.copyfile(self.output_dir / LAST_CHECKPOINT, best)
        barrier(self.context)


def train(
    model_name: str,
    model_preset: str | None,
    train_store: PoseStore | Sequence[PoseStore],
    validation_store: PoseStore | None,
    config: TrainingConfig,
    output_dir: Path,
    init_checkpoint: Path | None = None,
    resume: bool = False,
    device: str = "auto",
    model_overrides: Mapping[str, Any] | None = None,
) -> TrainingResult:
    """Train an uplifting model on one pose store or a weighted mix of stores.

    Args:
        model_name: A key of ``lifting.models.MODELS`` (``uplift-upsample``, ``mixste``, ``strided``, ...).
        model_preset: Its preset (``presets/models/<model>/<preset>.yaml``), or None for config defaults.
        train_store: The store(s) to train on (``config.train_splits``); several are mixed by
            ``config.store_weights``.
        validation_store: Store validated on every ``config.validate_every_epochs`` (None: no validation, the
            best checkpoint is the last).
        config: The training configuration.
        output_dir: Receives ``checkpoint_last.pt``, ``checkpoint_best.pt``, ``metrics.jsonl``, ``tensorboard/``.
        init_checkpoint: Start from these weights (finetuning; EMA weights if it has them).
        resume: Continue from ``output_dir/checkpoint_last.pt`` if it exists (else start afresh).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; under torchrun each process uses its GPU.
        model_overrides: Model config fields replacing the preset's.

    Returns:
        The ``TrainingResult``.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    stores = [train_store] if isinstance(train_store, PoseStore) else list(train_store)
    context = setup_distributed(device)
    try:
        with numerics(context.device, config):
            run = _TrainingRun(
                model_name, model_preset, model_overrides, stores, validation_store, config, output_dir, context
            )
            resumed = run.build(init_checkpoint, resume)
            records = RunRecords(output_dir, context.is_main, resumed)
            try:
                status = run.run(records)
            finally:
                records.close()
    finally:
        teardown_distributed(context)
    best = output_dir / BEST_CHECKPOINT
    return TrainingResult(
        output_dir=output_dir,
        checkpoint_last=output_dir / LAST_CHECKPOINT,
        checkpoint_best=best if best.is_file() else output_dir / LAST_CHECKPOINT,
        status=status,
        epochs_completed=run.progress.epoch,
        global_step=run.progress.global_step,
        last_epoch_loss=run.progress.last_epoch_loss,
        best_validation_mpjpe=run.progress.best_validation,
        data=run.windows.describe(),
    )
