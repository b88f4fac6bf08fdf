"""The licence-free body model files: AMASS's keys and shapes, plausible anatomy, determinism, regressor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from datasets.amass.regressor import SPIN_TO_H36M
from datasets.skeletons import H36MJoint, get_skeleton, joint_mapping
from datasets.synthetic.body_model import (
    UINT32_ROOT_PARENT,
    dmpl_arrays,
    h36m_regressor,
    smplh_model_arrays,
    smplx_model_arrays,
    write_body_models,
    write_h36m_regressor,
)
from datasets.synthetic.body_template import GENDERS, build_template, skinning_weights


@pytest.fixture(scope="module")
def smplh() -> dict[str, dict[str, np.ndarray]]:
    return {gender: smplh_model_arrays(gender) for gender in GENDERS}


def test_smplh_file_has_amass_keys_and_shapes(smplh):
    """docs/formats.md 5.2: v_template (V,3), f, J_regressor (52,V), kintree_table (2,52), weights (V,52),
    posedirs (V,3,459 = 51 x 9), shapedirs (V,3,16), J_regressor_prior (24,V), weights_prior (V,24)."""
    arrays = smplh["female"]
    vertices = len(arrays["v_template"])
    expected = {
        "v_template": (vertices, 3), "J_regressor": (52, vertices), "kintree_table": (2, 52),
        "weights": (vertices, 52), "posedirs": (vertices, 3, 459), "shapedirs": (vertices, 3, 16),
        "J": (52, 3), "J_regressor_prior": (24, vertices), "weights_prior": (vertices, 24),
    }  # fmt: skip
    assert {key: arrays[key].shape for key in expected} == expected
    assert arrays["f"].shape[1] == 3 and arrays["f"].max() == vertices - 1
    assert 1000 <= vertices <= 3000
    assert str(arrays["bs_style"]) == "lbs" and str(arrays["bs_type"]) == "lrotmin"
    assert not any(array.dtype == object for array in arrays.values())


def test_kintree_is_the_smplh_tree_with_uint32_root(smplh):
    table = smplh["male"]["kintree_table"]
    assert table[0, 0] == UINT32_ROOT_PARENT
    assert table[0, 1:].tolist() == list(get_skeleton("smplh52").parents[1:])
    assert table[1].tolist() == list(range(52))


def test_weights_and_regressors_are_convex(smplh):
    for arrays in smplh.values():
        for key in ("weights", "weights_prior"):
            assert arrays[key].min() >= 0 and np.allclose(arrays[key].sum(axis=1), 1.0)
        for key in ("J_regressor", "J_regressor_prior"):
            assert arrays[key].min() >= 0 and np.allclose(arrays[key].sum(axis=1), 1.0)


def test_kinematic_regressor_reproduces_the_skeleton(smplh):
    """J_regressor @ v_template is the designed skeleton (ring centroids are exactly the joints)."""
    template = build_template("neutral")
    smplh_joints = [j for j in range(55) if j not in (22, 23, 24)]
    np.testing.assert_allclose(smplh["neutral"]["J"], template.joints[smplh_joints], atol=1e-12)


def test_body_is_plausible_y_up_and_gendered(smplh):
    """Heights about 1.6-1.8 m, male > neutral > female; head above pelvis above ankles (y up); the body's
    left hip on +x (SMPL's convention); the female pelvis wider relative to the shoulders."""
    names = get_skeleton("smplh52").joint_names
    heights = {g: float(np.ptp(smplh[g]["v_template"][:, 1])) for g in GENDERS}
    assert 1.6 < heights["female"] < heights["neutral"] < heights["male"] < 1.85
    joints = smplh["neutral"]["J"]
    head, pelvis, ankle = (joints[names.index(n)] for n in ("head", "pelvis", "left_ankle"))
    assert head[1] > pelvis[1] + 0.4 > ankle[1] + 0.4
    assert joints[names.index("left_hip"), 0] > 0 > joints[names.index("right_hip"), 0]

    def hip_to_shoulder(gender):
        j = smplh[gender]["J"]
        return np.ptp(j[[names.index("left_hip"), names.index("right_hip")], 0]) / np.ptp(
            j[[names.index("left_shoulder"), names.index("right_shoulder")], 0]
        )

    assert hip_to_shoulder("female") > hip_to_shoulder("male")


def test_skinning_blends_half_and_half_on_joint_rings():
    """On the ring where a bone starts, a vertex belongs half to the joint and half to its parent."""
    template = build_template("neutral")
    weights = skinning_weights(template)
    knee = get_skeleton("smplx55").index("left_knee")
    ring = template.joint_ring(knee)
    hip = get_skeleton("smplx55").index("left_hip")
    np.testing.assert_allclose(weights[ring][:, [knee, hip]], 0.5)


def test_smplx_file_has_the_keys_smplx_needs():
    """docs/formats.md 5.3: shapedirs (V,3,400) = 300 shape + 100 expression, posedirs (V,3,486 = 54 x 9), 55
    joints, landmarks (51,) and (51,3), hand PCA (45,45)."""
    arrays = smplx_model_arrays("male")
    vertices = len(arrays["v_template"])
    expected = {
        "shapedirs": (vertices, 3, 400), "posedirs": (vertices, 3, 486), "J_regressor": (55, vertices),
        "weights": (vertices, 55), "kintree_table": (2, 55), "lmk_faces_idx": (51,), "lmk_bary_coords": (51, 3),
        "dynamic_lmk_faces_idx": (79, 17), "hands_componentsl": (45, 45), "hands_meanr": (45,),
    }  # fmt: skip
    assert {key: arrays[key].shape for key in expected} == expected
    np.testing.assert_array_equal(arrays["shapedirs"][:, :, :16], smplh_model_arrays("male")["shapedirs"])
    assert not arrays["shapedirs"][:, :, 16:300].any()
    assert arrays["lmk_faces_idx"].max() < len(arrays["f"])


def test_dmpls_are_millimetre_soft_tissue():
    eigvec = dmpl_arrays("female")["eigvec"]
    assert eigvec.shape[1:] == (3, 8)
    assert 1e-4 < np.abs(eigvec).max() <= 1e-3 + 1e-12


def test_h36m_regressor_rows_and_orders():
    """17 x V, float64, Fortran-ordered like SPIN's; rows convex and sparse; SPIN order = legs swapped."""
    spin, standard = h36m_regressor("spin"), h36m_regressor("h36m")
    assert spin.shape == (17, len(build_template("neutral").vertices)) and spin.dtype == np.float64
    assert spin.flags.f_contiguous
    assert standard.min() >= 0 and np.allclose(standard.sum(axis=1), 1.0)
    assert ((standard > 0).sum(axis=1) <= 40).all()
    np.testing.assert_array_equal(spin, standard[list(SPIN_TO_H36M)])
    np.testing.assert_array_equal(spin[1], standard[H36MJoint.LEFT_HIP])


def test_h36m_regressor_targets_joint_centres_and_the_head_top():
    """Every joint but the head top regresses exactly to the body-model joint skeletons.py pairs with it;
    the head top sits above the head joint, on the head's axis."""
    template = build_template("neutral")
    regressed = h36m_regressor("h36m") @ template.vertices
    mapped = template.joints[joint_mapping("smplx55", "h36m17")]
    others = [j for j in H36MJoint if j != H36MJoint.HEAD_TOP]
    np.testing.assert_allclose(regressed[others], mapped[others], atol=1e-12)
    head = template.joints[get_skeleton("smplx55").index("head")]
    offset = regressed[H36MJoint.HEAD_TOP] - head
    assert 0.1 < offset[1] < 0.2 and np.allclose(offset[[0, 2]], 0.0, atol=1e-9)


def test_files_are_byte_identical_across_runs(tmp_path: Path):
    first, second = tmp_path / "a", tmp_path / "b"
    for root in (first, second):
        write_body_models(root, smplh_genders=("female",), smplx_genders=(), dmpl_genders=("female",))
        write_h36m_regressor(root / "regressor.npy")
    for relative in ("smplh/female/model.npz", "dmpls/female/model.npz", "regressor.npy"):
        assert (first / relative).read_bytes() == (second / relative).read_bytes()
    with np.load(first / "smplh/female/model.npz") as loaded:  # readable without allow_pickle
        np.testing.assert_array_equal(loaded["weights"], smplh_model_arrays("female")["weights"])
    assert np.load(first / "regressor.npy").flags.f_contiguous
