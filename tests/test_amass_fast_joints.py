"""The folded regressor equals the full mesh, prunes the chain, and keeps the synthetic skeleton rigid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from datasets.amass.body_model import dmpl_file, load_body_model, model_file
from datasets.amass.fast_joints import fold_joint_model, folded_joints, full_mesh_joints
from datasets.amass.mesh import mesh_tensors
from datasets.skeletons import get_skeleton, joint_mapping
from datasets.synthetic.body_model import h36m_regressor, write_body_models

AMASS_SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/amass_sample.npz"
TOLERANCE = 1e-5  # metres: fast path vs full mesh (the required agreement)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = write_body_models(
        tmp_path_factory.mktemp("models"),
        smplh_genders=("female",),
        smplx_genders=("neutral",),
        dmpl_genders=("female",),
    )
    smplh = load_body_model(model_file(root, "smplh", "female"), "smplh", 16, dmpl_file(root, "female"), 8)
    smplx = load_body_model(model_file(root, "smplx", "neutral"), "smplx", 16)
    return {"smplh": smplh, "smplx": smplx}


def _random_regressor(vertices: int, seed: int = 0) -> np.ndarray:
    """17 rows of 6 random vertices with random positive weights: posedirs and every bone contribute."""
    rng = np.random.default_rng(seed)
    regressor = np.zeros((17, vertices))
    for row in regressor:
        row[rng.choice(vertices, 6, replace=False)] = rng.uniform(0.1, 1.0, 6)
    return regressor / regressor.sum(axis=1, keepdims=True)


def _motion(frames: int, width: int, dmpls: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    tensor = lambda array: torch.as_tensor(array, dtype=torch.float64)  # noqa: E731
    return (
        tensor(rng.normal(0.0, 0.5, (frames, width))),
        tensor(rng.normal(0.0, 1.0, 16)),
        tensor(rng.normal(0.0, 2.0, (frames, 3))),
        tensor(rng.normal(0.0, 2.0, (frames, dmpls))) if dmpls else None,
    )


@pytest.mark.parametrize("model_type", ["smplh", "smplx"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_folded_regressor_equals_full_mesh(models, model_type, dtype):
    model = models[model_type]
    regressor = _random_regressor(model.num_vertices)
    poses, betas, trans, dmpls = _motion(40, 3 * model.num_joints, model.num_dmpls)
    folded = fold_joint_model(model, regressor=regressor, dtype=dtype)
    fast = folded_joints(folded, poses, betas, trans, dmpls).double()
    full = full_mesh_joints(mesh_tensors(model, dtype=torch.float64), poses, betas, trans, dmpls,
                            regressor=torch.as_tensor(regressor))  # fmt: skip
    tolerance = 1e-10 if dtype == torch.float64 else TOLERANCE
    torch.testing.assert_close(fast, full, atol=tolerance, rtol=0)


@pytest.mark.parametrize("model_type", ["smplh", "smplx"])
def test_folded_kinematic_joints_equal_full_mesh(models, model_type):
    """Without a regressor the outputs are the model's joints mapped to H36M's 17 (skeletons.py)."""
    model = models[model_type]
    indices = joint_mapping({"smplh": "smplh52", "smplx": "smplx55"}[model_type], "h36m17")
    poses, betas, trans, dmpls = _motion(25, 3 * model.num_joints, model.num_dmpls, seed=3)
    fast = folded_joints(
        fold_joint_model(model, joint_indices=indices, dtype=torch.float64), poses, betas, trans, dmpls
    )
    full = full_mesh_joints(mesh_tensors(model, dtype=torch.float64), poses, betas, trans, dmpls,
                            joint_indices=torch.as_tensor(indices))  # fmt: skip
    torch.testing.assert_close(fast, full, atol=1e-10, rtol=0)


def test_real_sample_fast_equals_full(models):
    """The real AMASS recording (SMPL+H, 16 betas, 8 DMPLs) on the synthetic model: within 1e-5 m."""
    if not AMASS_SAMPLE.is_file():
        pytest.skip(f"{AMASS_SAMPLE} is absent (licensed data lives only in ../shared).")
    with np.load(AMASS_SAMPLE) as sample:
        poses, trans, dmpls = (torch.as_tensor(sample[key][::5]) for key in ("poses", "trans", "dmpls"))
        betas = torch.as_tensor(sample["betas"])
    model, regressor = models["smplh"], h36m_regressor("h36m")
    fast = folded_joints(fold_joint_model(model, regressor=regressor), poses, betas, trans, dmpls).double()
    full = full_mesh_joints(mesh_tensors(model, dtype=torch.float64), poses, betas, trans, dmpls,
                            regressor=torch.as_tensor(regressor))  # fmt: skip
    torch.testing.assert_close(fast, full, atol=TOLERANCE, rtol=0)


def test_only_the_needed_bones_are_kept(models):
    """Legs only: the chain is the pelvis, both hip-knee-ankle chains (7 joints), and each output joint
    is a single (joint, bone) pair of weight 1."""
    model = models["smplh"]
    names = get_skeleton("smplh52").joint_names
    legs = [names.index(n) for n in ("left_hip", "left_knee", "left_ankle", "right_hip", "right_knee", "right_ankle")]
    folded = fold_joint_model(model, joint_indices=np.array(legs))
    assert sorted(folded.chain_joints.tolist()) == sorted([0, *legs])
    assert folded.num_pairs == 6 and torch.equal(folded.pair_weight, torch.ones(6))


def test_synthetic_regressor_is_sparse_in_bones(models):
    """Each synthetic H36M joint touches at most two bones (its ring blends a joint and its parent),
    the hands do not enter the chain, and the pose correctives cancel on the rings."""
    folded = fold_joint_model(models["smplh"], regressor=h36m_regressor("h36m"))
    assert folded.num_pairs <= 2 * 17
    assert int(folded.chain_joints.max()) < 22  # no finger joint needed
    assert float(folded.point_posedirs.abs().max()) < 1e-9


def test_synthetic_regressed_joints_follow_the_kinematic_joints(models):
    """By design of the synthetic mesh, regressing the rings gives the posed joint centres, so the
    17-joint skeleton is rigid in every pose (head top excepted: it is a point on the head)."""
    model = models["smplh"]
    poses, betas, trans, dmpls = _motion(30, 156, 8, seed=5)
    regressed = folded_joints(fold_joint_model(model, regressor=h36m_regressor("h36m"), dtype=torch.float64),
                              poses, betas, trans, dmpls)  # fmt: skip
    kinematic = folded_joints(
        fold_joint_model(model, joint_indices=joint_mapping("smplh52", "h36m17"), dtype=torch.float64),
        poses, betas, trans, dmpls,
    )  # fmt: skip
    torch.testing.assert_close(regressed[:, :10], kinematic[:, :10], atol=1e-9, rtol=0)
    torch.testing.assert_close(regressed[:, 11:], kinematic[:, 11:], atol=1e-9, rtol=0)


def test_argument_checks(models):
    model = models["smplh"]
    with pytest.raises(ValueError, match="exactly one"):
        fold_joint_model(model)
    with pytest.raises(ValueError, match="regressor must be"):
        fold_joint_model(model, regressor=np.ones((17, 10)))
    folded = fold_joint_model(model, joint_indices=np.array([0]))
    with pytest.raises(ValueError, match="poses must be"):
        folded_joints(folded, torch.zeros(2, 165), torch.zeros(16), torch.zeros(2, 3))
