"""Every config field that feeds a version id: an output-shaping field changes the id, a runtime field does not.

Whether a field only shapes the run is declared on the field (``datasets.config.runtime_field``). This test
walks every field of every config a version id is derived from (the conversions', training's with its nested
loss, window and virtual-camera settings, each model's, evaluation's), changes it to another valid value and
derives the id with the real derivation (``StageRun`` through each stage's own helper, without running the
stage): the id must change for every field not in ``REVIEWED_RUNTIME`` and stay for every field in it, which
must also be recorded in the manifest's runtime.

``REVIEWED_RUNTIME`` repeats the marks on purpose: a field marked runtime makes a changed setting reuse an
old version, so marking one (say ``learning_rate``) must also be confirmed here, where review sees it, or
this test fails.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from datasets.amass.config import AmassConfig
from datasets.benchmark_config import H36mConversionConfig, HumanEvaConversionConfig, Mpi3dhpConversionConfig
from datasets.config import runtime_fields
from datasets.windows import VirtualCameraConfig
from datasets.workspace import Manifest, Workspace
from lifting.evaluation import EvaluationConfig
from lifting.models import MixSTEConfig, StridedTransformerConfig, TMTConfig, UpliftUpsampleConfig, load_model_config
from lifting.training import TrainingConfig
from lifting.training.config import LossConfig, WindowSettings
from pipelines.lift.options import LiftOptions, LiftRunOptions
from pipelines.lineage.versioning import StageRun

REVIEWED_RUNTIME: Mapping[type, frozenset[str]] = {
    AmassConfig: frozenset({"amass_root", "body_models", "regressor", "batch_frames", "device"}),
    H36mConversionConfig: frozenset({"source"}),
    HumanEvaConversionConfig: frozenset({"source"}),
    Mpi3dhpConversionConfig: frozenset({"source"}),
    TrainingConfig: frozenset(
        {
            "window.cache",
            "window.memory_limit_bytes",
            "window.cache_chunks",
            "compile",
            "compile_mode",
            "log_every_steps",
            "num_workers",
            "progress_bar",
        }
    ),  # fmt: skip
    LossConfig: frozenset(),
    WindowSettings: frozenset({"cache", "memory_limit_bytes", "cache_chunks"}),
    VirtualCameraConfig: frozenset(),
    EvaluationConfig: frozenset(),
    MixSTEConfig: frozenset(),
    StridedTransformerConfig: frozenset(),
    UpliftUpsampleConfig: frozenset(),
    TMTConfig: frozenset(),
    LiftOptions: frozenset(),
}
"""Config type -> the fields reviewed as not shaping the output (dotted for nested dataclasses)."""

STRING_VALUES: Mapping[str, tuple[Any, ...]] = {
    "regressor_order": ("h36m",),
    "placement": ("start_at_origin",),
    "cameras": ("random:2",),
    "h36m_camera_subject": ("S5",),
    "unknown_gender": ("neutral",),
    "precision": ("float64", "bf16"),
    "device": ("cuda:1",),
    "split": ("validation",),
    "keypoints": ("keypoints_2d_cpn",),
    "skeleton": ("mpi_inf_3dhp17", "humaneva15"),
    "backbone": ("strided",),
    "format": ("coco",),
    "joint_order": ("coco17",),
    "person": ("2",),
}
"""Other valid values of plain ``str`` fields, by field name (a ``Literal`` lists its own)."""

COUPLED: Mapping[str, Mapping[str, Any]] = {
    "UpliftUpsampleConfig.receptive_field": {"receptive_field": 41, "strides": (3, 3), "paddings": ((0, 0), (0, 0))},
    "UpliftUpsampleConfig.strides": {"strides": (3, 9), "paddings": ((0, 0), (0, 0))},
    "UpliftUpsampleConfig.output_stride": {
        "output_stride": 10,
        "input_strides": (10, 20),
        "strides": (14,),
        "paddings": ((0, 0),),
    },
    "TMTConfig.backbone": {"backbone": "strided", "backbone_config": StridedTransformerConfig(input_channels=5)},
}
"""Fields that cannot change alone (another field must follow): the changes tried first, by ``Type.field``."""
FIXED: Mapping[str, str] = {
    "backbone_config.input_channels": "a TMT backbone reads positions and velocities: 2 + 3 channels, no other",
}
"""Dotted fields that have no other valid value where they are, and why."""

MODEL_NAMES: Mapping[type, str] = {
    MixSTEConfig: "mixste",
    StridedTransformerConfig: "strided",
    UpliftUpsampleConfig: "uplift-upsample",
    TMTConfig: "mixste-tmt",
}
DATA_OUTPUTS = {"store": {"kind": "store", "path": "store", "index_sha256": "1" * 64, "array_sha256": {"a": "2" * 64}}}
CHECKPOINT_OUTPUTS = {"checkpoint_best": {"kind": "file", "path": "c.pt", "sha256": "3" * 64},
                      "metrics": {"kind": "file", "path": "m.jsonl", "sha256": "4" * 64}}  # fmt: skip


def _candidates(value: Any, annotation: Any, name: str) -> Iterator[Any]:
    """Values other than ``value`` that a field of type ``annotation`` may take (validity is checked by the caller)."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in arguments if option is not type(None)]
        if value is None:
            for option in options:
                yield from _samples(option, name)
        else:
            for option in options:
                if _matches(value, option):
                    yield from _candidates(value, option, name)
            yield None
        return
    if origin is typing.Literal:
        yield from (choice for choice in arguments if choice != value)
    elif annotation is bool:
        yield not value
    elif annotation is int:
        yield from (value + 1, value * 2, value - 1)
    elif annotation is float:
        yield from (value * 0.5, value + 0.5)
    elif annotation is str:
        yield from STRING_VALUES.get(name, ())
    elif annotation is Path:
        yield value.parent / f"{value.name}-elsewhere"
    elif origin is tuple:
        if value:
            yield (*value, value[-1])
            yield value[:-1]
            if not any(isinstance(item, str) for item in value):
                yield tuple(_bumped(item) for item in value)
                yield tuple(item * 0.5 for item in value if isinstance(item, int | float))
        else:
            yield from _samples(annotation, name)
    elif origin is Mapping:
        yield {**value, "extra": Path("/data/extra.npz")}
    elif dataclasses.is_dataclass(annotation) and value is None:
        yield annotation()


def _bumped(item: Any) -> Any:
    return tuple(_bumped(inner) for inner in item) if isinstance(item, tuple) else item + 1


def _samples(annotation: Any, name: str) -> Iterator[Any]:
    """Values of ``annotation`` where the field is None now."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is int:
        yield from (2, 3)
    elif annotation is float:
        yield 0.5
    elif annotation is bool:
        yield True
    elif annotation is str or origin is typing.Literal:
        yield from (arguments or STRING_VALUES.get(name, ()))
    elif annotation is Path:
        yield Path("/data/source")
    elif origin is tuple:
        sample = {float: (1.0, 2.0), int: (1, 2), str: ("train", "validation")}[arguments[0]]
        yield sample[:1] if arguments[-1] is Ellipsis else sample[: len(arguments)]
    elif dataclasses.is_dataclass(annotation):
        yield annotation()


def _matches(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation) or annotation
    if origin is typing.Literal:
        return value in typing.get_args(annotation)
    return isinstance(value, origin) if isinstance(origin, type) else True


def changed_configs(
    config: Any, prefix: str = "", whole: Callable[[Any], Any] = lambda config: config
) -> Iterator[tuple[str, Any]]:
    """``(dotted field name, whole config with that field changed)`` for every field; nested dataclasses are walked.

    Args:
        config: The config (or a nested part of it) whose fields are changed.
        prefix: Dotted path of ``config`` inside the whole config.
        whole: Rebuilds the whole config around a changed ``config`` (validating every level).

    Raises:
        AssertionError: a field for which no other valid value was found (add one to ``STRING_VALUES`` or
            ``COUPLED``), unless ``FIXED`` says why it has none.
    """
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value, name = getattr(config, field.name), prefix + field.name
        if dataclasses.is_dataclass(value):

            def rebuild(inner: Any, outer: Any = config, key: str = field.name) -> Any:
                return whole(dataclasses.replace(outer, **{key: inner}))

            yield from changed_configs(value, f"{name}.", rebuild)
            continue
        coupled = COUPLED.get(f"{type(config).__name__}.{field.name}")
        changes = [coupled] if coupled else []
        changes += [{field.name: candidate} for candidate in _candidates(value, hints[field.name], field.name)]
        for change in changes:
            if change[field.name] == value:
                continue
            try:
                changed = whole(dataclasses.replace(config, **change))
            except (ValueError, TypeError):
                continue
            yield name, changed
            break
        else:
            assert name in FIXED, f"no other valid value found for {name}"


def _published(workspace: Workspace, stage: str, outputs: Mapping[str, Any]) -> Manifest:
    manifest = Manifest(id=f"{stage}-000000000000", stage=stage, parents=(), config={"model": "mixste"}, inputs={},
                        code={}, packages={}, started="", finished="", wall_time_s=0.0, counts={},
                        outputs=outputs)  # fmt: skip
    return workspace.publish(manifest)


def _assert_walk(base: Any, run_of: Callable[[Any], StageRun], runtime: frozenset[str], recorded: bool = True) -> None:
    """Change every field of ``base`` in turn: the id changes unless the field is in ``runtime``.

    With ``recorded``, a runtime field must also appear in the run's recorded runtime.
    """
    reference = run_of(base).id
    walked = []
    for name, config in changed_configs(base):
        run = run_of(config)
        walked.append(name)
        if name in runtime:
            assert run.id == reference, f"{name} is reviewed as runtime but changed the version id"
            assert not recorded or name in run.runtime, f"{name} is runtime but not recorded in the manifest's runtime"
        else:
            assert run.id != reference, f"{name} shapes the output but did not change the version id"
    assert runtime <= set(walked), f"runtime fields never walked: {sorted(runtime - set(walked))}"


@pytest.mark.parametrize("config_type", list(REVIEWED_RUNTIME), ids=lambda config_type: config_type.__name__)
def test_the_fields_marked_runtime_are_the_reviewed_ones(config_type):
    """Marking a field runtime (or unmarking one) must be confirmed in ``REVIEWED_RUNTIME``."""
    assert set(runtime_fields(config_type)) == set(REVIEWED_RUNTIME[config_type])


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = Workspace(tmp_path_factory.mktemp("workspace"))
    return root, _published(root, "preprocess-h36m", DATA_OUTPUTS), _published(root, "finetune", CHECKPOINT_OUTPUTS)


def test_every_training_field_shapes_the_checkpoint_version_unless_reviewed_as_runtime(workspace):
    from pipelines.train.publish import TrainingJob, training_stage_run

    registry, data, _ = workspace
    base = TrainingConfig(window=WindowSettings(virtual_cameras=VirtualCameraConfig()))

    def run_of(config: TrainingConfig) -> StageRun:
        job = TrainingJob("pretrain", data.id, None, "mixste", "demo", "demo", config, "cpu", resume=False)
        return training_stage_run(registry, job, data, None)

    _assert_walk(base, run_of, REVIEWED_RUNTIME[TrainingConfig])


@pytest.mark.parametrize("config_type", list(MODEL_NAMES), ids=lambda config_type: config_type.__name__)
def test_every_model_field_shapes_the_checkpoint_version(workspace, monkeypatch, config_type):
    import lifting.models
    from pipelines.train.publish import TrainingJob, training_stage_run

    registry, data, _ = workspace
    model = MODEL_NAMES[config_type]
    base = load_model_config(model, "demo")
    chosen = {"config": base}
    monkeypatch.setattr(lifting.models, "load_model_config", lambda name, preset: chosen["config"])

    def run_of(config: Any) -> StageRun:
        chosen["config"] = config
        job = TrainingJob("pretrain", data.id, None, model, "demo", "demo", TrainingConfig(), "cpu", resume=False)
        return training_stage_run(registry, job, data, None)

    _assert_walk(base, run_of, REVIEWED_RUNTIME[config_type])


def test_every_evaluation_field_shapes_the_metrics_version(workspace):
    from pipelines.evaluate.flows import evaluation_stage_run

    registry, data, checkpoint = workspace
    _assert_walk(EvaluationConfig(), lambda config: evaluation_stage_run(registry, checkpoint, data, config, "cpu"),
                 REVIEWED_RUNTIME[EvaluationConfig])  # fmt: skip


def test_every_lift_option_shapes_the_lift_version(workspace, tmp_path):
    from pipelines.lift.flow import lift_stage_run

    registry, _, checkpoint = workspace
    source = tmp_path / "clip.npy"
    source.write_bytes(b"keypoints")  # hashed, never read: the id follows the file's bytes

    def run_of(options: LiftOptions) -> StageRun:
        return lift_stage_run(registry, checkpoint, [source], source, options, LiftRunOptions(), single=True)

    _assert_walk(LiftOptions(), run_of, REVIEWED_RUNTIME[LiftOptions])


def test_every_amass_field_shapes_the_store_version_unless_reviewed_as_runtime(workspace):
    import pyarrow as pa

    from datasets.amass.discovery import MANIFEST_SCHEMA
    from pipelines.convert.amass import amass_conversion
    from pipelines.convert.conversion import conversion_run

    registry = workspace[0]
    discovery = pa.Table.from_pylist([], schema=MANIFEST_SCHEMA)
    base = AmassConfig(amass_root=Path("/data/amass"), body_models=Path("/data/models"),
                       regressor=Path("/data/regressor.npy"))  # fmt: skip
    inputs = {"motion_files": "5" * 64, "body_models": "6" * 64}
    _assert_walk(base, lambda config: conversion_run(amass_conversion(config, discovery, inputs), registry),
                 REVIEWED_RUNTIME[AmassConfig])  # fmt: skip


@pytest.mark.parametrize("name", ["H36M", "HUMANEVA", "MPI_3DHP"])
def test_every_benchmark_field_shapes_the_store_version_unless_reviewed_as_runtime(workspace, name):
    from pipelines.convert import benchmarks as preprocess

    registry = workspace[0]
    benchmark = getattr(preprocess, name)
    base = benchmark.config_type(source=Path("/data/source"))

    def run_of(config: Any) -> StageRun:  # as run_reader_conversion derives it; the flow records the folder itself
        return StageRun(registry, benchmark.stage, config=preprocess.benchmark_record(benchmark, config),
                        inputs={"source": "7" * 64})  # fmt: skip

    _assert_walk(base, run_of, REVIEWED_RUNTIME[benchmark.config_type], recorded=False)
