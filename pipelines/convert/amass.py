"""The ``preprocess-amass`` flow: AMASS archive -> versioned pose store of Human3.6M joints in virtual cameras.

Tasks: check inputs (fail before any work on a missing body-model directory or regressor), discover (read
only file headers into the Parquet discovery table), convert on workers (``pipelines.convert.workers``; one
task per file: body model, regressor, resampling, cameras; each file's views saved as a fragment), write (disjoint
chunk-aligned blocks in forked Icechunk sessions), commit and publish. The maths lives in ``datasets.amass``;
this module orchestrates.

With no data arguments it runs on the licence-free demo (synthetic body models, regressor and archive
generated under ``<workspace>/demo/amass``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from datasets.amass.config import DEFAULT_PRESET, AmassConfig
from datasets.config import load_config, split_runtime, to_jsonable
from datasets.escaping import terminal_text
from datasets.workspace import Manifest, Workspace
from pipelines.convert.benchmarks import DEMO_DIRECTORY, generate_once
from pipelines.convert.conversion import Conversion, announce_version, run_conversion
from pipelines.convert.run_options import RunOptions, as_options
from pipelines.convert.workers import forked_early
from pipelines.lineage.file_hashes import FileHashes, files_fingerprint
from pipelines.orchestration import flow, publish_summary, task
from pipelines.stage_names import PREPROCESS_AMASS

if TYPE_CHECKING:  # the demo generator imports trimesh (~1.5 s): only demo runs need it
    from datasets.synthetic.amass_archive import DemoAmassPaths

DEMO_FIELDS = ("amass_root", "body_models", "regressor")
"""With none of these given, the flow converts the licence-free demo."""


def demo_inputs(workspace: Workspace) -> DemoAmassPaths:
    """The licence-free demo's archive, body models and regressor, generated once per workspace.

    Generated only when absent, by one run at a time (``pipelines.convert.benchmarks.generate_once``), which saves
    the time; the inputs count by content, so regenerated identical bytes would give the same version anyway.
    """
    from datasets.synthetic.amass_archive import DemoAmassPaths, build_demo_amass

    root = workspace.local_directory(DEMO_DIRECTORY, "amass")
    record = root / "demo_paths.json"
    generate_once(root, record, lambda: record.write_text(json.dumps(to_jsonable(build_demo_amass(root)))))
    return DemoAmassPaths(**{key: Path(value) if key != "regressor_order" else value
                             for key, value in json.loads(record.read_text()).items()})  # fmt: skip


def input_fingerprint(config: AmassConfig, discovery: pa.Table, hashes: FileHashes | None = None) -> dict[str, str]:
    """Content fingerprints of the discovered motion files, the body-model files and the regressor.

    Args:
        config: The conversion config (where the inputs are).
        discovery: The discovery table (its ``relative_path`` column lists the motion files; entries that are
            not read, e.g. a FIFO or a link leaving the archive, count by name and reason, never opened).
        hashes: Cache of file hashes (the workspace's); None reads every file.
    """
    motion_files = [config.amass_root / relative for relative in discovery["relative_path"].to_pylist()]
    model_files = [path for path in config.body_models.rglob("*.npz")]
    fingerprint = {
        "motion_files": files_fingerprint(motion_files, config.amass_root, hashes),
        "body_models": files_fingerprint(model_files, config.body_models, hashes, contained=False),
    }
    if config.regressor is not None:
        fingerprint["regressor"] = files_fingerprint([config.regressor], config.regressor.parent, hashes,
                                                     contained=False)  # fmt: skip
    return fingerprint


@task(name="check-inputs")
def check_inputs_task(config: AmassConfig) -> list[str]:
    """Fail before any work on missing inputs; returns warnings (e.g. a regressor that looks swapped)."""
    from datasets.amass.checks import check_inputs

    return check_inputs(config)


@task(name="discover")
def discover_task(config: AmassConfig) -> pa.Table:
    """Headers of every motion file, as the discovery table (``datasets.amass.discovery``)."""
    from datasets.amass.discovery import discover

    discovery = discover(config)
    print(f"discovered {discovery.num_rows} motion files under {config.amass_root}")
    return discovery


@task(name="convert-write-commit", retries=1, retry_delay_seconds=5)
def convert_write_commit(
    config: AmassConfig,
    discovery: pa.Table,
    workspace: str,
    workers: int | None,
    dask_address: str | None,
    strict: bool,
) -> tuple[Manifest, bool]:
    """Convert every file on the workers, write the store, validate and publish (reusing finished fragments)."""
    with FileHashes.of_workspace(Workspace(workspace)) as hashes:
        inputs = input_fingerprint(config, discovery, hashes)
    conversion = amass_conversion(config, discovery, inputs)
    return run_conversion(conversion, workspace, workers=workers, dask_address=dask_address, strict=strict)


def amass_conversion(config: AmassConfig, discovery: pa.Table, inputs: Mapping[str, Any]) -> Conversion:
    """The conversion of the discovered files under ``config``; its version id needs no work (``conversion_run``).

    The id hashes the config's output-shaping fields; its ``runtime_field`` fields (input paths, device, batch
    size) are recorded only, since the inputs count by their fingerprint.

    Args:
        config: The conversion config.
        discovery: The discovery table, one row per motion file (``datasets.amass.discovery.discover``).
        inputs: The inputs' content fingerprint (``input_fingerprint``).
    """
    from datasets.amass.convert import convert_amass_file
    from datasets.amass.discovery import manifest_files
    from datasets.skeletons import get_skeleton

    skeleton = get_skeleton("h36m17")
    hashed, runtime = split_runtime(config)
    return Conversion(
        stage=PREPROCESS_AMASS,
        config=hashed,
        inputs=inputs,
        items=manifest_files(discovery),
        convert=partial(convert_amass_file, config=config),
        skeleton=skeleton.name,
        joint_names=skeleton.joint_names,
        attributes={"dataset": "amass", "fps": config.fps, "cameras": config.cameras},
        tables={"discovery": discovery},
        runtime=runtime,
    )


def resolve_config(workspace: Workspace, preset: str, options: Mapping[str, Any] | None) -> AmassConfig:
    """The conversion's config: the preset, then ``options`` (``AmassConfig`` fields) over it.

    With none of ``amass_root``, ``body_models`` and ``regressor`` given, the licence-free demo's paths (and
    its regressor's row order) are used.
    """
    given = {key: value for key, value in (options or {}).items() if value is not None}
    if not any(key in given for key in DEMO_FIELDS):
        paths = demo_inputs(workspace)
        given.update(amass_root=str(paths.amass_root), body_models=str(paths.body_models),
                     regressor=str(paths.regressor), regressor_order=paths.regressor_order)  # fmt: skip
    if "amass_root" not in given or "body_models" not in given:
        raise ValueError("preprocess-amass needs both --amass-root and --body-models (or neither, for the demo).")
    return load_config(AmassConfig, "amass", preset, given)


@flow(name=PREPROCESS_AMASS, log_prints=True)
def preprocess_amass(
    preset: str = DEFAULT_PRESET,
    options: dict[str, Any] | None = None,
    run: RunOptions | None = None,
    workspace: str | None = None,
) -> str:
    """AMASS archive -> versioned pose store of Human3.6M joints seen by virtual cameras; returns the version id.

    Example: ``preprocess_amass(options={"amass_root": "/data/AMASS", "body_models": "/data/body_models"})``;
    with no ``amass_root``, ``body_models`` or ``regressor`` it converts the licence-free demo.

    Args:
        preset: ``presets/amass/<preset>.yaml`` (or a YAML path) with the conversion settings.
        options: ``AmassConfig`` fields (``datasets.amass.config``, where each is documented) overriding the
            preset; JSON values (paths as strings, tuples as lists).
        run: Workers, Dask address and strictness (``pipelines.convert.run_options.RunOptions``); they never change
            the version.
        workspace: Workspace root.
    """
    workspace = Workspace(workspace)
    run = as_options(RunOptions, run)
    with forked_early(run.workers, run.dask_address):  # workers import torch while this process prepares
        config = resolve_config(workspace, preset, options)
        for warning in check_inputs_task(config):
            print(terminal_text(f"warning: {warning}"))
        discovery = discover_task(config)
        manifest, worked = convert_write_commit(config, discovery, str(workspace.root), run.workers,
                                                run.dask_address, run.strict)  # fmt: skip
    announce_version(PREPROCESS_AMASS, manifest, worked)
    return publish_summary(manifest)
