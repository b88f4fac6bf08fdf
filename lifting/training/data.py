"""What a run reads: training windows (one store or a weighted mix), their batch sampler, validation windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from datasets.store import PoseStore
from datasets.windows import PoseWindows, WindowBatchSampler, WindowMixture
from lifting.models.registry import ModelConfig
from lifting.training.config import TrainingConfig
from lifting.training.distributed import DistributedContext
from lifting.training.model_interface import window_config_for
from lifting.training.validation import validation_windows


@dataclass(frozen=True)
class TrainingData:
    """The windows of one run.

    Attributes:
        windows: Training windows (a ``WindowMixture`` over several stores).
        sampler: Batches of this process's share, in the seeded order; ``set_epoch`` before each epoch.
        validation: Validation windows, or None (no validation).
        skeleton: Skeleton name shared by the training stores.
        joint_names: Their joint order.
    """

    windows: PoseWindows | WindowMixture
    sampler: WindowBatchSampler
    validation: PoseWindows | None
    skeleton: str
    joint_names: tuple[str, ...]


def _shared_skeleton(stores: Sequence[PoseStore]) -> tuple[str, tuple[str, ...]]:
    skeletons = {(store.skeleton, tuple(store.joint_names)) for store in stores}
    if len(skeletons) != 1:
        raise ValueError(f"training stores must share one skeleton and joint order, got {sorted(skeletons)}")
    ((skeleton, joint_names),) = skeletons
    return skeleton, joint_names


def training_data(
    model_config: ModelConfig,
    stores: Sequence[PoseStore],
    validation_store: PoseStore | None,
    config: TrainingConfig,
    context: DistributedContext,
) -> TrainingData:
    """Windows of ``stores`` shaped for the model, sampled per ``config`` for this process, and validation.

    Raises:
        ValueError: Stores with different skeletons, ``store_weights`` of the wrong length, or too few windows
            for one batch (each message names the values).
    """
    skeleton, joint_names = _shared_skeleton(stores)
    window_config = window_config_for(model_config, config.window, "training")
    datasets = [PoseWindows(store, window_config, config.train_splits, seed=config.seed) for store in stores]
    windows = datasets[0] if len(datasets) == 1 else WindowMixture(datasets)
    if config.store_weights is not None and len(config.store_weights) != len(stores):
        raise ValueError(f"store_weights has {len(config.store_weights)} weights for {len(stores)} training stores")
    samples = None if config.steps_per_epoch is None else config.steps_per_epoch * config.loader_batch_size
    sampler = WindowBatchSampler(
        [len(dataset) for dataset in datasets], config.loader_batch_size, weights=config.store_weights,
        samples_per_epoch=samples, seed=config.seed, rank=context.rank, world_size=context.world_size,
    )  # fmt: skip
    if sampler.batches_per_epoch == 0:
        raise ValueError(
            f"{len(windows)} training windows make no batch of {config.loader_batch_size}; lower batch_size "
            "or set steps_per_epoch"
        )
    validation = None
    if validation_store is not None:
        validation_config = window_config_for(
            model_config, config.window, "validation", centre_interval=config.validation_centre_interval
        )
        validation = validation_windows(validation_store, validation_config, config.validation_splits)
    return TrainingData(windows, sampler, validation, skeleton, joint_names)
