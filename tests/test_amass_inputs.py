"""AMASS inputs that used to crash without a name or convert wrongly: truncated body models, complex poses."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from datasets.amass.checks import check_inputs
from datasets.amass.config import AmassConfig
from datasets.amass.convert import convert_amass_file
from datasets.amass.discovery import discover, manifest_files
from datasets.synthetic.amass_archive import build_demo_amass
from datasets.views import Rejection


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_demo_amass(tmp_path_factory.mktemp("demo"))


def config_of(demo, **changes) -> AmassConfig:
    fields = dict(amass_root=demo.amass_root, body_models=demo.body_models, regressor=demo.regressor,
                  regressor_order=demo.regressor_order)  # fmt: skip
    return AmassConfig(**{**fields, **changes})


def test_truncated_body_model_fails_the_input_check_naming_the_file(demo, tmp_path):
    models = tmp_path / "body_models"
    shutil.copytree(demo.body_models, models)
    model = sorted((models / "smplh").rglob("model.npz"))[0]
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    with pytest.raises(ValueError, match=rf"body model {model} is not readable \(BadZipFile"):
        check_inputs(config_of(demo, body_models=models))


def test_complex_poses_are_rejected_not_silently_made_real(demo, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(demo.amass_root, archive)
    source = sorted(archive.rglob("*_poses.npz"))[0]
    with np.load(source) as loaded:
        arrays = {name: loaded[name] for name in loaded.files}
    arrays["poses"] = arrays["poses"].astype(np.complex128) + 1j
    np.savez(source, **arrays)
    config = config_of(demo, amass_root=archive)
    [item] = [item for item in manifest_files(discover(config)) if item.path == source]
    result = convert_amass_file(item, config)
    assert isinstance(result, Rejection) and result.reason == "non_finite_values"
    assert "poses (complex128)" in result.detail


def test_links_and_directories_named_like_motion_files_are_listed_and_rejected_with_a_reason(demo, tmp_path):
    archive = tmp_path / "archive"
    shutil.copytree(demo.amass_root, archive)
    subject = sorted(archive.rglob("*_poses.npz"))[0].parent
    (subject / "dangling_poses.npz").symlink_to(tmp_path / "nowhere.npz")
    (subject / "loop_poses.npz").symlink_to(subject / "loop_poses.npz")
    (subject / "folder_poses.npz").mkdir()
    config = config_of(demo, amass_root=archive)
    manifest = discover(config)
    errors = {row["sequence"]: row["header_error"] for row in manifest.to_pylist()}
    assert errors["dangling_poses"] == f"a dangling symbolic link (to {tmp_path / 'nowhere.npz'}), not a file"
    assert errors["loop_poses"] == "a symbolic link loop, not a file"
    assert errors["folder_poses"] == "a directory, not a file"
    for item in manifest_files(manifest):
        if item.sequence in ("dangling_poses", "loop_poses", "folder_poses"):
            result = convert_amass_file(item, config)
            assert isinstance(result, Rejection) and result.reason == "unreadable_file"
            assert result.detail == errors[item.sequence]


def test_a_workspace_that_is_a_file_is_refused_naming_it(tmp_path):
    from datasets.workspace import Workspace

    (tmp_path / "workspace").write_text("not a directory")
    with pytest.raises(ValueError, match=rf"workspace {tmp_path / 'workspace'} is a file, not a directory"):
        Workspace(tmp_path / "workspace")
