"""Windows over pose stores: layout, padding, key-frames, flips, sampling, mixing, virtual cameras, loading."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from conftest import synthetic_views
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.cameras import pixels_to_normalized, project
from datasets.skeletons import get_skeleton
from datasets.store import PoseStore, write_store
from datasets.windows import (
    PoseWindows,
    VirtualCameraConfig,
    WindowBatchSampler,
    WindowConfig,
    WindowMixture,
    append_flipped,
    counter_uniform,
    flip_poses,
    flip_windows,
    key_frame_masks,
    make_window_loader,
    window_frames,
    window_layout,
)

LENGTHS = (100, 37, 64, 9)


@pytest.fixture(scope="module")
def store_and_views(tmp_path_factory):
    """Four views (lengths 100, 37, 64, 9) of random-walk joints in front of a 1000 x 1000 pinhole camera."""
    views = synthetic_views(LENGTHS, seed=3)
    directory = tmp_path_factory.mktemp("windows") / "store"
    write_store(directory, views, "h36m17", get_skeleton("h36m17").joint_names, chunk_frames=32)
    return PoseStore(directory), views


def _expected_window(view, frames):
    """Normalised 2D and root-relative 3D of a view at (clamped) frames, computed directly."""
    clamped = np.clip(frames, 0, view.frames - 1)
    keypoints = pixels_to_normalized(view.keypoints_2d[clamped], 1000, 1000)
    joints = view.joints_3d[clamped]
    return keypoints, joints - joints[:, :1]


def test_window_frames_and_clip_layout_golden():
    """N = 11, s_out = 5 gives 3 poses at centre - 5, centre, centre + 5: centre 7 -> [2, 7, 12].

    Clips of T = 27 over 100 frames: ceil(100 / 27) = 4 clips cover 108 frames, 8 too many, 4 on each side, so
    starts are -4, 23, 50, 77 and centres 9, 36, 63, 90; each real frame is in exactly one clip.
    """
    config = WindowConfig(frames=11, output_stride=5)
    assert window_frames(np.array([7]), config).tolist() == [[2, 7, 12]]
    clips = WindowConfig(frames=27, sampling="clips")
    counts, first, interval = window_layout(np.array([100]), clips)
    centres = first[0] + np.arange(counts[0]) * interval
    assert centres.tolist() == [9, 36, 63, 90]
    covered = window_frames(centres, clips).ravel()
    assert np.bincount(covered[(covered >= 0) & (covered < 100)], minlength=100).tolist() == [1] * 100


@pytest.mark.parametrize("cache", ["memory", "chunks"])
def test_windows_equal_direct_slicing_with_edge_padding(store_and_views, cache):
    """Every window equals the view's frames sliced by hand (edge-clamped), normalised and root-relative."""
    store, views = store_and_views
    config = WindowConfig(frames=21, output_stride=2, cache=cache, centre_interval=3)
    windows = PoseWindows(store, config, splits=("train", "test"))
    assert windows.frames.kind == cache
    batch = windows.__getitems__(list(range(len(windows))))
    assert len(windows) == sum(-(-length // 3) for length in LENGTHS)
    for number in range(len(windows)):
        view = views[int(batch["view_id"][number])]
        frames = window_frames(batch["centre_frame"][number : number + 1], config)[0]
        keypoints, joints = _expected_window(view, frames)
        np.testing.assert_allclose(batch["keypoints"][number], keypoints, rtol=0, atol=1e-6)
        np.testing.assert_allclose(batch["joints_3d"][number], joints, rtol=0, atol=1e-6)
        assert batch["in_view"][number].tolist() == ((frames >= 0) & (frames < view.frames)).tolist()


@pytest.mark.parametrize("cache_chunks", [2, 3, 64])
def test_chunk_cache_of_any_size_gives_the_ram_windows_exactly(store_and_views, cache_chunks):
    """210 frames in chunks of 32 make 7 chunks. With 2 or 3 cache slots a batch of every window is gathered in
    rounds (4 or 3) and slots are reused; either way every array equals the RAM source's, bit for bit, and a
    second batch in another order (hits and evictions mixed) does too."""
    store, _ = store_and_views
    config = WindowConfig(frames=21, output_stride=2, centre_interval=3, include_root=True)
    memory = PoseWindows(store, dataclasses.replace(config, cache="memory"), splits=("train", "test"))
    chunks = PoseWindows(
        store, dataclasses.replace(config, cache="chunks", cache_chunks=cache_chunks), ("train", "test")
    )
    everything = list(range(len(memory)))
    for keys in (everything, everything[::-3]):
        expected, actual = memory.__getitems__(keys), chunks.__getitems__(keys)
        assert sorted(actual) == sorted(expected)
        for name, value in expected.items():
            np.testing.assert_array_equal(actual[name], value, err_msg=name)
    assert len(chunks.frames._slots) == min(cache_chunks, 7)


def test_zero_padding_zeroes_inputs_outside_the_view_only(store_and_views):
    """A window centred on frame 0 with N = 9: poses -4..-1 are outside; zero padding zeroes exactly their 2D."""
    store, _ = store_and_views
    edge = PoseWindows(store, WindowConfig(frames=9), splits=("train",))
    zero = PoseWindows(store, WindowConfig(frames=9, padding="zero"), splits=("train",))
    edge_batch, zero_batch = edge.gather(np.array([0])), zero.gather(np.array([0]))
    assert zero_batch["in_view"][0].tolist() == [False] * 4 + [True] * 5
    assert np.all(zero_batch["keypoints"][0, :4] == 0)
    np.testing.assert_array_equal(zero_batch["keypoints"][0, 4:], edge_batch["keypoints"][0, 4:])
    np.testing.assert_array_equal(edge_batch["keypoints"][0, :4], np.repeat(edge_batch["keypoints"][0, 4:5], 4, 0))
    np.testing.assert_array_equal(zero_batch["joints_3d"], edge_batch["joints_3d"])  # 3D targets always edge


def test_key_frame_masks_golden():
    """Global: frames 0, 5, ..., 20 with s_in = 10 are key at 0, 10, 20. Centre (5 poses, s_out 5, s_in 10 so a gap
    of 2 poses): relative poses -2..2 are key at -2, 0, 2; a shift of -1 moves them to -1, 1."""
    frames = np.array([[0, 5, 10, 15, 20]])
    global_config = WindowConfig(frames=21, output_stride=5, input_strides=(10,), key_frame_alignment="global")
    assert key_frame_masks(frames, np.array([10]), global_config).astype(int).tolist() == [[1, 0, 1, 0, 1]]
    centre_config = WindowConfig(frames=21, output_stride=5, input_strides=(10,))
    assert key_frame_masks(frames, np.array([10]), centre_config).astype(int).tolist() == [[1, 0, 1, 0, 1]]
    shifted = key_frame_masks(frames, np.array([10]), centre_config, np.array([-1]))
    assert shifted.astype(int).tolist() == [[0, 1, 0, 1, 0]]


def test_random_key_frames_are_per_window_and_hide_inputs(store_and_views):
    """A window's input stride and shift depend only on (seed, epoch, index): alone or batched, the same.

    With s_in in {5, 10, 20} and s_out = 5 all three strides occur; non-key poses carry zero 2D, and the window
    has (tokens - 1) / (s_in / s_out) + 1 key-frames when the shift is 0.
    """
    store, _ = store_and_views
    config = WindowConfig(frames=41, output_stride=5, input_strides=(5, 10, 20), random_key_frame_shift=True)
    windows = PoseWindows(store, config, splits=("train", "test"), seed=7)
    keys = [(2, index) for index in range(len(windows))]
    batch = windows.__getitems__(keys)
    alone = [windows[key] for key in keys[:20]]
    assert [int(window["input_stride"]) for window in alone] == batch["input_stride"][:20].tolist()
    assert all(np.array_equal(window["key_frame_mask"], batch["key_frame_mask"][n]) for n, window in enumerate(alone))
    assert set(batch["input_stride"].tolist()) == {5, 10, 20}
    assert np.all(batch["keypoints"][~batch["key_frame_mask"]] == 0)
    other_epoch = windows.__getitems__([(3, index) for index in range(len(windows))])
    assert not np.array_equal(other_epoch["input_stride"], batch["input_stride"])
    centred = WindowConfig(frames=41, output_stride=5, input_strides=(20,))
    mask = PoseWindows(store, centred, splits=("train",)).gather(np.array([50]))["key_frame_mask"][0]
    assert mask.astype(int).tolist() == [1, 0, 0, 0, 1, 0, 0, 0, 1]


def test_counter_uniform_is_deterministic_and_stream_specific():
    """Same (seed, epoch, index, stream) -> same numbers in [0, 1); another stream or epoch -> others."""
    indices = np.arange(1000)
    first = counter_uniform(5, 1, indices, stream=1)
    np.testing.assert_array_equal(first, counter_uniform(5, 1, indices, stream=1))
    assert first.min() >= 0 and first.max() < 1 and len(np.unique(first)) == 1000
    assert not np.array_equal(first, counter_uniform(5, 1, indices, stream=2))
    assert not np.array_equal(first, counter_uniform(5, 2, indices, stream=1))


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=2**31 - 1))
def test_flip_twice_returns_the_window(seed):
    """Negation and a permutation that is its own inverse: flipping twice is exact identity (numpy and torch)."""
    rng = np.random.default_rng(seed)
    batch = {
        "keypoints": rng.normal(size=(3, 5, 17, 2)).astype(np.float32),
        "joints_3d": rng.normal(size=(3, 5, 17, 3)).astype(np.float32),
        "root": rng.normal(size=(3, 5, 3)).astype(np.float32),
        "key_frame_mask": rng.random((3, 5)) > 0.5,
    }
    permutation = get_skeleton("h36m17").flip_permutation
    twice = flip_windows(flip_windows(batch, permutation), permutation)
    for key, value in batch.items():
        np.testing.assert_array_equal(twice[key], value)
    tensor = torch.from_numpy(batch["joints_3d"])
    assert torch.equal(flip_poses(flip_poses(tensor, permutation), permutation), tensor)
    assert not np.array_equal(flip_windows(batch, permutation)["joints_3d"], batch["joints_3d"])


def test_flip_swaps_left_and_right_joints_and_negates_x_by_hand():
    """Human3.6M's 17 joints: right hip/knee/ankle are 1-3 and left 4-6, left shoulder/elbow/wrist 11-13 and
    right 14-16; pelvis, spine, thorax, neck and head (0, 7-10) are their own mirror images. Joint j at
    (j, 10 + j, 20 + j) metres: the flipped right hip (1) takes the left hip's (4) point with x negated,
    (-4, 14, 24), the flipped left wrist (13) the right wrist's (16), (-16, 26, 36), the pelvis stays at
    (-0, 10, 20); 2D (j, 10 + j) alike, and the root (x, y, z) becomes (-x, y, z)."""
    mirror = [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]
    joints = np.arange(17, dtype=np.float32)
    poses = np.stack([joints, 10 + joints, 20 + joints], axis=-1)[None, None]  # (1, 1, 17, 3)
    batch = {"keypoints": poses[..., :2].copy(), "joints_3d": poses, "root": np.array([[[1.0, 2.0, 3.0]]])}
    flipped = flip_windows(batch, get_skeleton("h36m17").flip_permutation)
    expected = np.stack([-joints[mirror], 10 + joints[mirror], 20 + joints[mirror]], axis=-1)
    np.testing.assert_array_equal(flipped["joints_3d"][0, 0], expected)
    np.testing.assert_array_equal(flipped["keypoints"][0, 0], expected[:, :2])
    assert flipped["joints_3d"][0, 0, 1].tolist() == [-4.0, 14.0, 24.0]
    assert flipped["joints_3d"][0, 0, 13].tolist() == [-16.0, 26.0, 36.0]
    assert flipped["root"].tolist() == [[[-1.0, 2.0, 3.0]]]


def test_flipped_2d_is_projection_of_flipped_3d(store_and_views):
    """The store's camera has no distortion and cx = width / 2 = 500: mirroring the camera frame (X -> -X) and
    projecting gives exactly the mirrored screen coordinates (x -> -x), joints swapped alike."""
    store, _ = store_and_views
    windows = PoseWindows(store, WindowConfig(frames=15, include_root=True), splits=("train", "test"))
    batch = windows.gather(np.arange(0, len(windows), 7))
    flipped = flip_windows(batch, windows.flip_permutation)
    absolute = flipped["joints_3d"] + flipped["root"][:, :, None]
    camera = synthetic_views([1])[0].camera
    projected = pixels_to_normalized(project(absolute.astype(np.float64), camera), 1000, 1000)
    np.testing.assert_allclose(flipped["keypoints"], projected, rtol=0, atol=2e-6)
    left, right = get_skeleton("h36m17").index("left_wrist"), get_skeleton("h36m17").index("right_wrist")
    assert flipped["keypoints"][0, 0, left, 0] == -batch["keypoints"][0, 0, right, 0]


def test_append_flipped_second_half_is_flipped_first_half():
    """Tensors on any device: rows B..2B-1 of the result are flip(rows 0..B-1); masks are repeated."""
    permutation = get_skeleton("h36m17").flip_permutation
    batch = {
        "keypoints": torch.randn(2, 3, 17, 2),
        "joints_3d": torch.randn(2, 3, 17, 3),
        "view_id": torch.tensor([4, 5]),
    }
    doubled = append_flipped(batch, permutation)
    assert doubled["view_id"].tolist() == [4, 5, 4, 5]
    assert torch.equal(doubled["joints_3d"][2:], flip_poses(batch["joints_3d"], permutation))
    assert torch.equal(doubled["keypoints"][:2], batch["keypoints"])


def test_batch_sampler_orders_resumes_and_shards():
    """An epoch visits every window once; the order depends on (seed, epoch) only; set_epoch(e, k) yields the
    same batches minus the first k; two ranks take the two halves of every batch."""
    sampler = WindowBatchSampler([10, 6], batch_size=4, seed=1)
    sampler.set_epoch(3)
    batches = list(sampler)
    assert len(batches) == 4 and sorted(index for batch in batches for _, index in batch) == list(range(16))
    assert all(epoch == 3 for batch in batches for epoch, _ in batch)
    sampler.set_epoch(3, start_batch=2)
    assert list(sampler) == batches[2:] and len(sampler) == 2
    sampler.set_epoch(4)
    assert list(sampler) != batches
    ranks = [WindowBatchSampler([10, 6], batch_size=4, seed=1, rank=rank, world_size=2) for rank in (0, 1)]
    for rank in ranks:
        rank.set_epoch(3)
    for whole, first, second in zip(batches, *ranks, strict=True):
        assert first + second == whole


def test_weighted_mixture_draws_the_shares_and_gathers_each_store(store_and_views):
    """Weights 3 : 1 over 400 samples give exactly 300 and 100 windows; a mixture batch equals each dataset's
    own windows at the local indices, with ``source`` naming the dataset."""
    store, _ = store_and_views
    first = PoseWindows(store, WindowConfig(frames=5), splits=("train",))
    second = PoseWindows(store, WindowConfig(frames=5), splits=("test",))
    mixture = WindowMixture([first, second])
    sampler = WindowBatchSampler([len(first), len(second)], 40, weights=[3.0, 1.0], samples_per_epoch=400)
    order = sampler.epoch_order(0)
    assert (order < len(first)).sum() == 300 and (order >= len(first)).sum() == 100
    keys = [(0, int(index)) for index in order[:40]]
    batch = mixture.__getitems__(keys)
    for number, (_, index) in enumerate(keys):
        source = int(index >= len(first))
        local = index - source * len(first)
        expected = (first, second)[source].gather(np.array([local]))
        assert batch["source"][number] == source
        np.testing.assert_array_equal(batch["joints_3d"][number], expected["joints_3d"][0])


def test_virtual_cameras_turn_the_subject_and_project_consistently(store_and_views):
    """Yaw 0 reproduces the store; any yaw keeps bone lengths, keeps the centre root fixed, and the new 2D is the
    projection of the new 3D. Yaw +-180 degrees on a camera looking horizontally at the pivot mirrors depth about
    it: the centre root stays, a joint in front of it moves behind it."""
    store, _ = store_and_views
    plain = PoseWindows(store, WindowConfig(frames=7, include_root=True), splits=("train",))
    still = PoseWindows(
        store, WindowConfig(frames=7, virtual_cameras=VirtualCameraConfig((0.0, 0.0))), splits=("train",)
    )
    turned = PoseWindows(
        store, WindowConfig(frames=7, virtual_cameras=VirtualCameraConfig((30.0, 120.0))), splits=("train",)
    )
    indices = np.arange(0, len(plain), 5)
    reference, unchanged, moved = plain.gather(indices), still.gather(indices), turned.gather(indices)
    np.testing.assert_allclose(unchanged["keypoints"], reference["keypoints"], atol=1e-5)
    np.testing.assert_allclose(unchanged["joints_3d"], reference["joints_3d"], atol=1e-6)
    bones = np.array(get_skeleton("h36m17").bones)
    length = lambda joints: np.linalg.norm(joints[..., bones[:, 1], :] - joints[..., bones[:, 0], :], axis=-1)  # noqa: E731
    np.testing.assert_allclose(length(moved["joints_3d"]), length(reference["joints_3d"]), atol=1e-5)
    np.testing.assert_allclose(moved["root"][:, 3], reference["root"][:, 3], atol=1e-6)
    assert np.abs(moved["joints_3d"] - reference["joints_3d"]).max() > 1e-3
    camera = synthetic_views([1])[0].camera
    absolute = (moved["joints_3d"] + moved["root"][:, :, None]).astype(np.float64)
    np.testing.assert_allclose(
        moved["keypoints"], pixels_to_normalized(project(absolute, camera), 1000, 1000), atol=2e-5
    )


def test_loader_yields_the_gathered_batches_from_a_worker(store_and_views):
    """A worker process returns the same tensors as gathering in this process (frames in RAM)."""
    store, _ = store_and_views
    windows = PoseWindows(store, WindowConfig(frames=9, input_strides=(1, 2), random_key_frame_shift=True))
    sampler = WindowBatchSampler([len(windows)], batch_size=16, seed=2)
    sampler.set_epoch(1)
    expected = [windows.__getitems__(keys) for keys in sampler]
    loaded = list(make_window_loader(windows, sampler, num_workers=1))
    assert len(loaded) == len(expected)
    for batch, reference in zip(loaded, expected, strict=True):
        assert torch.equal(batch["keypoints"], torch.from_numpy(reference["keypoints"]))
        assert torch.equal(batch["input_stride"], torch.from_numpy(reference["input_stride"]))


def test_config_rejects_contradictions_by_name():
    """Each rule names its value."""
    with pytest.raises(ValueError, match="frames - 1 must be a multiple of output_stride"):
        WindowConfig(frames=10, output_stride=2)
    with pytest.raises(ValueError, match="input_strides must be positive multiples of output_stride=5"):
        WindowConfig(frames=11, output_stride=5, input_strides=(5, 7))
    with pytest.raises(ValueError, match="random_key_frame_shift=True contradicts key_frame_alignment='global'"):
        WindowConfig(frames=11, input_strides=(2,), random_key_frame_shift=True, key_frame_alignment="global")


def test_missing_split_is_named(store_and_views):
    """Asking for a split the store lacks names the splits it has."""
    store, _ = store_and_views
    with pytest.raises(ValueError, match=r"no views in splits \['validation'\].*\['test', 'train'\]"):
        PoseWindows(store, WindowConfig(frames=5), splits=("validation",))
