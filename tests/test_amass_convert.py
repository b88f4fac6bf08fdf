"""Per-file conversion on the demo archive, every bad-file reason, input checks and the real sample."""

from __future__ import annotations

import pickle
import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from fixture_archives import write_bad_amass_files

from datasets.amass.checks import check_inputs
from datasets.amass.config import AmassConfig
from datasets.amass.convert import EXTRA_COLUMNS, RejectionReason, convert_amass_file, joint_model
from datasets.amass.discovery import AmassFile, discover, manifest_files
from datasets.cameras import project
from datasets.skeletons import get_skeleton
from datasets.synthetic.amass_archive import DEMO_FILES, build_demo_amass, motion_arrays
from datasets.synthetic.body_model import write_npz
from datasets.views import Rejection, View

AMASS_SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/amass_sample.npz"
H36M_BONES = get_skeleton("h36m17").bones


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    paths = build_demo_amass(tmp_path_factory.mktemp("demo"))
    expected = write_bad_amass_files(paths.amass_root)
    config = AmassConfig(amass_root=paths.amass_root, body_models=paths.body_models, regressor=paths.regressor,
                         regressor_order=paths.regressor_order)  # fmt: skip
    items = manifest_files(discover(config))
    results = {item.relative_path: convert_amass_file(item, config) for item in items}
    return paths, config, expected, items, results


def _bone_lengths(joints: np.ndarray) -> np.ndarray:
    """(T, 16) metres."""
    return np.stack([np.linalg.norm(joints[:, child] - joints[:, parent], axis=-1) for parent, child in H36M_BONES], 1)


def test_every_file_is_accepted_or_rejected_with_its_reason(demo):
    _, _, expected, items, results = demo
    assert len(results) == len(items) == len(DEMO_FILES) + len(expected)
    rejected = {path: result for path, result in results.items() if isinstance(result, Rejection)}
    assert {path: result.reason for path, result in rejected.items()} == expected
    # One bad file (or more) per reason; a regressor mismatch needs another config (tested below) and
    # conversion_error is the net for the unforeseen.
    unexercised = {RejectionReason.REGRESSOR_MISMATCH, RejectionReason.CONVERSION_ERROR}
    assert set(expected.values()) == {reason.value for reason in RejectionReason} - unexercised
    for path, result in rejected.items():
        assert result.path.endswith(path) and result.detail


def test_good_files_give_four_h36m_views_each(demo):
    _, config, _, items, results = demo
    accepted = [item for item in items if isinstance(results[item.relative_path], list)]
    assert sorted(item.relative_path for item in accepted) == sorted(spec.relative_path for spec in DEMO_FILES)
    specs = {spec.relative_path: spec for spec in DEMO_FILES}
    for item in accepted:
        views = results[item.relative_path]
        spec = specs[item.relative_path]
        assert [view.camera.name for view in views] == ["54138969", "55011271", "58860488", "60457274"]
        frames = int(round(spec.seconds * spec.fps)) * 50 // int(spec.fps)  # whole-number durations x 50 Hz
        for view in views:
            assert (view.dataset, view.subset, view.subject, view.sequence) == (
                "amass",
                item.subset,
                item.subject,
                item.sequence,
            )
            assert view.split == ("validation" if item.subset == "SFU" else "train") and view.fps == 50.0
            assert view.joints_3d.shape == (frames, 17, 3) and view.joints_3d.dtype == np.float32
            assert view.keypoints_2d.shape == (frames, 17, 2) and view.keypoints_2d.dtype == np.float32
            assert tuple(view.extra_columns) == EXTRA_COLUMNS
            assert view.extra_columns["model_type"] == spec.model_type and view.extra_columns["gender"] == spec.gender
            assert view.extra_columns["source_fps"] == spec.fps


def test_views_are_rigid_and_reproject(demo):
    """Synthetic model: bone lengths constant (std < 1 mm) in every view; keypoints are projections."""
    for result in demo[4].values():
        for view in result if isinstance(result, list) else ():
            assert _bone_lengths(view.joints_3d).std(axis=0).max() < 1e-3
            np.testing.assert_allclose(project(view.joints_3d.astype(np.float64), view.camera), view.keypoints_2d,
                                       atol=1e-3, rtol=0)  # fmt: skip


def test_the_person_stands_where_the_placement_puts_it(demo):
    """Under "start_at_origin" the first-frame pelvis is above the world origin, 0.7-1.2 m up, in all four views.

    Default "as_recorded": every world joint is that one plus the recorded start pelvis's (x, y, 0).
    """
    _, config, _, items, results = demo
    item = next(item for item in items if item.relative_path == "CMU/01/01_01_poses.npz")
    moved = convert_amass_file(item, replace(config, placement="start_at_origin"))
    for as_recorded, view in zip(results[item.relative_path], moved, strict=True):
        camera = view.camera
        world = (view.joints_3d.astype(np.float64) - camera.translation) @ camera.rotation  # (T, 17, 3)
        np.testing.assert_allclose(world[0, 0, :2], 0.0, atol=1e-5)
        assert 0.7 < world[0, 0, 2] < 1.2
        assert 0 <= view.keypoints_2d[0, 0, 0] < camera.width and 0 <= view.keypoints_2d[0, 0, 1] < camera.height
        recorded = (as_recorded.joints_3d.astype(np.float64) - camera.translation) @ camera.rotation
        shift = np.array([*recorded[0, 0, :2], 0.0])
        np.testing.assert_allclose(recorded - world, np.broadcast_to(shift, world.shape), atol=2e-5)


def test_unknown_gender_can_use_the_neutral_model(demo):
    _, config, _, items, _ = demo
    item = next(item for item in items if item.sequence == "unknown_gender_poses")
    views = convert_amass_file(item, replace(config, unknown_gender="neutral"))
    assert isinstance(views, list) and views[0].extra_columns["gender"] == "neutral"


def test_random_cameras_are_reproducible_per_file(demo):
    _, config, _, items, _ = demo
    random_config = replace(config, cameras="random:2", seed=11)
    item = next(item for item in items if item.sequence == "01_01_poses")
    first, again = convert_amass_file(item, random_config), convert_amass_file(item, random_config)
    assert [view.camera for view in first] == [view.camera for view in again]
    assert [view.camera.name for view in first] == ["random_0", "random_1"]
    np.testing.assert_array_equal(first[1].joints_3d, again[1].joints_3d)


def test_results_pickle_and_models_load_once(demo):
    """Dask ships results between processes; the joint model is cached per process."""
    _, config, _, items, results = demo
    views = results["CMU/01/01_01_poses.npz"]
    restored = pickle.loads(pickle.dumps(views))
    np.testing.assert_array_equal(restored[0].keypoints_2d, views[0].keypoints_2d)
    assert isinstance(pickle.loads(pickle.dumps(results["CMU/bad_files/nan_poses.npz"])), Rejection)
    hits = joint_model.cache_info().hits
    convert_amass_file(items[0], config)
    assert joint_model.cache_info().hits > hits


def test_a_directory_in_place_of_a_file_is_rejected_not_raised(demo, tmp_path: Path):
    _, config, *_ = demo
    (tmp_path / "folder_poses.npz").mkdir()
    result = convert_amass_file(AmassFile(tmp_path / "folder_poses.npz", "X/y/folder_poses.npz", "X", "y",
                                          "folder_poses", "train"), config)  # fmt: skip
    assert isinstance(result, Rejection) and result.reason == RejectionReason.UNREADABLE_FILE


def test_a_regressor_of_another_topology_rejects_the_file(demo, tmp_path: Path):
    _, config, _, items, _ = demo
    np.save(tmp_path / "other.npy", np.full((17, 6890), 1.0 / 6890))
    item = next(item for item in items if item.sequence == "01_01_poses")
    result = convert_amass_file(item, replace(config, regressor=tmp_path / "other.npy", regressor_order="h36m"))
    assert isinstance(result, Rejection) and result.reason == RejectionReason.REGRESSOR_MISMATCH
    with pytest.raises(ValueError, match="fits none of the body models"):
        check_inputs(replace(config, regressor=tmp_path / "other.npy"))


def test_check_inputs(demo, tmp_path: Path):
    _, config, *_ = demo
    assert check_inputs(config) == []
    with pytest.raises(FileNotFoundError, match="body-model directory"):
        check_inputs(replace(config, body_models=tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="no body model under"):
        check_inputs(replace(config, body_models=tmp_path))
    with pytest.raises(FileNotFoundError, match="regressor .* does not exist"):
        check_inputs(replace(config, regressor=tmp_path / "missing.npy"))
    with pytest.raises(FileNotFoundError, match="AMASS root"):
        check_inputs(replace(config, amass_root=tmp_path / "missing"))
    with pytest.raises(ValueError, match="not a torch device"):
        check_inputs(replace(config, device="abacus"))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            check_inputs(replace(config, device="cuda:0"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages = check_inputs(replace(config, regressor_order="h36m"))
    assert messages and all("order looks swapped" in message for message in messages)
    assert len(caught) == len(messages)


def test_without_a_regressor_the_model_joints_stand_in(demo):
    _, config, _, items, results = demo
    item = next(item for item in items if item.sequence == "01_01_poses")
    views = convert_amass_file(item, replace(config, regressor=None))
    with_regressor = results[item.relative_path]
    # The synthetic regressor targets the same joint centres except the head top (the model has none).
    np.testing.assert_allclose(views[0].joints_3d[:, :10], with_regressor[0].joints_3d[:, :10], atol=1e-5)
    np.testing.assert_array_equal(views[0].joints_3d[:, 10], views[0].joints_3d[:, 9])


def test_real_sample_acceptance(demo, tmp_path: Path):
    """The real recording (500 frames at 120 Hz, female, SMPL+H) in an AMASS tree with the synthetic
    model: floor(500 / 120 * 50) = 208 frames per view, bone-length std < 1 mm for every bone of every
    view, and keypoints_2d = projection of joints_3d with the view's camera (1e-3 px)."""
    if not AMASS_SAMPLE.is_file():
        pytest.skip(f"{AMASS_SAMPLE} is absent (licensed data lives only in ../shared).")
    sample = tmp_path / "amass/ACCAD/Female1General_c3d/sample_poses.npz"
    sample.parent.mkdir(parents=True)
    shutil.copyfile(AMASS_SAMPLE, sample)  # a copy: a link leaving the archive is not followed (temporary file)
    _, config, *_ = demo
    for cameras in ("h36m", "random:3"):
        sample_config = replace(config, amass_root=tmp_path / "amass", cameras=cameras)
        (item,) = manifest_files(discover(sample_config))
        views = convert_amass_file(item, sample_config)
        assert isinstance(views, list), views
        for view in views:
            assert view.frames == 208
            assert _bone_lengths(view.joints_3d).std(axis=0).max() < 1e-3
            reprojected = project(view.joints_3d.astype(np.float64), view.camera)
            np.testing.assert_allclose(reprojected, view.keypoints_2d, atol=1e-3, rtol=0)
            assert isinstance(view, View) and view.extra_columns["gender"] == "female"


def test_real_sample_stays_in_frame_as_recorded_and_leaves_camera_60457274_when_moved(demo, tmp_path: Path):
    """The evidence for the default placement (docs/amass.md): the real recording, S1's four cameras.

    As recorded (the authors' pipeline) no joint of any frame leaves any view; moved so its first-frame pelvis
    is at x = y = 0, it walks out of 60457274's image for 40 % of (frame, joint) points (0.401 measured).
    """
    if not AMASS_SAMPLE.is_file():
        pytest.skip(f"{AMASS_SAMPLE} is absent (licensed data lives only in ../shared).")
    sample = tmp_path / "amass/CMU/sample/sample_poses.npz"
    sample.parent.mkdir(parents=True)
    shutil.copyfile(AMASS_SAMPLE, sample)  # temporary, outside the repository
    _, config, *_ = demo
    ratios = {}
    for placement in ("as_recorded", "start_at_origin"):
        sample_config = replace(config, amass_root=tmp_path / "amass", placement=placement)
        (item,) = manifest_files(discover(sample_config))
        views = convert_amass_file(item, sample_config)
        ratios[placement] = {view.camera.name: view.extra_columns["out_of_frame_ratio"] for view in views}
    assert ratios["as_recorded"] == dict.fromkeys(("54138969", "55011271", "58860488", "60457274"), 0.0)
    assert ratios["start_at_origin"]["60457274"] == pytest.approx(0.401, abs=0.005)


def test_a_missing_gender_counts_as_unknown(demo, tmp_path: Path):
    _, config, *_ = demo
    arrays = motion_arrays(DEMO_FILES[0])
    del arrays["gender"]
    path = write_npz(tmp_path / "CMU/01/no_gender_poses.npz", arrays)
    item = AmassFile(path, "CMU/01/no_gender_poses.npz", "CMU", "01", "no_gender_poses", "train")
    rejected = convert_amass_file(item, config)
    assert isinstance(rejected, Rejection) and rejected.reason == RejectionReason.UNKNOWN_GENDER
    views = convert_amass_file(item, replace(config, unknown_gender="neutral"))
    assert isinstance(views, list) and views[0].extra_columns["gender"] == "neutral"
