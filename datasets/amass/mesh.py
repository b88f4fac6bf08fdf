"""The whole SMPL+H / SMPL-X mesh posed with ``smplx.lbs`` (torch): the reference the fast path is checked against.

``datasets.amass.fast_joints`` poses only the joints the conversion needs; this module poses every vertex,
as AMASS's own toolchain does, for the checks and benchmarks that compare the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from smplx.lbs import lbs

from datasets.amass.body_model import BodyModel


@dataclass(frozen=True, eq=False)
class MeshTensors:
    """A body model's arrays as tensors in ``smplx.lbs``'s layout, converted once for repeated posing.

    Attributes:
        v_template: (V, 3).
        blend_directions: (V, 3, S + D) shape then DMPL blend shapes.
        posedirs: (P, V * 3).
        j_regressor: (J, V).
        parents: (J,) int64.
        weights: (V, J).
        num_betas: S.
        num_dmpls: D.
    """

    v_template: torch.Tensor
    blend_directions: torch.Tensor
    posedirs: torch.Tensor
    j_regressor: torch.Tensor
    parents: torch.Tensor
    weights: torch.Tensor
    num_betas: int
    num_dmpls: int


def mesh_tensors(
    model: BodyModel, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> MeshTensors:
    """Convert ``model`` for ``full_mesh_forward`` (on ``device``, in ``dtype``)."""
    tensor = lambda array: torch.as_tensor(np.ascontiguousarray(array), dtype=dtype, device=device)  # noqa: E731
    return MeshTensors(
        v_template=tensor(model.v_template),
        blend_directions=tensor(np.concatenate([model.shapedirs, model.dmpldirs], axis=2)),
        posedirs=tensor(model.posedirs.reshape(-1, model.posedirs.shape[2]).T),
        j_regressor=tensor(model.j_regressor),
        parents=torch.as_tensor(model.parents, device=device),
        weights=tensor(model.weights),
        num_betas=model.num_betas,
        num_dmpls=model.num_dmpls,
    )


def full_mesh_forward(
    mesh: MeshTensors,
    poses: torch.Tensor,
    betas: torch.Tensor,
    trans: torch.Tensor,
    dmpls: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pose the whole mesh with ``smplx.lbs.lbs`` (the reference the fast path is checked against).

    Args:
        mesh: From ``mesh_tensors``.
        poses: (T, 3 J) axis-angle, radians, root first.
        betas: (S,) shape coefficients (``mesh.num_betas``).
        trans: (T, 3) metres, added to vertices and joints.
        dmpls: (T, D) DMPL coefficients, or None (zeros).

    Returns:
        vertices (T, V, 3) and kinematic joints (T, J, 3), metres, world frame (z up for AMASS poses),
        in ``mesh``'s dtype and device.
    """
    dtype, device = mesh.v_template.dtype, mesh.v_template.device
    poses, betas, trans = (x.to(device=device, dtype=dtype).contiguous() for x in (poses, betas, trans))
    frames = len(poses)
    coefficients = betas.expand(frames, -1)
    if mesh.num_dmpls:
        dmpls = torch.zeros(frames, mesh.num_dmpls, dtype=dtype, device=device) if dmpls is None else dmpls
        coefficients = torch.cat([coefficients, dmpls.to(device=device, dtype=dtype)], dim=1)
    vertices, joints = lbs(
        coefficients, poses, mesh.v_template, mesh.blend_directions, mesh.posedirs, mesh.j_regressor,
        mesh.parents, mesh.weights,
    )  # fmt: skip
    return vertices + trans[:, None, :], joints + trans[:, None, :]
