"""The pose store: bit-exact round trips, windows, layout, and validation that names views and frames."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zarr
from conftest import open_repository

from datasets.store import (
    PoseStore,
    StoreLayout,
    StoreSchemaError,
    array_specs,
    commit_store,
    create_store,
    index_table,
    view_arrays,
    view_row,
    write_block,
    write_store,
)
from datasets.store.schema import INDEX_FILE

JOINT_NAMES = [f"joint_{i}" for i in range(17)]


def write(tmp_path, views, chunk_frames=16):
    directory = tmp_path / "store"
    snapshot = write_store(directory, views, "h36m17", JOINT_NAMES, chunk_frames=chunk_frames)
    return PoseStore(directory, snapshot=snapshot)


def test_write_then_read_is_bit_exact(tmp_path, make_views):
    views = make_views([40, 7, 100], detections=["cpn"])
    store = write(tmp_path, views)
    assert store.frames == 147
    assert store.arrays == ("joints_3d", "keypoints_2d", "keypoints_2d_cpn")
    for view_id, view in enumerate(views):
        assert store.read("joints_3d", view_id).tobytes() == view.joints_3d.tobytes()
        assert store.read("keypoints_2d", view_id).tobytes() == view.keypoints_2d.tobytes()
        assert store.read("keypoints_2d_cpn", view_id).tobytes() == view.extra_keypoints["cpn"].tobytes()
    assert store.validate() == []


def test_valid_mask_is_stored_when_any_view_has_one(tmp_path, make_views):
    views = make_views([5, 4])
    views[0].valid = np.array([True, False, True, True, False])
    store = write(tmp_path, views)
    np.testing.assert_array_equal(store.read("valid", 0), views[0].valid)
    np.testing.assert_array_equal(store.read("valid", 1), [True] * 4)  # a view without a mask: all valid


def test_index_rows_carry_identity_offsets_and_camera(tmp_path, make_views):
    views = make_views([5, 6, 7])
    store = write(tmp_path, views)
    index = store.index.to_pylist()
    # Offsets are running sums of the lengths: 0, 5, 5 + 6.
    assert [row["start"] for row in index] == [0, 5, 11]
    assert [row["length"] for row in index] == [5, 6, 7]
    assert [row["split"] for row in index] == ["train", "test", "train"]
    assert index[1]["camera"] == "camera_1"
    assert index[0]["R"] == [1.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0]
    assert index[0]["t"] == [0.0, 1.0, 4.0]
    assert (index[0]["fx"], index[0]["cx"], index[0]["width"]) == (1000.0, 500.0, 1000)
    assert store.attributes["skeleton"] == "h36m17"
    assert store.attributes["units"]["joints_3d"].startswith("metres")


def test_window_inside_and_padded_at_both_ends(tmp_path, make_views):
    views = make_views([10, 12])
    store = write(tmp_path, views)
    frames = views[1].joints_3d
    np.testing.assert_array_equal(store.window("joints_3d", 1, 2, 5), frames[2:7])
    # Window of 6 starting 3 frames before the view: 3 copies of frame 0, then frames 0, 1, 2.
    np.testing.assert_array_equal(store.window("joints_3d", 1, -3, 6), frames[[0, 0, 0, 0, 1, 2]])
    # Window running 2 frames past the end (frames 9, 10, 11, then 11, 11).
    np.testing.assert_array_equal(store.window("joints_3d", 1, 9, 5), frames[[9, 10, 11, 11, 11]])
    # Both ends at once, zero padding: 2 zero frames, the 12 frames, 3 zero frames.
    zero = store.window("joints_3d", 1, -2, 17, pad="zero")
    assert zero.shape == (17, 17, 3)
    np.testing.assert_array_equal(zero[2:14], frames)
    assert not zero[:2].any() and not zero[14:].any()
    # Entirely outside the view: edge padding repeats the nearest frame, never the neighbouring view's.
    np.testing.assert_array_equal(store.window("joints_3d", 1, 20, 3), frames[[11, 11, 11]])
    np.testing.assert_array_equal(store.window("joints_3d", 1, -10, 2), frames[[0, 0]])


def test_layout_blocks_are_chunk_aligned_and_tile_the_frames():
    layout = StoreLayout((5, 30, 1, 20), chunk_frames=16)
    assert list(layout.starts) == [0, 5, 35, 36]
    assert layout.blocks() == [(0, 16), (16, 32), (32, 48), (48, 56)]
    assert layout.blocks(chunks_per_block=2) == [(0, 32), (32, 56)]
    # Block 32..48 holds the end of view 1 (5..35), view 2 (35) and the start of view 3 (36..56).
    assert layout.views_in(32, 48) == [1, 2, 3]


def test_parallel_forked_block_writes_equal_serial_write(tmp_path, make_views):
    views = make_views([5, 30, 1, 20])
    serial = write(tmp_path / "serial", views)
    layout = StoreLayout(tuple(view.frames for view in views), chunk_frames=16)
    specs = array_specs(views)
    directory = tmp_path / "forked"
    index = index_table([view_row(view) for view in views])
    repository = create_store(directory, index, specs, "h36m17", JOINT_NAMES, chunk_frames=16)
    session = repository.writable_session("main")
    forks = []
    for block in reversed(layout.blocks()):  # any order: blocks are disjoint
        fork = session.fork()
        write_block(fork.store, layout, block, lambda view_id: view_arrays(views[view_id]), specs)
        forks.append(fork)
    snapshot = commit_store(repository, forks, "parallel write", {"lineage": "test"})
    forked = PoseStore(directory, snapshot=snapshot)
    assert forked.array_checksums() == serial.array_checksums()
    history = list(open_repository(directory).ancestry(branch="main"))
    assert history[0].message == "parallel write" and history[0].metadata == {"lineage": "test"}


def test_checksums_ignore_chunking_but_see_values(tmp_path, make_views):
    views = make_views([9, 23])
    small_chunks = write(tmp_path / "a", views, chunk_frames=4)
    large_chunks = write(tmp_path / "b", views, chunk_frames=64)
    assert small_chunks.array_checksums() == large_chunks.array_checksums()
    views[1].joints_3d[3, 2, 1] += 1e-3
    changed = write(tmp_path / "c", views, chunk_frames=4)
    assert changed.array_checksums()["joints_3d"] != small_chunks.array_checksums()["joints_3d"]
    assert changed.array_checksums()["keypoints_2d"] == small_chunks.array_checksums()["keypoints_2d"]


def tamper_index(store: PoseStore, **columns) -> PoseStore:
    index = store.index
    for name, values in columns.items():
        index = index.set_column(index.column_names.index(name), name, pa.array(values, pa.int64()))
    pq.write_table(index, store.directory / INDEX_FILE)
    return PoseStore(store.directory)


def test_validate_reports_a_gap_between_views(tmp_path, make_views):
    store = tamper_index(write(tmp_path, make_views([10, 10, 10])), length=[8, 10, 10])
    problems = store.validate()
    assert [(p.kind, p.view_ids, p.frames) for p in problems] == [("gap", (0, 1), (8, 9))]
    assert "between view 0 and view 1" in problems[0].message


def test_validate_reports_an_overlap(tmp_path, make_views):
    store = tamper_index(write(tmp_path, make_views([10, 10, 10])), start=[0, 10, 15], length=[10, 7, 15])
    # View 1 covers frames 10..16 and view 2 starts at 15: frames 15 and 16 belong to both.
    problems = store.validate()
    assert [(p.kind, p.view_ids, p.frames) for p in problems] == [("overlap", (1, 2), (15, 16))]
    assert "view 2 starts at frame 15" in problems[0].message.lower()


def test_validate_reports_a_nan_frame_with_its_view(tmp_path, make_views):
    views = make_views([10, 10, 10])
    views[2].joints_3d[4, 0, 0] = np.nan
    views[2].joints_3d[5, 3, 2] = np.inf
    problems = write(tmp_path, views).validate()
    assert [(p.kind, p.view_ids, p.array, p.frames) for p in problems] == [("non_finite", (2,), "joints_3d", (4, 5))]


def test_validate_reports_a_wrong_dtype_with_the_views(tmp_path, make_views):
    store = write(tmp_path, make_views([6, 4]))
    session = open_repository(store.directory).writable_session("main")
    root = zarr.open_group(session.store, mode="r+")
    del root["keypoints_2d"]
    root.create_array("keypoints_2d", data=np.zeros((10, 17, 2), np.float64), chunks=(16, 17, 2))
    session.commit("corrupt dtype")
    problems = PoseStore(store.directory).validate()
    assert [(p.kind, p.array, p.view_ids) for p in problems] == [("dtype", "keypoints_2d", (0, 1))]
    assert "float64" in problems[0].message and "views 0..1" in problems[0].message


def test_reader_refuses_other_schema_versions(tmp_path, make_views):
    store = write(tmp_path, make_views([3]))
    session = open_repository(store.directory).writable_session("main")
    zarr.open_group(session.store, mode="r+").attrs["schema_version"] = 99
    session.commit("future schema")
    with pytest.raises(StoreSchemaError, match="schema version 99"):
        PoseStore(store.directory)


def test_store_reopens_after_pickling_at_the_same_snapshot(tmp_path, make_views):
    import pickle

    views = make_views([4, 4])
    store = write(tmp_path, views)
    clone = pickle.loads(pickle.dumps(store))
    np.testing.assert_array_equal(clone.read("joints_3d", 1), views[1].joints_3d)
    assert clone.snapshot == store.snapshot


def test_views_with_different_detections_are_refused(make_views):
    views = make_views([3, 3], detections=["cpn"])
    views[1].extra_keypoints.clear()
    with pytest.raises(ValueError, match="same arrays"):
        array_specs(views)


def test_per_frame_arrays_of_the_source_are_stored_with_their_dtype(tmp_path, make_views):
    views = make_views([3, 2])
    views[0].per_frame["activity"] = np.array([1, 2, 7], np.int16)
    views[1].per_frame["activity"] = np.array([4, 4], np.int16)
    store = write(tmp_path, views)
    assert store.read("activity", 0).dtype == np.int16
    np.testing.assert_array_equal(store.read("activity", 1), [4, 4])
    assert store.validate() == []


def test_a_per_frame_array_some_views_lack_holds_the_fill_value_there(tmp_path, make_views):
    views = make_views([2, 3])
    views[1].per_frame["activity"] = np.array([3, 3, 5], np.int16)
    store = write(tmp_path, views)
    np.testing.assert_array_equal(store.read("activity", 0), [0, 0])
    np.testing.assert_array_equal(store.read("activity", 1), [3, 3, 5])
