"""The lifting codec: pixels to model input, joints to root-relative targets and back (values derived by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from datasets.windows.codec import encode_keypoints, normalise_keypoints, restore_root, root_relative, split_root


def test_encode_keypoints_maps_pixels_to_screen_coordinates_and_drops_confidence():
    """A 1000 x 500 image: x = u / 1000 * 2 - 1, y = v / 1000 * 2 - 500 / 1000.

    (0, 0) -> (-1, -0.5); (1000, 500) -> (1, 0.5); (250, 125) -> (-0.5, -0.25); the centre (500, 250) -> (0, 0).
    A third (confidence) channel is dropped.
    """
    pixels = np.array([[[0, 0, 0.9], [1000, 500, 0.1], [250, 125, 1.0], [500, 250, 0.5]]], dtype=np.float64)
    encoded = encode_keypoints(pixels, width=1000, height=500)
    assert encoded.dtype == np.float32 and encoded.shape == (1, 4, 2)
    np.testing.assert_array_equal(encoded[0], [[-1, -0.5], [1, 0.5], [-0.5, -0.25], [0, 0]])


def test_normalise_keypoints_uses_each_windows_own_image_size():
    """Window 0 from a 1000 x 1000 image, window 1 from a 500 x 1000 image: the same pixel (250, 250) gives
    (-0.5, -0.5) in the first (250 / 500 - 1, 250 / 500 - 1) and (0, -1) in the second (500 / 500 - 1,
    500 / 500 - 2)."""
    keypoints = np.full((2, 3, 1, 2), 250.0, dtype=np.float32)  # (B, T, J, 2)
    encoded = normalise_keypoints(keypoints, np.array([1000, 500]), np.array([1000, 1000]))
    np.testing.assert_array_equal(encoded[0], np.full((3, 1, 2), [-0.5, -0.5]))
    np.testing.assert_array_equal(encoded[1], np.full((3, 1, 2), [0.0, -1.0]))
    np.testing.assert_array_equal(encoded[1, 0], encode_keypoints(keypoints[1, 0], 500, 1000))


@pytest.mark.parametrize("in_place", [False, True])
def test_split_root_and_restore_root_invert_each_other(in_place):
    """Root joint 1 at (1, 2, 3) in frame 0 and (0, 0, 1) in frame 1; joint 0 half a metre to its left in x."""
    joints = np.array([[[0.5, 2, 3], [1, 2, 3]], [[-0.5, 0, 1], [0, 0, 1]]], dtype=np.float32)  # (T=2, J=2, 3)
    original = joints.copy()
    relative, trajectory = split_root(joints, root=1, in_place=in_place)
    np.testing.assert_array_equal(trajectory, [[1, 2, 3], [0, 0, 1]])
    np.testing.assert_array_equal(relative, [[[-0.5, 0, 0], [0, 0, 0]], [[-0.5, 0, 0], [0, 0, 0]]])
    np.testing.assert_array_equal(root_relative(original, 1), relative)
    np.testing.assert_array_equal(restore_root(relative, trajectory), original)
    assert (relative is joints) == in_place
