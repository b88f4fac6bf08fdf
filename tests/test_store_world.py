"""World-frame pose stores (schema 2): AMASS sequences stored once, each virtual camera derived on read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.golden.make_amass_store_golden import GOLDEN_CAMERAS, build_store, sample_windows

GOLDEN = Path(__file__).parent / "golden" / "amass_store_windows.npz"
PIXELS_PER_NORMALISED_UNIT = 1000 / 2
"""Half the width of the Human3.6M images every demo camera takes its intrinsics from."""


@pytest.fixture(scope="module")
def golden_stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    return {cameras: build_store(root, cameras) for cameras in GOLDEN_CAMERAS}


def test_windows_equal_those_of_the_camera_frame_schema(golden_stores):
    """Windows and reads of today's world-frame store equal the golden ones of a schema-1 store.

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
