"""World-frame pose stores (schema 2): AMASS sequences stored once, each virtual camera derived on read."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import zarr
from conftest import open_repository

from datasets.skeletons import get_skeleton
from datasets.storage import write_parquet
from datasets.store import WORLD_ARRAY, PoseStore, write_store
from datasets.store.migrate import MigrationError, migrate_to_world_frames
from datasets.store.schema import INDEX_FILE
from datasets.store.world import film_world, world_from_view
from datasets.views import View
from tests.golden.make_amass_store_golden import (
    GOLDEN_CAMERAS,
    GOLDEN_FILES,
    build_store,
    convert_views,
    sample_windows,
)

GOLDEN = Path(__file__).parent / "golden" / "amass_store_windows.npz"
PIXELS_PER_NORMALISED_UNIT = 1000 / 2
"""Half the width of the Human3.6M images every demo camera takes its intrinsics from."""


@pytest.fixture(scope="module")
def golden_stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    return {cameras: build_store(root, cameras) for cameras in GOLDEN_CAMERAS}


def test_windows_equal_those_of_the_camera_frame_schema(golden_stores):
    """Windows and reads of today's world-frame store equal the golden ones of a schema-1 store.

    A regression guard, not an independent derivation: our own code (schema 1) made the golden file, so this
    shows that schema 2 changed nothing, not that either is right.

    ``amass_store_windows.npz`` was written by ``python tests/golden/make_amass_store_golden.py
    tests/golden/amass_store_windows.npz`` at commit "Golden windows of a schema-1 AMASS store" (before
    schema 2): three demo AMASS files, Human3.6M and random cameras, windows in RAM and chunk modes, with
    key-frames and virtual cameras, plus direct ``read``/``window`` calls. The same functions run here on
    the new store. Schema 1 filmed float64 world joints, schema 2 films their float32 rounding (what it
    stores): a world coordinate of at most ~4 m moves by <= 2.4e-7 m, i.e. <= 1.4e-4 px through a 1150 px
    focal length at 2 m. So 3D (metres) and screen-normalised 2D agree to 1e-5 absolute, and raw pixels to
    1e-5 normalised units, ``1e-5 * width / 2`` = 5e-3 px for the 1000 px wide Human3.6M images.
    """
    golden = np.load(GOLDEN)
    samples = {}
    for cameras, store in golden_stores.items():
        assert store.is_world_frame and "joints_3d" not in store.stored_arrays
        samples.update(sample_windows(store, cameras))
    assert sorted(samples) == sorted(golden.files)
    for key in golden.files:
        expected, actual = golden[key], samples[key]
        assert actual.shape == expected.shape and actual.dtype == expected.dtype, key
        if key.endswith("keypoints_2d"):  # raw pixels
            np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5 * PIXELS_PER_NORMALISED_UNIT, err_msg=key)
        else:
            np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5, err_msg=key)


def _bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in Path(directory).rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def h36m_views(tmp_path_factory):
    """The golden files' views with the four Human3.6M cameras, and the bytes of those three archive files."""
    root = tmp_path_factory.mktemp("views")
    views = convert_views(root, "h36m")
    archive = sum((root / "amass" / relative_path).stat().st_size for relative_path in GOLDEN_FILES)
    return views, archive


def test_store_is_at_most_035_of_the_archive(h36m_views, tmp_path):
    """Stored bytes per sequence frame no longer grow with the camera count.

    Schema 1 stored 4 x (17 x 3 + 17 x 2) float32 = 1360 B per sequence frame for 4 cameras (about 1.0x the
    archive, measured in docs/store.md); schema 2 stores 17 x 3 float32 = 204 B raw, which byte-shuffled zstd
    shrinks further, so the store must stay under 0.35x the archive with any number of cameras.
    """
    views, archive = h36m_views
    write_store(tmp_path / "store", views, "h36m17", get_skeleton("h36m17").joint_names)
    store = PoseStore(tmp_path / "store")
    sequence_frames = store.frames
    assert sequence_frames * 4 == sum(view.frames for view in views)  # one copy, not one per camera
    assert _bytes(tmp_path / "store" / "arrays.icechunk") < sequence_frames * 17 * 3 * 4
    assert _bytes(tmp_path / "store") <= 0.35 * archive


def test_the_world_array_does_not_depend_on_the_cameras(golden_stores):
    """The Human3.6M-camera and the random-camera stores of the same files hold the same world array."""
    checksums = [store.array_checksums() for store in golden_stores.values()]
    assert checksums[0] == checksums[1] and WORLD_ARRAY in checksums[0]
    h36m, random = golden_stores.values()
    assert h36m.index.num_rows == 4 * 3 and random.index.num_rows == 3 * 3
    assert h36m.view_range(0) == h36m.view_range(3) == random.view_range(2)  # one sequence, shared frames


def _camera_frame_store(directory: Path, views: list[View]) -> PoseStore:
    """A schema-1 store: camera-frame arrays of every view, ``schema_version`` 1."""
    camera_views = [replace(view, joints_world=None) for view in views]
    write_store(directory, camera_views, "h36m17", get_skeleton("h36m17").joint_names, chunk_frames=64)
    session = open_repository(directory).writable_session("main")
    zarr.open_group(session.store, mode="r+").attrs["schema_version"] = 1
    session.commit("as written by schema 1")
    return PoseStore(directory)


def test_migration_round_trip(h36m_views, golden_stores, tmp_path):
    """A schema-1 store is read as it is, and its migration equals the store written in world frames.

    The migrated world joints are ``R^T (X_cam - t)`` of float32 camera-frame joints: within ~1e-6 m of the
    converter's float32 world joints, so windows match the golden schema-1 windows to 1e-5.
    """
    views, _ = h36m_views
    old = _camera_frame_store(tmp_path / "v1", views)
    assert old.attributes["schema_version"] == 1 and not old.is_world_frame
    np.testing.assert_array_equal(old.read("joints_3d", 5), views[5].joints_3d)
    migrate_to_world_frames(old.directory, tmp_path / "v2")
    migrated = PoseStore(tmp_path / "v2")
    assert migrated.validate() == [] and migrated.is_world_frame
    assert migrated.attributes["migrated_from"]["schema_version"] == 1
    direct = golden_stores["h36m"]
    assert migrated.index.equals(direct.index)
    np.testing.assert_allclose(migrated.array(WORLD_ARRAY)[:], direct.array(WORLD_ARRAY)[:], rtol=0, atol=2e-6)
    golden = np.load(GOLDEN)
    for key, actual in sample_windows(migrated, "h36m").items():
        tolerance = 1e-5 * (PIXELS_PER_NORMALISED_UNIT if key.endswith("keypoints_2d") else 1.0)
        np.testing.assert_allclose(actual, golden[key], rtol=0, atol=tolerance, err_msg=key)


def test_migration_refuses_a_source_2d_and_disagreeing_views(h36m_views, tmp_path, make_views):
    """2D that is not the projection of the 3D (a source's own, here +2 px) stays; so do views of one
    sequence whose world joints differ (one camera's 3D moved 1 cm)."""
    own_2d = [replace(view, keypoints_2d=view.keypoints_2d + 2.0) for view in make_views([5, 6])]
    write_store(tmp_path / "own", own_2d, "h36m17", get_skeleton("h36m17").joint_names)
    with pytest.raises(MigrationError, match="View 0 .* source's own 2D"):
        migrate_to_world_frames(tmp_path / "own", tmp_path / "own_world")
    views, _ = h36m_views
    moved = [replace(view, joints_world=None) for view in views[:4]]
    moved[2] = replace(moved[2], joints_3d=moved[2].joints_3d + np.float32(0.01))
    moved[2] = replace(moved[2], keypoints_2d=film_world(world_from_view(moved[2].joints_3d, moved[2].camera),
                                                         moved[2].camera)[1])  # fmt: skip
    write_store(tmp_path / "moved", moved, "h36m17", get_skeleton("h36m17").joint_names)
    with pytest.raises(MigrationError, match=r"Views 0 and 2 .* differ by up to 0.01"):
        migrate_to_world_frames(tmp_path / "moved", tmp_path / "moved_world")


def test_validation_reports_views_sharing_frames_of_different_sequences(golden_stores, tmp_path):
    """In a world-frame store only views of one sequence may share a frame range."""
    shutil.copytree(golden_stores["random:3"].directory, tmp_path / "store")
    store = PoseStore(tmp_path / "store")
    index = store.index.set_column(
        store.index.schema.get_field_index("sequence"), "sequence",
        pa.array(["other" if row == 1 else name for row, name in enumerate(store.index["sequence"].to_pylist())]),
    )  # fmt: skip
    write_parquet(store.directory / INDEX_FILE, index)
    problems = PoseStore(store.directory).validate()
    assert [(problem.kind, problem.view_ids) for problem in problems] == [("overlap", (0, 1))]


def test_world_frames_survive_pickling_and_derived_arrays_are_not_zarr_arrays(golden_stores):
    """DataLoader workers get the frame source pickled: both modes gather the same batch after a round trip.

    A derived array has no single frame axis across cameras, so ``array`` refuses it and names ``read``.
    """
    import pickle

    from datasets.windows import PoseWindows, WindowConfig

    store = golden_stores["random:3"]
    start = store.view_range(5)[0]  # view 5 = index row 5: the second file's third camera
    positions, rows = np.array([[0, 1, 2], [start + 40, start + 41, start + 42]]), np.array([0, 5])
    batches = []
    for cache in ("memory", "chunks"):
        frames = PoseWindows(store, WindowConfig(frames=3, cache=cache)).frames
        assert frames.kind == f"world-{cache}"
        batches += [
            frames.gather(positions, rows, True),
            pickle.loads(pickle.dumps(frames)).gather(positions, rows, True),
        ]
    for batch in batches[1:]:
        for key, value in batches[0].items():
            np.testing.assert_array_equal(batch[key], value, err_msg=key)
    np.testing.assert_array_equal(batches[0]["root"][1], store.read("joints_3d", 5)[40:43, 0])
    with pytest.raises(KeyError, match=r"derives 'joints_3d' per view .* read\(\) or window\(\)"):
        store.array("joints_3d")


def test_two_sequences_with_one_name_are_not_merged():
    """Rows a, b (cameras c0, c1) of sequence "s", then again c0: the third row starts a second sequence of
    the same name, which would silently share the first's frames, so the layout refuses it."""
    from datasets.store.schema import frame_segments

    row = {"dataset": "amass", "subset": "CMU", "subject": "01", "sequence": "s", "length": 10}
    rows = [row | {"camera": camera} for camera in ("c0", "c1")]
    assert frame_segments(rows, world=True) == [0, 0] and frame_segments(rows, world=False) == [0, 1]
    with pytest.raises(ValueError, match="Views 0..2 .* camera 'c0' repeats"):
        frame_segments([*rows, row | {"camera": "c0"}], world=True)
