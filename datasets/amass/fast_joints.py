"""Regressed joints without the mesh: the vertex regressor folded into blend shapes and skinning.

The full-mesh path poses every vertex and then regresses ``joints = R @ vertices``. With linear blend
skinning, vertex v is ``sum_b W[v, b] * A_b(v_posed[v])`` where ``A_b`` is bone b's rigid transform and
``v_posed = v_template + shapedirs @ betas + dmpldirs @ dmpls + posedirs @ pose_feature``. Swapping the sums::

    joint_k = sum_b  G_b @ Q[k, b] + M[k, b] * t_b        (A_b = [G_b | t_b])
    M[k, b] = sum_v R[k, v] W[v, b]                        regressor-weighted skinning weight
    Q[k, b] = sum_v R[k, v] W[v, b] v_posed[v]             a "point" per (joint, bone) pair

and Q is itself linear in betas, DMPLs and the pose feature, so its template and its three sets of blend
directions are folded through ``R W`` once per model. Only the (joint, bone) pairs with M != 0 are kept
(a handful per joint), and the kinematic chain is evaluated only for the bones those pairs use and their
ancestors, whose rest positions ``J_regressor @ v_shaped`` fold the same way. Per frame the work is one
small matrix product for the pose correctives and one 3x3 transform per pair, instead of posing thousands of
vertices. Without a vertex regressor, the output joints are kinematic joints: joint j is ``A_j`` applied to
its rest position, a pair with weight 1 and no pose correctives, so both modes share one code path.

The result equals the full-mesh result up to floating-point rounding (``full_mesh_joints`` is the reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from smplx.lbs import batch_rigid_transform, batch_rodrigues

from datasets.amass.body_model import BodyModel
from datasets.amass.mesh import MeshTensors, full_mesh_forward


@dataclass(frozen=True, eq=False)
class FoldedJointModel:
    """A body model reduced to what some output joints need (see module docstring). Tensors, one device.

    Attributes:
        chain_joints: (C,) int64, model joints in the reduced kinematic chain (ascending, root first).
        chain_parents: (C,) int64, parent of each chain joint as an index into ``chain_joints`` (-1 root).
        chain_template: (C, 3) rest positions of the chain joints for zero betas.
        chain_shapedirs: (S, C * 3) how betas move them.
        chain_dmpldirs: (D, C * 3) how DMPL coefficients move them.
        pair_output: (N,) int64, output joint k of each pair.
        pair_bone: (N,) int64, bone b of each pair as an index into ``chain_joints``.
        pair_weight: (N,) M[k, b].
        point_template: (N, 3) Q[k, b] for zero betas, DMPLs and pose.
        point_shapedirs: (S, N * 3).
        point_dmpldirs: (D, N * 3).
        point_posedirs: (P, N * 3), or None when the points carry no pose correctives.
        output_weights: (K,) total weight of each output joint (regressor row sums), multiplies ``trans``.
        num_model_joints: J of the model (the width of ``poses`` is 3 J).
    """

    chain_joints: torch.Tensor
    chain_parents: torch.Tensor
    chain_template: torch.Tensor
    chain_shapedirs: torch.Tensor
    chain_dmpldirs: torch.Tensor
    pair_output: torch.Tensor
    pair_bone: torch.Tensor
    pair_weight: torch.Tensor
    point_template: torch.Tensor
    point_shapedirs: torch.Tensor
    point_dmpldirs: torch.Tensor
    point_posedirs: torch.Tensor | None
    output_weights: torch.Tensor
    num_model_joints: int

    @property
    def num_outputs(self) -> int:
        """Output joint count K."""
        return len(self.output_weights)

    @property
    def num_pairs(self) -> int:
        """(joint, bone) pairs N kept."""
        return len(self.pair_output)


def _chain_closure(joints: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """``joints`` plus all their ancestors, ascending (so every parent precedes its children)."""
    needed = set(int(j) for j in joints) | {0}
    for joint in list(needed):
        while joint > 0:
            joint = int(parents[joint])
            needed.add(joint)
    return np.array(sorted(needed), dtype=np.int64)


def _directions(matrix: np.ndarray, blend: np.ndarray) -> np.ndarray:
    """(rows, V) x (V, 3, X) blend directions -> (X, rows * 3), the layout of ``coefficients @ dirs``."""
    return np.einsum("rv,vcx->xrc", matrix, blend).reshape(blend.shape[2], 3 * len(matrix))


class _Points(NamedTuple):
    """The output side of a folded model in float64 numpy, before the kinematic chain is attached.

    ``pair_*`` are (N,) per (output joint, bone) pair; ``point_*`` the pairs' rest positions (N, 3) and blend
    directions (X, N * 3); ``output_weights`` (K,) the sum of each output's weights.
    """

    pair_output: np.ndarray
    pair_bone: np.ndarray
    pair_weight: np.ndarray
    point_template: np.ndarray
    point_shapedirs: np.ndarray
    point_dmpldirs: np.ndarray
    point_posedirs: np.ndarray | None
    output_weights: np.ndarray


def _regressor_points(model: BodyModel, regressor: np.ndarray) -> _Points:
    """Pairs of a (K, V) vertex regressor: every (output, bone) that a regressed vertex is skinned to."""
    regressor = np.asarray(regressor, dtype=np.float64)
    if regressor.ndim != 2 or regressor.shape[1] != model.num_vertices:
        raise ValueError(f"regressor must be (K, {model.num_vertices}), got {regressor.shape}")
    support = np.flatnonzero(np.any(regressor != 0, axis=0))
    weights = regressor[:, support]  # (K, Vs)
    skinning = model.weights[support]  # (Vs, J)
    pair_output, pair_bone = np.nonzero(weights @ skinning)
    pair_vertex_weights = weights[pair_output] * skinning[:, pair_bone].T  # (N, Vs)
    return _Points(
        pair_output, pair_bone, pair_vertex_weights.sum(axis=1), pair_vertex_weights @ model.v_template[support],
        _directions(pair_vertex_weights, model.shapedirs[support]),
        _directions(pair_vertex_weights, model.dmpldirs[support]),
        _directions(pair_vertex_weights, model.posedirs[support]), regressor.sum(axis=1),
    )  # fmt: skip


def _kinematic_points(model: BodyModel, joint_indices: np.ndarray) -> _Points:
    """One pair per chosen model joint, carried rigidly by its own bone (no pose blend shapes)."""
    joint_indices = np.asarray(joint_indices, dtype=np.int64)
    if joint_indices.ndim != 1 or joint_indices.min() < 0 or joint_indices.max() >= model.num_joints:
        raise ValueError(f"joint_indices must be (K,) indices below {model.num_joints}, got {joint_indices}")
    rows = model.j_regressor[joint_indices]
    ones = np.ones(len(joint_indices))
    return _Points(
        np.arange(len(joint_indices)), joint_indices, ones, rows @ model.v_template,
        _directions(rows, model.shapedirs), _directions(rows, model.dmpldirs), None, ones,
    )  # fmt: skip


def fold_joint_model(
    model: BodyModel,
    regressor: np.ndarray | None = None,
    joint_indices: np.ndarray | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> FoldedJointModel:
    """Fold a vertex regressor (or a choice of kinematic joints) into the model's blend shapes and skinning.

    Exactly one of ``regressor`` and ``joint_indices`` must be given.

    Args:
        model: The body model.
        regressor: (K, V) vertex regressor; output joint k is ``regressor[k] @ vertices``.
        joint_indices: (K,) model joints to output instead (kinematic joints, e.g. mapped to H36M order).
        device: Where the tensors live.
        dtype: Tensor dtype (the folding itself is computed in float64).

    Returns:
        The folded model.
    """
    if (regressor is None) == (joint_indices is None):
        raise ValueError("give exactly one of regressor and joint_indices")
    if regressor is not None:
        points = _regressor_points(model, regressor)
    else:
        points = _kinematic_points(model, joint_indices)
    chain_joints = _chain_closure(points.pair_bone, model.parents)
    position = np.full(model.num_joints, -1)
    position[chain_joints] = np.arange(len(chain_joints))
    chain_parents = np.where(model.parents[chain_joints] >= 0, position[model.parents[chain_joints]], -1)
    chain_rows = model.j_regressor[chain_joints]
    tensor = lambda array: torch.as_tensor(np.ascontiguousarray(array), dtype=dtype, device=device)  # noqa: E731
    index = lambda array: torch.as_tensor(np.asarray(array), dtype=torch.int64, device=device)  # noqa: E731
    return FoldedJointModel(
        chain_joints=index(chain_joints),
        chain_parents=index(chain_parents),
        chain_template=tensor(chain_rows @ model.v_template),
        chain_shapedirs=tensor(_directions(chain_rows, model.shapedirs)),
        chain_dmpldirs=tensor(_directions(chain_rows, model.dmpldirs)),
        pair_output=index(points.pair_output),
        pair_bone=index(position[points.pair_bone]),
        pair_weight=tensor(points.pair_weight),
        point_template=tensor(points.point_template),
        point_shapedirs=tensor(points.point_shapedirs),
        point_dmpldirs=tensor(points.point_dmpldirs),
        point_posedirs=None if points.point_posedirs is None else tensor(points.point_posedirs),
        output_weights=tensor(points.output_weights),
        num_model_joints=model.num_joints,
    )


def folded_joints(
    folded: FoldedJointModel,
    poses: torch.Tensor,
    betas: torch.Tensor,
    trans: torch.Tensor,
    dmpls: torch.Tensor | None = None,
) -> torch.Tensor:
    """Output joints for a batch of frames (the fast path).

    Args:
        folded: From ``fold_joint_model``.
        poses: (T, 3 J) axis-angle, radians, root first, the model's joint order.
        betas: (S,) shape coefficients.
        trans: (T, 3) metres.
        dmpls: (T, D) DMPL coefficients, or None (zeros).

    Returns:
        (T, K, 3) joints, metres, world frame, ``folded``'s dtype and device.
    """
    dtype, device = folded.point_template.dtype, folded.point_template.device
    poses, betas, trans = (x.to(device=device, dtype=dtype).contiguous() for x in (poses, betas, trans))
    frames, chain_size, pairs = len(poses), len(folded.chain_joints), folded.num_pairs
    if poses.shape[1] != 3 * folded.num_model_joints:
        raise ValueError(f"poses must be (T, {3 * folded.num_model_joints}), got {tuple(poses.shape)}")
    rotations = batch_rodrigues(poses.reshape(-1, 3)).view(frames, folded.num_model_joints, 3, 3)
    chain = (folded.chain_template.reshape(-1) + betas @ folded.chain_shapedirs).expand(frames, -1)
    points = (folded.point_template.reshape(-1) + betas @ folded.point_shapedirs).expand(frames, -1)
    if dmpls is not None and folded.chain_dmpldirs.shape[0]:
        dmpls = dmpls.to(device=device, dtype=dtype)
        chain = chain + dmpls @ folded.chain_dmpldirs
        points = points + dmpls @ folded.point_dmpldirs
    if folded.point_posedirs is not None:
        identity = torch.eye(3, dtype=dtype, device=device)
        pose_feature = (rotations[:, 1:] - identity).reshape(frames, -1)  # (T, 9 (J - 1)), smplx's lrotmin
        points = points + pose_feature @ folded.point_posedirs
    _, transforms = batch_rigid_transform(
        rotations[:, folded.chain_joints], chain.reshape(frames, chain_size, 3), folded.chain_parents, dtype=dtype
    )  # (T, C, 4, 4), each bone's transform relative to its rest pose
    pair_transforms = transforms[:, folded.pair_bone]  # (T, N, 4, 4)
    rotated = (pair_transforms[..., :3, :3] @ points.reshape(frames, pairs, 3, 1)).squeeze(-1)
    contributions = rotated + folded.pair_weight[:, None] * pair_transforms[..., :3, 3]  # (T, N, 3)
    joints = torch.zeros(frames, folded.num_outputs, 3, dtype=dtype, device=device)
    joints.index_add_(1, folded.pair_output, contributions)
    return joints + folded.output_weights[:, None] * trans[:, None, :]


def full_mesh_joints(
    mesh: MeshTensors,
    poses: torch.Tensor,
    betas: torch.Tensor,
    trans: torch.Tensor,
    dmpls: torch.Tensor | None = None,
    regressor: torch.Tensor | None = None,
    joint_indices: torch.Tensor | None = None,
) -> torch.Tensor:
    """The same output joints the slow way: pose all vertices, then regress (or pick kinematic joints).

    Args:
        mesh: The body model, from ``datasets.amass.mesh.mesh_tensors``.
        poses: (T, 3 J) axis-angle, radians.
        betas: (S,) shape coefficients.
        trans: (T, 3) metres.
        dmpls: (T, D) DMPL coefficients, or None.
        regressor: (K, V) vertex regressor on ``mesh``'s device and dtype (exclusive with ``joint_indices``).
        joint_indices: (K,) int64 kinematic joints to output.

    Returns:
        (T, K, 3) joints, metres, world frame, ``mesh``'s dtype and device.
    """
    if (regressor is None) == (joint_indices is None):
        raise ValueError("give exactly one of regressor and joint_indices")
    vertices, joints = full_mesh_forward(mesh, poses, betas, trans, dmpls)
    if regressor is None:
        return joints[:, joint_indices]
    return torch.einsum("kv,tvc->tkc", regressor, vertices)  # AMASS-to-3DHPE's J_regressor @ vertices
