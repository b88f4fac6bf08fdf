"""Regressor files: both row orders, Fortran order, bad files, and the left/right sanity check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from datasets.amass.body_model import load_body_model, model_file
from datasets.amass.regressor import SPIN_TO_H36M, load_regressor, regressor_side_warning
from datasets.skeletons import H36MJoint
from datasets.synthetic.body_model import write_body_models, write_h36m_regressor


@pytest.fixture(scope="module")
def neutral_model(tmp_path_factory):
    root = write_body_models(tmp_path_factory.mktemp("models"), ("neutral",), (), ())
    return load_body_model(model_file(root, "smplh", "neutral"), "smplh")


def test_spin_order_is_reordered_to_the_standard_order(tmp_path: Path):
    """Row k of the file is k * ones: read as SPIN, standard row 1 (right hip) is SPIN row 4 and standard
    row 4 (left hip) is SPIN row 1, i.e. [0, 4, 5, 6, 1, 2, 3, 7, ..., 16] (docs/formats.md 5.6)."""
    rows = np.asfortranarray(np.arange(17.0)[:, None] * np.ones((17, 5)))
    np.save(tmp_path / "spin.npy", rows)
    standard = load_regressor(tmp_path / "spin.npy", "spin")
    assert standard[:, 0].tolist() == [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
    assert standard.flags.c_contiguous and standard.dtype == np.float64
    np.testing.assert_array_equal(load_regressor(tmp_path / "spin.npy", "h36m"), rows)
    assert list(SPIN_TO_H36M) == [SPIN_TO_H36M.index(k) for k in range(17)]  # the swap is its own inverse


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (np.ones((24, 10)), "must be a numeric \\(17, V\\)"),
        (np.ones(17), "must be a numeric \\(17, V\\)"),
        (np.full((17, 10), np.nan), "NaN or infinite"),
        (np.array([{"not": "numbers"}], dtype=object), "not a readable .npy"),
    ],
)
def test_bad_regressor_files_raise(tmp_path: Path, content, message):
    path = tmp_path / "regressor.npy"
    np.save(path, content, allow_pickle=True)  # writing a hostile third-party file on purpose
    with pytest.raises(ValueError, match=message):
        load_regressor(path, "h36m")


def test_unknown_order_raises(tmp_path: Path):
    with pytest.raises(ValueError, match="regressor order must be one of"):
        load_regressor(tmp_path / "missing.npy", "coco")


def test_side_check_accepts_the_right_order_and_flags_the_wrong_one(tmp_path: Path, neutral_model):
    """The synthetic file is in SPIN order: read as SPIN the left hip lies on the body's left (+x in the
    template), read as H36M the legs are swapped and the check says so, naming the fix."""
    path = write_h36m_regressor(tmp_path / "J_regressor_h36m.npy", "spin")
    right = load_regressor(path, "spin")
    assert regressor_side_warning(right, neutral_model) is None
    regressed = right @ neutral_model.v_template
    assert regressed[H36MJoint.LEFT_HIP, 0] > 0 > regressed[H36MJoint.RIGHT_HIP, 0]
    message = regressor_side_warning(load_regressor(path, "h36m"), neutral_model)
    assert message is not None and "--regressor-order spin" in message
