"""Licence-free stand-ins for the SMPL+H, SMPL-X and DMPL model files AMASS is used with, and a H36M regressor.

Everything is generated deterministically from the capsule template of ``datasets.synthetic.body_template``
and written in the exact layouts of docs/formats.md section 5:

- ``smplh/{male,female,neutral}/model.npz``: AMASS's "extended SMPL+H" keys and shapes (``v_template (V,3)``,
  ``f``, ``J_regressor (52,V)``, ``kintree_table (2,52)`` with the root parent stored as 4294967295,
  ``weights (V,52)``, ``posedirs (V,3,459)``, ``shapedirs (V,3,16)``, ``J``, ``J_regressor_prior``,
  ``weights_prior``, ``bs_style``, ``bs_type``) plus identity hand-PCA keys, which AMASS's files lack but which
  let ``smplx.SMPLH`` load the file too (useful to cross-check);
- ``smplx/SMPLX_{GENDER}.npz``: 55 joints, ``shapedirs (V,3,400)`` (300 shape + 100 expression components),
  ``posedirs (V,3,486)``, the hand-PCA and landmark keys ``smplx.SMPLX`` needs;
- ``dmpls/{gender}/model.npz``: ``eigvec (V,3,8)`` soft-tissue components;
- a sparse 17 x V Human3.6M-style joint regressor, float64 and Fortran-ordered like SPIN's file.

V is the template's vertex count (about 2.7k at ``detail=1``), far below SMPL's 6890, so these files only
work with each other: a real regressor does not fit the synthetic mesh, and vice versa.

    >>> arrays = smplh_model_arrays("female")
    >>> arrays["posedirs"].shape[1:], arrays["J_regressor"].shape[0]
    ((3, 459), 52)
"""

from __future__ import annotations

import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from datasets.amass.regressor import SPIN_TO_H36M
from datasets.skeletons import H36MJoint, joint_mapping
from datasets.synthetic.body_template import (
    GENDERS,
    SMPLX_FACE_JOINTS,
    SMPLX_SKELETON,
    BodyTemplate,
    build_template,
    skinning_weights,
)

NUM_SHAPE_COMPONENTS = 16  # AMASS's extended SMPL+H has 16 shape components (docs/formats.md 5.2)
NUM_DMPL_COMPONENTS = 8  # AMASS uses 8 DMPLs (docs/formats.md 5.4)
SMPLX_SHAPE_SPACE = 300  # SMPL-X shapedirs: 300 shape + 100 expression components (docs/formats.md 5.3)
SMPLX_EXPRESSION_SPACE = 100
NUM_LANDMARKS = 51  # SMPL-X lmk_faces_idx (51,) (docs/formats.md 5.3)
NUM_DYNAMIC_LANDMARK_BINS, NUM_DYNAMIC_LANDMARKS = 79, 17  # dynamic_lmk_faces_idx (79, 17)
UINT32_ROOT_PARENT = 4294967295  # SMPL files store the root's parent as uint32 -1 (docs/formats.md 5.1)
SMPLH_JOINTS = tuple(j for j in range(55) if j not in SMPLX_FACE_JOINTS)
"""SMPL-X joint index of each SMPL+H joint: SMPL+H has no jaw or eyes (docs/formats.md 5.2, 5.3)."""

_SEED = 20240611  # fixed seed of every random-looking but deterministic array below
_GENDER_SEED = {"male": 1, "female": 2, "neutral": 3}
_POSE_CORRECTIVE_SCALE = 0.05  # pose blend shapes: metres per metre from the bone axis per unit feature
_DMPL_SCALE = 0.001  # metres of bulge per unit DMPL coefficient at a bulge centre
_DMPL_WIDTH = 0.08  # metres: standard deviation of a bulge along the body
_SHAPE_RANDOM_SCALE = 0.01


def _ring_regressor(template: BodyTemplate, joints: list[int]) -> np.ndarray:
    """(len(joints), V) float64: row k averages the vertex rings centred at joint ``joints[k]``."""
    matrix = np.zeros((len(joints), len(template.vertices)))
    for row, joint in enumerate(joints):
        ring = template.joint_ring(joint)
        matrix[row, ring] = 1.0 / len(ring)
    return matrix


def _shape_directions(template: BodyTemplate, rng: np.random.Generator) -> np.ndarray:
    """(V, 3, 16) shape blend shapes.

    Components: height, girth, leg length, shoulder width, torso length, then smooth random linear
    deformations.
    """
    vertices, joints = template.vertices, template.joints
    names = SMPLX_SKELETON.joint_names
    pelvis = joints[names.index("pelvis")]
    hip_height = joints[names.index("left_hip"), 1]
    leg_length = hip_height - vertices[:, 1].min()
    directions = np.zeros((len(vertices), 3, NUM_SHAPE_COMPONENTS))
    directions[:, :, 0] = (vertices - pelvis) * 0.05
    directions[:, :, 1] = (vertices - template.axis_points) * 0.15
    directions[:, 1, 2] = -np.clip(hip_height - vertices[:, 1], 0.0, None) / leg_length * 0.04
    arm_joints = [j for j, n in enumerate(names) if "collar" not in n and n.startswith(("left_", "right_"))]
    is_arm = np.isin(template.bone_joint, arm_joints) & (np.abs(vertices[:, 0]) > 0.12)
    directions[:, 0, 3] = np.where(is_arm, np.sign(vertices[:, 0]) * 0.02, 0.0)
    directions[:, 1, 4] = np.clip(vertices[:, 1] - pelvis[1], 0.0, None) * 0.04
    for component in range(5, NUM_SHAPE_COMPONENTS):
        linear = rng.normal(0.0, _SHAPE_RANDOM_SCALE, size=(3, 3))
        directions[:, :, component] = (vertices - pelvis) @ linear.T
    return directions


def _pose_directions(
    template: BodyTemplate, weights: np.ndarray, joints: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(V, 3, 9 * (J - 1)) pose-corrective blend shapes for the joints ``joints`` (SMPL-X indices, root first).

    Feature ``9 * (k - 1) + m`` is entry m of (R_k - I) for joint k of the given order (SMPL's "lrotmin").
    Joint k's correctives bulge and twist the flesh around its capsule axes where the joint bends, i.e.
    where the skin blends joint k and its parent (influence ``4 w_k w_parent``). Radial and twisting
    displacements cancel over every ring around an axis, so the joint rings keep their centres.
    """
    parents = np.array(SMPLX_SKELETON.parents)
    radial = template.vertices - template.axis_points
    twist = np.cross(template.axis_directions, radial)
    directions = np.zeros((len(template.vertices), 3, 9 * (len(joints) - 1)))
    for k, joint in enumerate(joints[1:]):
        influence = 4.0 * weights[:, joint] * weights[:, parents[joint]]
        bulge, turn = rng.normal(0.0, _POSE_CORRECTIVE_SCALE, size=(2, 9))
        fields = radial[:, :, None] * bulge + twist[:, :, None] * turn  # (V, 3, 9)
        directions[:, :, 9 * k : 9 * k + 9] = influence[:, None, None] * fields
    return directions


def _kintree(joints: tuple[int, ...]) -> np.ndarray:
    """(2, J) kintree table for a subset of the SMPL-X joints, root parent stored as uint32 -1."""
    position = {joint: k for k, joint in enumerate(joints)}
    parents = [position.get(SMPLX_SKELETON.parents[joint], UINT32_ROOT_PARENT) for joint in joints]
    return np.array([parents, list(range(len(joints)))], dtype=np.int64)


def _hand_pca_keys() -> dict[str, np.ndarray]:
    """Identity hand-PCA components and zero means: smplx's SMPLH/SMPLX classes require these keys."""
    return {
        "hands_componentsl": np.eye(45),
        "hands_componentsr": np.eye(45),
        "hands_meanl": np.zeros(45),
        "hands_meanr": np.zeros(45),
        "hands_coeffsl": np.zeros((1, 45)),
        "hands_coeffsr": np.zeros((1, 45)),
    }


@lru_cache(maxsize=8)
def _template_and_weights(gender: str, detail: int) -> tuple[BodyTemplate, np.ndarray]:
    template = build_template(gender, detail)
    return template, skinning_weights(template)


def smplh_model_arrays(gender: str, detail: int = 1) -> dict[str, np.ndarray]:
    """Arrays of a synthetic AMASS SMPL+H ``model.npz``.

    Args:
        gender: One of ``GENDERS``.
        detail: Mesh resolution factor of ``build_template``.

    Returns:
        Key -> array with the keys and shapes of AMASS's SMPL+H files (module docstring), float64 metres.
    """
    template, weights_55 = _template_and_weights(gender, detail)
    rng = np.random.default_rng([_SEED, _GENDER_SEED[gender], 0])
    joints = SMPLH_JOINTS
    weights = weights_55[:, joints].copy()
    weights[:, 15] += weights_55[:, SMPLX_FACE_JOINTS].sum(axis=1)  # jaw and eyes move with the head
    j_regressor = _ring_regressor(template, list(joints))
    prior_joints = list(range(22))
    weights_prior = np.concatenate(
        [weights[:, prior_joints], weights[:, 22:37].sum(1, keepdims=True), weights[:, 37:52].sum(1, keepdims=True)],
        axis=1,
    )
    shapedirs = _shape_directions(template, rng)
    return {
        "v_template": template.vertices,
        "f": template.faces.astype(np.uint32),
        "J_regressor": j_regressor,
        "J": j_regressor @ template.vertices,
        "kintree_table": _kintree(joints),
        "weights": weights,
        "posedirs": _pose_directions(template, weights_55, np.array(joints), rng),
        "shapedirs": shapedirs,
        "J_regressor_prior": j_regressor[prior_joints + [22, 37]],
        "weights_prior": weights_prior,
        "bs_style": np.array("lbs"),
        "bs_type": np.array("lrotmin"),
        **_hand_pca_keys(),
    }


def smplx_model_arrays(gender: str, detail: int = 1) -> dict[str, np.ndarray]:
    """Arrays of a synthetic ``SMPLX_{GENDER}.npz`` that ``smplx.SMPLX`` loads.

    The first 16 shape components equal the SMPL+H file's; components 16-299 are zero and the 100
    expression components deform the face only.

    Args:
        gender: One of ``GENDERS``.
        detail: Mesh resolution factor of ``build_template``.

    Returns:
        Key -> array, float64 metres (shapes in the module docstring).
    """
    template, weights = _template_and_weights(gender, detail)
    rng = np.random.default_rng([_SEED, _GENDER_SEED[gender], 1])
    joints = tuple(range(55))
    shapedirs = np.zeros((len(template.vertices), 3, SMPLX_SHAPE_SPACE + SMPLX_EXPRESSION_SPACE))
    shapedirs[:, :, :NUM_SHAPE_COMPONENTS] = _shape_directions(
        template, np.random.default_rng([_SEED, _GENDER_SEED[gender], 0])
    )
    face = np.isin(template.bone_joint, (15, *SMPLX_FACE_JOINTS)) & (template.vertices[:, 2] > template.joints[15, 2])
    head = template.joints[15]
    for component in range(SMPLX_EXPRESSION_SPACE):
        linear = rng.normal(0.0, _SHAPE_RANDOM_SCALE, size=(3, 3))
        shapedirs[:, :, SMPLX_SHAPE_SPACE + component] = np.where(
            face[:, None], (template.vertices - head) @ linear.T, 0.0
        )
    j_regressor = _ring_regressor(template, list(joints))
    face_triangles = np.flatnonzero(face[template.faces].all(axis=1))
    landmark_faces = face_triangles[np.linspace(0, len(face_triangles) - 1, NUM_LANDMARKS).astype(np.int64)]
    dynamic_faces = face_triangles[
        np.linspace(0, len(face_triangles) - 1, NUM_DYNAMIC_LANDMARK_BINS * NUM_DYNAMIC_LANDMARKS).astype(np.int64)
    ].reshape(NUM_DYNAMIC_LANDMARK_BINS, NUM_DYNAMIC_LANDMARKS)
    return {
        "v_template": template.vertices,
        "f": template.faces.astype(np.uint32),
        "J_regressor": j_regressor,
        "kintree_table": _kintree(joints),
        "weights": weights,
        "posedirs": _pose_directions(template, weights, np.array(joints), rng),
        "shapedirs": shapedirs,
        "lmk_faces_idx": landmark_faces,
        "lmk_bary_coords": np.full((NUM_LANDMARKS, 3), 1.0 / 3.0),
        "dynamic_lmk_faces_idx": dynamic_faces,
        "dynamic_lmk_bary_coords": np.full((NUM_DYNAMIC_LANDMARK_BINS, NUM_DYNAMIC_LANDMARKS, 3), 1.0 / 3.0),
        "vt": np.zeros((len(template.vertices), 2)),
        "ft": template.faces.astype(np.int64),
        **_hand_pca_keys(),
    }


def dmpl_arrays(gender: str, detail: int = 1) -> dict[str, np.ndarray]:
    """Arrays of a synthetic DMPL ``model.npz``: soft-tissue bulges of belly, hips, chest, thighs and arms.

    Args:
        gender: One of ``GENDERS``.
        detail: Mesh resolution factor of ``build_template``.

    Returns:
        ``{"eigvec": (V, 3, 8) float64}``: metres of displacement per unit DMPL coefficient (at most 1 mm).
    """
    template, _ = _template_and_weights(gender, detail)
    names = SMPLX_SKELETON.joint_names
    centres = [
        template.joints[names.index(name)] + np.array(offset)
        for name, offset in (
            ("spine2", (0.0, -0.12, 0.0)), ("pelvis", (0.0, -0.02, 0.0)), ("spine2", (0.0, 0.12, 0.0)),
            ("left_knee", (0.0, 0.2, 0.0)), ("right_knee", (0.0, 0.2, 0.0)), ("left_elbow", (-0.12, 0.0, 0.0)),
            ("right_elbow", (0.12, 0.0, 0.0)), ("left_hip", (0.0, -0.1, 0.0)),
        )
    ]  # fmt: skip
    radial = template.vertices - template.axis_points
    outward = radial / np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-9)
    # A bulge's size depends on the axis point only, so it is the same all round a ring: ring centres stay.
    sizes = [np.exp(-np.sum((template.axis_points - c) ** 2, axis=1) / (2 * _DMPL_WIDTH**2)) for c in centres]
    eigvec = np.stack([outward * _DMPL_SCALE * size[:, None] for size in sizes], axis=-1)
    return {"eigvec": eigvec}


def h36m_regressor(order: str = "spin", detail: int = 1) -> np.ndarray:
    """A sparse 17 x V Human3.6M-style vertex regressor for the synthetic mesh.

    Each row averages a few vertices: for 16 joints the capsule rings around the body-model joint that
    ``datasets.skeletons`` pairs with the H36M joint (so the regressed joint is that joint's centre in every
    pose, shape and soft-tissue state), for the head top the vertices of the skull's top cap (rigid on the
    head). Rows are non-negative and sum to 1. The topology, and so the regressor, is the same for every
    gender.

    Args:
        order: ``"spin"`` (rows left leg first, like SPIN's ``J_regressor_h36m.npy``) or ``"h36m"`` (standard).
        detail: Mesh resolution factor of ``build_template``.

    Returns:
        (17, V) float64, Fortran-ordered like SPIN's file.
    """
    if order not in ("spin", "h36m"):
        raise ValueError(f"order must be 'spin' or 'h36m', got {order!r}")
    template, _ = _template_and_weights("neutral", detail)
    standard = _ring_regressor(template, list(joint_mapping("smplx55", "h36m17")))
    head = SMPLX_SKELETON.index("head")
    top_cap = np.flatnonzero(
        (template.bone_joint == head) & (template.bone_child == -1) & (template.bone_fraction > 1.0)
    )
    standard[H36MJoint.HEAD_TOP] = 0.0
    standard[H36MJoint.HEAD_TOP, top_cap] = 1.0 / len(top_cap)
    rows = standard[list(SPIN_TO_H36M)] if order == "spin" else standard
    return np.asfortranarray(rows)


def write_body_models(
    root: Path,
    smplh_genders: tuple[str, ...] = GENDERS,
    smplx_genders: tuple[str, ...] = GENDERS,
    dmpl_genders: tuple[str, ...] = GENDERS,
    detail: int = 1,
) -> Path:
    """Write synthetic model files in the AMASS body-model layout.

    Args:
        root: Directory to create; gets ``smplh/<gender>/model.npz``, ``smplx/SMPLX_<GENDER>.npz`` and
            ``dmpls/<gender>/model.npz``.
        smplh_genders: Genders to write SMPL+H files for.
        smplx_genders: Genders to write SMPL-X files for.
        dmpl_genders: Genders to write DMPL files for.
        detail: Mesh resolution factor of ``build_template``.

    Returns:
        ``root``.
    """
    for gender in smplh_genders:
        write_npz(root / "smplh" / gender / "model.npz", smplh_model_arrays(gender, detail))
    for gender in smplx_genders:
        write_npz(root / "smplx" / f"SMPLX_{gender.upper()}.npz", smplx_model_arrays(gender, detail))
    for gender in dmpl_genders:
        write_npz(root / "dmpls" / gender / "model.npz", dmpl_arrays(gender, detail))
    return root


def write_h36m_regressor(path: Path, order: str = "spin", detail: int = 1) -> Path:
    """Write ``h36m_regressor(order, detail)`` as a ``.npy`` file (Fortran-ordered float64, like SPIN's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, h36m_regressor(order, detail))
    return path


FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""Timestamp written into every generated ``.npz`` member, so that the same arrays give the same bytes."""


def write_npz(path: Path, arrays: dict[str, np.ndarray], compress: bool = True) -> Path:
    """Write arrays like ``np.savez[_compressed]``, but byte-for-byte reproducible (fixed member timestamps).

    Object arrays are pickled, as numpy does: some third-party formats need them (docs/formats.md 4.3).

    Args:
        path: The ``.npz`` file to write (parent folders are created).
        arrays: Member name (without ``.npy``) -> array.
        compress: Deflate the members (``savez_compressed``) or store them (``savez``).

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_ZIP_TIME)
            info.compress_type = method
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=True)
    return path
