"""``train``: pretrain or finetune an uplifting model on pose stores, resumably, on CPU, one GPU or DDP.

    result = train("uplift-upsample", "h36m-351", store, validation_store,
                   load_config(TrainingConfig, "training", "uplift-upsample-h36m-351"), Path("runs/u351"))

What a run does, in order: inside ``torch.random.fork_rng`` (the caller's generators are untouched),
``_TrainingRun.create`` builds everything once: the model config and its windows (``data``), the model from
its seeded generator with initial weights (finetuning) or ``checkpoint_last.pt``'s state, AdamW (decay on
>= 2-D weights only) and the EMA (``state``, whose docstring says what each random number is drawn from).
Then per epoch: set the learning rate ``lr * decay ** epoch``, train on the sampler's batches (in-batch flip
on the device; ``step.batch_updates`` says how many updates a batch gets), log every step (read back from the
device every ``log_every_steps`` steps), checkpoint every K steps, validate every K epochs and keep the best
checkpoint. SIGTERM/SIGINT end the current step, write ``checkpoint_last.pt`` and return; ``resume=True``
continues from it exactly (same losses on CPU with the same seed: model, optimiser, EMA, generator states
and the sampler's position are all restored).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
from tqdm.auto import tqdm

from datasets.config import to_jsonable
from datasets.store import PoseStore
from datasets.windows import append_flipped, make_window_loader
from lifting.training.checkpoint import BEST_CHECKPOINT, LAST_CHECKPOINT, make_checkpoint, save_checkpoint
from lifting.training.config import TrainingConfig
from lifting.training.data import TrainingData, training_data
from lifting.training.distributed import (
    DistributedContext,
    barrier,
    resolve_precision,
    setup_distributed,
    teardown_distributed,
)
from lifting.training.model_interface import model_config_to_dict
from lifting.training.objectives import LiftingObjective, loss_kind_for
from lifting.training.records import PendingSteps, RunRecords
from lifting.training.runtime import StopRequests, numerics
from lifting.training.state import ModelSpec, TrainingState, initial_state
from lifting.training.step import LossFunction, batch_updates, train_step
from lifting.training.validation import validation_mpjpe

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


class Network(NamedTuple):
    """What a step calls: the model as trained (DDP-wrapped, compiled) and the loss (compiled with it).

    Attributes:
        module: The model as called in a step.
        loss_fn: ``(output, batch) -> {"loss", parts...}``.
        cuda_graphs: Whether the module replays CUDA graphs (each step must mark its start).
    """

    module: torch.nn.Module
    loss_fn: LossFunction
    cuda_graphs: bool


def wrap_network(
    model: torch.nn.Module, objective: LiftingObjective, config: TrainingConfig, context: DistributedContext
) -> Network:
    """DDP across processes, then ``torch.compile`` when ``config.compiles_on`` the device."""
    device = context.device
    network = model
    if context.distributed:
        device_ids = [device.index] if device.type == "cuda" else None
        network = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    if not config.compiles_on(device.type):
        return Network(network, objective, False)
    mode = config.compile_mode_for(device.type, config.batch_size // context.world_size)
    # The loss without CUDA graphs: its detached parts are held across steps (PendingSteps), and a graph
    # replay would overwrite them.
    return Network(torch.compile(network, mode=mode), torch.compile(objective.__call__), mode == "reduce-overhead")


class _TrainingRun:
    """One run: its data, state and network, complete from construction (``create`` builds them); ``run`` trains.

    Args:
        spec: The model trained.
        config: The run's configuration.
        data: Its windows and sampler.
        state: Model, optimiser, EMA and progress (``state.initial_state``).
        output_dir: Where checkpoints go.
        context: This process's place in the run.
    """

    def __init__(
        self,
        spec: ModelSpec,
        config: TrainingConfig,
        data: TrainingData,
        state: TrainingState,
        output_dir: Path,
        context: DistributedContext,
    ) -> None:
        self.spec, self.config, self.data, self.state = spec, config, data, state
        self.output_dir, self.context = output_dir, context
        self.bf16 = resolve_precision(config.precision, context.device) == "bf16"
        objective = LiftingObjective(loss_kind_for(spec.name, config.loss), config.loss, data.skeleton)
        self.network = wrap_network(state.model, objective, config, context)

    @classmethod
    def create(
        cls,
        model: ModelSpec,
        stores: Sequence[PoseStore],
        validation_store: PoseStore | None,
        config: TrainingConfig,
        output_dir: Path,
        context: DistributedContext,
        init_checkpoint: Path | None = None,
        resume: bool = False,
    ) -> _TrainingRun:
        """Build a run (call inside ``runtime.numerics``); ``resume`` continues ``output_dir``'s last checkpoint."""
        data = training_data(model.config, stores, validation_store, config, context)
        last = output_dir / LAST_CHECKPOINT
        resume_from = last if resume and last.is_file() else None
        state = initial_state(model, config, context.device, init_checkpoint, resume_from)
        return cls(model, config, data, state, output_dir, context)

    def save(self, path: Path) -> None:
        """Write the current state to ``path`` (main process only)."""
        if not self.context.is_main:
            return
        spec, state = self.spec, self.state
        checkpoint = make_checkpoint(
            model_name=spec.name, model_preset=spec.preset, model_overrides=spec.overrides,
            model_config_data=model_config_to_dict(spec.config), training_data=to_jsonable(self.config),
            skeleton=self.data.skeleton, joint_names=self.data.joint_names, model=state.model, ema=state.ema,
            optimizer=state.optimizer, progress=state.progress,
        )  # fmt: skip
        save_checkpoint(path, checkpoint)

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor | float]:
        """One batch: move, flip, then its updates (``batch_updates``); metrics stay on the device."""
        config, network = self.config, self.network
        if network.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()  # a new iteration: earlier graph outputs may be overwritten
        batch = {key: value.to(self.context.device, non_blocking=True) for key, value in batch.items()}
        if config.flip_augmentation:
            batch = append_flipped(batch, self.data.windows.flip_permutation)
        updates = batch_updates(
            self.spec.config.needs_velocity_input, config.tmt_steps_per_batch, self.state.progress.global_step
        )
        metrics: dict[str, torch.Tensor | float] = {}
        for update in updates:
            values = train_step(
                network.module, batch, self.state.optimizer, network.loss_fn, bf16=self.bf16,
                grad_clip_norm=config.grad_clip_norm, ema=self.state.ema,
                ground_truth_velocity=update.ground_truth_velocity,
            )  # fmt: skip
            metrics.update({name + update.suffix: value for name, value in values.items()})
            if update.tmt_step is not None:
                metrics["tmt_step"] = update.tmt_step
        return metrics

    def validate(self) -> float | None:
        """Validation MPJPE (metres) of the EMA (if any) or trained weights; main process only."""
        if self.data.validation is None or not self.context.is_main:
            return None
        state = self.state
        model = state.ema.module if state.ema is not None else state.model
        value = validation_mpjpe(model, self.data.validation, self.context.device, self.bf16)
        state.model.train()
        return value

    def run(self, records: RunRecords) -> RunStatus:
        """Train until all epochs are done, ``max_steps`` is reached or a signal arrives."""
        config, progress = self.config, self.state.progress
        sampler = self.data.sampler
        loader = make_window_loader(self.data.windows, sampler, config.num_workers, self.context.device.type == "cuda")
        bar = tqdm(
            total=config.epochs * sampler.batches_per_epoch, initial=progress.global_step, unit="step",
            dynamic_ncols=True, disable=None if config.progress_bar and self.context.is_main else True,
        )  # fmt: skip  # disable=None: off unless a terminal
        pending = PendingSteps(records, config.batch_size)
        with StopRequests() as stop, bar:
            while progress.epoch < config.epochs:
                learning_rate = config.learning_rate_at(progress.epoch)
                for group in self.state.optimizer.param_groups:
                    group["lr"] = learning_rate
                sampler.set_epoch(progress.epoch, progress.batch_in_epoch)
                pending.restart_clock()
                status = self._train_epoch(loader, learning_rate, pending, bar, stop)
                if status is not None:
                    return status
                self.write_steps(pending, bar)
                self.end_epoch(records)
        return "completed"

    def _train_epoch(
        self, loader: Iterable, learning_rate: float, pending: PendingSteps, bar: tqdm, stop: StopRequests
    ) -> RunStatus | None:
        """The rest of the current epoch's batches; a status if the run must end before the epoch does."""
        config, progress = self.config, self.state.progress
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
            if checkpoint or stopping or step % config.log_every_steps == 0:
                self.write_steps(pending, bar)
            if checkpoint or stopping:
                self.save(self.output_dir / LAST_CHECKPOINT)
            if stopping:
                return "interrupted" if stop.received is not None else "stopped"
        return None

    def write_steps(self, pending: PendingSteps, bar: tqdm) -> None:
        """Read the held step metrics back (one device sync), write them and add their losses to the epoch's."""
        rows = pending.flush()
        for values in rows:  # in step order, as the per-step sum always was
            self.state.progress.epoch_loss_sum += values["loss"]
        if rows:
            last = rows[-1]
            bar.set_postfix(loss=f"{last['loss']:.4f}", lr=f"{last['lr']:.2e}", win_s=f"{last['windows_per_s']:.0f}")

    def end_epoch(self, records: RunRecords) -> None:
        """Epoch bookkeeping: mean loss, validation, records, last and best checkpoints."""
        config, progress = self.config, self.state.progress
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
        if self.context.is_main and (improved or (self.data.validation is None) or not best.is_file()):
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
    spec = ModelSpec.resolve(model_name, model_preset, model_overrides)
    context = setup_distributed(device)
    try:
        with numerics(context.device, config):
            run = _TrainingRun.create(
                spec, stores, validation_store, config, output_dir, context, init_checkpoint, resume
            )
            resumed = run.state.progress if run.state.resumed else None
            records = RunRecords(output_dir, context.is_main, resumed)
            try:
                status = run.run(records)
            finally:
                records.close()
    finally:
        teardown_distributed(context)
    return _result(run, status)


def _result(run: _TrainingRun, status: RunStatus) -> TrainingResult:
    """The ``TrainingResult`` of a finished, stopped or interrupted run."""
    output_dir, progress = run.output_dir, run.state.progress
    best = output_dir / BEST_CHECKPOINT
    return TrainingResult(
        output_dir=output_dir,
        checkpoint_last=output_dir / LAST_CHECKPOINT,
        checkpoint_best=best if best.is_file() else output_dir / LAST_CHECKPOINT,
        status=status,
        epochs_completed=progress.epoch,
        global_step=progress.global_step,
        last_epoch_loss=progress.last_epoch_loss,
        best_validation_mpjpe=progress.best_validation,
        data=run.data.windows.describe(),
    )
