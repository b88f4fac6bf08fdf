"""Odd entries in a source archive are rejected by name and never opened; the rest of the batch converts.

The odd entries a careless unpack or a hostile archive holds: a named pipe (FIFO) named like a data file,
links to a FIFO, ``/dev/zero`` and ``/dev/urandom`` (reading either never ends), a link loop, a dangling
link, a directory named like a data file, and a link to a regular file outside the archive. Reading any
of them used to hang the command (FIFO, devices) or fail the whole run (the others) while the inputs were
fingerprinted, before any entry could be rejected. The timeouts make a regression fail instead of hang.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from datasets.source_entries import NotARegularFileError, entry_problem, open_regular
from datasets.storage import file_sha256
from pipelines.lineage.file_hashes import files_fingerprint

ODD_ENTRIES = {
    "fifo": "a named pipe (FIFO), not a regular file",
    "to_fifo": "a symbolic link (to {fifo}) leading outside the archive, not followed",
    "to_inner_fifo": "a symbolic link (to {inner_fifo}) to a named pipe (FIFO), not a regular file",
    "to_zero": "a symbolic link (to /dev/zero) leading outside the archive, not followed",
    "to_urandom": "a symbolic link (to /dev/urandom) leading outside the archive, not followed",
    "loop": "a symbolic link loop, not a file",
    "dangling": "a dangling symbolic link (to {nowhere}), not a file",
    "folder": "a directory, not a file",
    "outside": "a symbolic link (to {outside}) leading outside the archive, not followed",
}
"""Entry stem -> the reason it is rejected with ({...}: paths made by ``add_odd_entries``)."""


def add_odd_entries(folder: Path, outside: Path, name: str = "{}_poses.npz") -> dict[str, str]:
    """Create every odd entry in ``folder`` (``outside`` holds what lies beyond the archive).

    Returns:
        Entry file name -> expected rejection reason.
    """
    outside.mkdir(parents=True, exist_ok=True)
    paths = {"fifo": outside / "pipe.npz", "nowhere": outside / "nowhere.npz", "outside": outside / "real.npz"}
    os.mkfifo(paths["fifo"])
    paths["outside"].write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: a regular file, but not ours
    os.mkfifo(folder / name.format("fifo"))
    paths["inner_fifo"] = name.format("fifo")
    (folder / name.format("to_inner_fifo")).symlink_to(paths["inner_fifo"])
    links = {"to_fifo": paths["fifo"], "to_zero": Path("/dev/zero"), "to_urandom": Path("/dev/urandom"),
             "dangling": paths["nowhere"], "outside": paths["outside"]}  # fmt: skip
    for stem, target in links.items():
        (folder / name.format(stem)).symlink_to(target)
    (folder / name.format("loop")).symlink_to(folder / name.format("loop"))
    (folder / name.format("folder")).mkdir()
    return {name.format(stem): reason.format(**paths) for stem, reason in ODD_ENTRIES.items()}


@pytest.mark.timeout(20)
def test_each_odd_entry_is_named_with_its_reason_and_a_link_inside_the_archive_is_followed(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    expected = add_odd_entries(archive, tmp_path / "elsewhere")
    (archive / "real_poses.npz").write_bytes(b"data")
    (archive / "alias_poses.npz").symlink_to("real_poses.npz")
    for name, reason in expected.items():
        assert entry_problem(archive / name, archive) == reason, name
    assert entry_problem(archive / "alias_poses.npz", archive) == ""
    assert entry_problem(archive / "real_poses.npz", archive) == ""
    # named explicitly (no archive root), a link is followed anywhere, but only to a regular file
    assert entry_problem(archive / "outside_poses.npz") == ""
    assert entry_problem(archive / "to_zero_poses.npz") == (
        "a symbolic link (to /dev/zero) to a character device, not a regular file"
    )


@pytest.mark.timeout(20)
@pytest.mark.parametrize("target", ["fifo", "/dev/zero", "/dev/urandom", "directory"])
def test_hashing_refuses_pipes_devices_and_directories_without_blocking(tmp_path, target):
    path = tmp_path / "x.npz"
    if target == "fifo":
        os.mkfifo(path)
    elif target == "directory":
        path.mkdir()
    else:
        path.symlink_to(target)
    with pytest.raises(NotARegularFileError, match=rf"{path} is a .*, not a regular file"):
        file_sha256(path)
    with pytest.raises(NotARegularFileError):
        open_regular(path)


@pytest.mark.timeout(20)
def test_fingerprint_counts_odd_entries_by_name_and_reason_without_opening_them(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    add_odd_entries(archive, tmp_path / "elsewhere")
    (archive / "real_poses.npz").write_bytes(b"data")
    entries = sorted(archive.iterdir())
    first = files_fingerprint(entries, archive)
    assert files_fingerprint(entries, archive) == first
    (archive / "real_poses.npz").write_bytes(b"other")
    assert files_fingerprint(entries, archive) != first  # regular files still count by content


@pytest.fixture(scope="module")
def demo_amass(tmp_path_factory):
    from datasets.synthetic.amass_archive import build_demo_amass

    return build_demo_amass(tmp_path_factory.mktemp("demo_amass"))


@pytest.mark.timeout(120)
def test_amass_discovery_fingerprint_and_conversion_reject_each_odd_entry(demo_amass, tmp_path):
    from datasets.amass.config import AmassConfig
    from datasets.amass.convert import convert_amass_file
    from datasets.amass.discovery import discover, manifest_files
    from datasets.views import Rejection
    from pipelines.convert.amass import input_fingerprint

    archive = tmp_path / "archive"
    shutil.copytree(demo_amass.amass_root, archive)
    subject = sorted(archive.rglob("*_poses.npz"))[0].parent
    expected = add_odd_entries(subject, tmp_path / "elsewhere")
    config = AmassConfig(amass_root=archive, body_models=demo_amass.body_models, regressor=demo_amass.regressor,
                         regressor_order=demo_amass.regressor_order)  # fmt: skip
    manifest = discover(config)
    errors = {Path(row["relative_path"]).name: row["header_error"] for row in manifest.to_pylist()}
    assert {name: errors[name] for name in expected} == expected
    assert set(input_fingerprint(config, manifest)) == {"motion_files", "body_models", "regressor"}
    for item in manifest_files(manifest):
        if Path(item.relative_path).name in expected:
            result = convert_amass_file(item, config)
            assert isinstance(result, Rejection) and result.reason == "unreadable_file"
            assert result.detail == expected[Path(item.relative_path).name]


@pytest.mark.timeout(120)
def test_h36m_reader_and_fingerprint_reject_each_odd_entry_and_read_the_rest(tmp_path):
    from datasets.h36m import read_h36m
    from datasets.synthetic.h36m_archive import H36MArchiveSpec, write_videopose3d_h36m
    from pipelines.convert.benchmarks import source_fingerprint

    source = tmp_path / "source"
    write_videopose3d_h36m(source, H36MArchiveSpec(subjects=("S1",), sequences=("Walking 1",), frames=8))
    expected = add_odd_entries(source, tmp_path / "elsewhere", name="data_2d_h36m_{}.npz")
    assert set(source_fingerprint(source)) == {"source"}
    result = read_h36m(source)
    rejected = {Path(rejection.path).name: (rejection.reason, rejection.detail) for rejection in result.rejected}
    assert rejected == {name: ("unreadable_file", reason) for name, reason in expected.items()}
    assert result.views  # the regular files still convert


def _rejected_reasons(workspace: Path, version: str) -> dict[str, tuple[str, str]]:
    import pyarrow.parquet as pq

    from datasets.workspace import Workspace

    registry = Workspace(workspace)
    table = pq.read_table(registry.output_path(registry.get(version), "rejected"))
    return {Path(row["path"]).name: (row["reason"], row["detail"]) for row in table.to_pylist()}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_amass_flow_publishes_the_rest_and_lists_each_odd_entry(demo_amass, tmp_path):
    from pipelines.convert.amass import preprocess_amass
    from pipelines.convert.run_options import RunOptions
    from pipelines.orchestration import run_in_process

    archive = tmp_path / "archive"
    shutil.copytree(demo_amass.amass_root, archive)
    expected = add_odd_entries(sorted(archive.rglob("*_poses.npz"))[0].parent, tmp_path / "elsewhere")
    options = {"amass_root": str(archive), "body_models": str(demo_amass.body_models),
               "regressor": str(demo_amass.regressor), "regressor_order": demo_amass.regressor_order}  # fmt: skip
    version = run_in_process(preprocess_amass, {"options": options, "run": RunOptions(workers=1),
                                                "workspace": str(tmp_path / "workspace")})  # fmt: skip
    rejected = _rejected_reasons(tmp_path / "workspace", version)
    assert {name: rejected[name] for name in expected} == {name: ("unreadable_file", why) for name, why in
                                                           expected.items()}  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_h36m_flow_publishes_the_rest_and_lists_each_odd_entry(tmp_path):
    from datasets.synthetic.h36m_archive import build_demo_h36m
    from pipelines.convert.benchmarks import preprocess_h36m
    from pipelines.orchestration import run_in_process

    source = build_demo_h36m(tmp_path / "source")
    expected = add_odd_entries(source, tmp_path / "elsewhere", name="data_2d_h36m_{}.npz")
    version = run_in_process(preprocess_h36m, {"options": {"source": str(source)},
                                               "workspace": str(tmp_path / "workspace")})  # fmt: skip
    assert _rejected_reasons(tmp_path / "workspace", version) == {
        name: ("unreadable_file", why) for name, why in expected.items()
    }


@pytest.mark.timeout(120)
def test_humaneva_reader_rejects_each_odd_detection_entry_and_reads_the_rest(tmp_path):
    from datasets.humaneva import read_humaneva
    from datasets.synthetic.humaneva_archive import write_humaneva_npz

    source = tmp_path / "source"
    write_humaneva_npz(source)
    expected = add_odd_entries(source, tmp_path / "elsewhere", name="data_2d_humaneva15_{}.npz")
    result = read_humaneva(source)
    rejected = {Path(rejection.path).name: (rejection.reason, rejection.detail) for rejection in result.rejected}
    assert rejected == {name: ("unreadable_file", reason) for name, reason in expected.items()}
    assert result.views
