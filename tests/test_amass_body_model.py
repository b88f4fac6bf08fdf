"""Loading AMASS model files ourselves, posing with smplx.lbs, and agreeing with smplx's own layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import smplx
import torch
from smplx.vertex_ids import vertex_ids as SMPLX_VERTEX_IDS

from datasets.amass.body_model import dmpl_file, fit_betas, load_body_model, model_file
from datasets.amass.mesh import full_mesh_forward, mesh_tensors
from datasets.skeletons import get_skeleton
from datasets.synthetic.body_model import write_body_models, write_npz


@pytest.fixture(scope="module")
def body_models(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("body_models")
    return write_body_models(root, smplh_genders=("female",), smplx_genders=("male",), dmpl_genders=("female",))


def _random_motion(frames: int, width: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    poses = torch.as_tensor(rng.normal(0.0, 0.4, (frames, width)), dtype=torch.float64)
    trans = torch.as_tensor(rng.normal(0.0, 1.0, (frames, 3)), dtype=torch.float64)
    betas = torch.as_tensor(rng.normal(0.0, 1.0, 16), dtype=torch.float64)
    return poses, trans, betas


def test_layout_paths():
    root = Path("/models")
    assert model_file(root, "smplh", "male") == root / "smplh/male/model.npz"
    assert model_file(root, "smplx", "neutral") == root / "smplx/SMPLX_NEUTRAL.npz"
    assert dmpl_file(root, "female") == root / "dmpls/female/model.npz"
    with pytest.raises(ValueError, match="model_type"):
        model_file(root, "smpl", "male")


def test_load_keeps_16_betas_and_dmpls(body_models: Path):
    """smplx 0.1.28 would keep 10 betas of a 16-component SMPL+H; we keep all 16 (docs/formats.md 5.5)."""
    model = load_body_model(
        model_file(body_models, "smplh", "female"), "smplh", 16, dmpl_file(body_models, "female"), 8
    )
    assert (model.num_joints, model.num_betas, model.num_dmpls) == (52, 16, 8)
    assert model.parents[0] == -1 and model.parents[1:].tolist() == list(get_skeleton("smplh52").parents[1:])
    smplx_model = load_body_model(model_file(body_models, "smplx", "male"), "smplx", 16)
    assert (smplx_model.num_joints, smplx_model.num_betas, smplx_model.num_dmpls) == (55, 16, 0)


def test_load_rejects_a_file_of_the_other_model_type(body_models: Path):
    with pytest.raises(ValueError, match="kintree_table must be \\(2, 55\\)"):
        load_body_model(model_file(body_models, "smplh", "female"), "smplx")


def test_load_rejects_a_file_with_wrong_shapes(tmp_path: Path, body_models: Path):
    with np.load(model_file(body_models, "smplh", "female")) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["posedirs"] = arrays["posedirs"][:, :, :207]  # SMPL's 23 x 9, not SMPL+H's 51 x 9
    with pytest.raises(ValueError, match="posedirs must be"):
        load_body_model(write_npz(tmp_path / "model.npz", arrays), "smplh")


def test_fit_betas_pads_and_cuts():
    np.testing.assert_array_equal(fit_betas(np.array([1.0, 2.0]), 4), [1.0, 2.0, 0.0, 0.0])
    np.testing.assert_array_equal(fit_betas(np.arange(20.0), 3), [0.0, 1.0, 2.0])


def test_rest_pose_and_translation(body_models: Path):
    """Zero pose, betas and DMPLs give the rest joints J_regressor @ v_template; trans shifts everything."""
    model = load_body_model(model_file(body_models, "smplh", "female"), "smplh", 16, dmpl_file(body_models, "female"))
    mesh = mesh_tensors(model, dtype=torch.float64)
    shift = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    vertices, joints = full_mesh_forward(mesh, torch.zeros(1, 156, dtype=torch.float64), torch.zeros(16), shift)
    np.testing.assert_allclose(joints[0].numpy(), model.rest_joints + shift.numpy(), atol=1e-12)
    np.testing.assert_allclose(vertices[0].numpy(), model.v_template + shift.numpy(), atol=1e-12)


def test_root_rotation_stands_the_template_up(body_models: Path):
    """AMASS's root orientation (pi/2, 0, 0) turns the y-up template z-up about the pelvis:
    Rx(90 deg) maps (x, y, z) -> (x, -z, y), so head - pelvis = (0, dy, dz) becomes (0, -dz, dy)."""
    model = load_body_model(model_file(body_models, "smplh", "female"), "smplh")
    poses = torch.zeros(1, 156, dtype=torch.float64)
    poses[0, 0] = np.pi / 2
    _, joints = full_mesh_forward(mesh_tensors(model, dtype=torch.float64), poses, torch.zeros(16), torch.zeros(1, 3))
    names = get_skeleton("smplh52").joint_names
    head, pelvis = names.index("head"), names.index("pelvis")
    rest_offset = model.rest_joints[head] - model.rest_joints[pelvis]
    posed_offset = (joints[0, head] - joints[0, pelvis]).numpy()
    # smplx's batch_rodrigues adds 1e-8 to the rotation vector before normalising: ~1e-9 m off.
    np.testing.assert_allclose(posed_offset, [rest_offset[0], -rest_offset[2], rest_offset[1]], atol=1e-7)


def test_dmpls_move_the_surface(body_models: Path):
    model = load_body_model(model_file(body_models, "smplh", "female"), "smplh", 16, dmpl_file(body_models, "female"))
    mesh = mesh_tensors(model, dtype=torch.float64)
    poses, trans, betas = _random_motion(2, 156)
    plain, _ = full_mesh_forward(mesh, poses, betas, trans)
    dmpls = torch.full((2, 8), 3.0, dtype=torch.float64)
    soft, _ = full_mesh_forward(mesh, poses, betas, trans, dmpls)
    moved = (soft - plain).norm(dim=-1)
    assert 1e-3 < float(moved.max()) < 3 * 8 * 1e-3 + 1e-9  # at most 1 mm per unit coefficient per DMPL


def test_smplx_joints_equal_the_smplx_layer(body_models: Path):
    """Where smplx's own layer applies (SMPL-X, 300 shape components so 16 betas are kept), our
    joints and vertices equal its joints[:, :55] and vertices: hands flat (AMASS), transl added."""
    path = model_file(body_models, "smplx", "male")
    frames = 3
    poses, trans, betas = (x.float() for x in _random_motion(frames, 165, seed=1))
    layer = smplx.SMPLX(str(path), num_betas=16, use_pca=False, flat_hand_mean=True, batch_size=frames)
    # smplx hard-codes SMPL-X's vertex ids for its extra joints (nose, toes...); the synthetic mesh is
    # smaller, so point them at valid vertices. It does not touch the 55 model joints compared here.
    selector = layer.vertex_joint_selector
    selector.extra_joints_idxs = selector.extra_joints_idxs % layer.v_template.shape[0]
    with torch.no_grad():
        output = layer(
            betas=betas.expand(frames, -1), global_orient=poses[:, :3], body_pose=poses[:, 3:66],
            jaw_pose=poses[:, 66:69], leye_pose=poses[:, 69:72], reye_pose=poses[:, 72:75],
            left_hand_pose=poses[:, 75:120], right_hand_pose=poses[:, 120:165], transl=trans,
        )  # fmt: skip
    model = load_body_model(path, "smplx", 16)
    vertices, joints = full_mesh_forward(mesh_tensors(model), poses, betas, trans)
    torch.testing.assert_close(joints, output.joints[:, :55], atol=1e-5, rtol=0)
    torch.testing.assert_close(vertices, output.vertices, atol=1e-5, rtol=0)


def test_smplh_joints_equal_the_smplh_layer_on_its_10_betas(body_models: Path):
    """smplx's SMPLH loads our file (it carries identity hand-PCA keys) but keeps only 10 betas; with
    betas 10..15 zero, flat hands and no PCA, both agree."""
    path = model_file(body_models, "smplh", "female")
    frames = 3
    poses, trans, betas = (x.float() for x in _random_motion(frames, 156, seed=2))
    betas[10:] = 0.0
    # Extra joints at SMPL+H vertex ids beyond the synthetic mesh: point them at vertex 0 (not compared).
    vertex_ids = dict.fromkeys(SMPLX_VERTEX_IDS["smplh"], 0)
    layer = smplx.SMPLH(
        str(path), ext="npz", num_betas=16, use_pca=False, flat_hand_mean=True, batch_size=frames,
        vertex_ids=vertex_ids,
    )  # fmt: skip
    assert layer.num_betas == 10  # the truncation we avoid by loading the file ourselves
    with torch.no_grad():
        output = layer(
            betas=betas[:10].expand(frames, -1), global_orient=poses[:, :3], body_pose=poses[:, 3:66],
            left_hand_pose=poses[:, 66:111], right_hand_pose=poses[:, 111:156], transl=trans,
        )  # fmt: skip
    _, joints = full_mesh_forward(mesh_tensors(load_body_model(path, "smplh", 16)), poses, betas, trans)
    torch.testing.assert_close(joints, output.joints[:, :52], atol=1e-5, rtol=0)
