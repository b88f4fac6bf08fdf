"""SMPL+H and SMPL-X body models loaded from AMASS's model files (numpy; ``datasets.amass.mesh`` poses them).

We read the files ourselves instead of through ``smplx``'s classes (docs/formats.md 5.5): the
released smplx 0.1.28 truncates to 10 betas for models with fewer than 300 shape components (AMASS's SMPL+H
has 16), its SMPLH class requires hand-PCA keys that AMASS's ``model.npz`` lacks, and it has no DMPLs.
The maths is ``smplx.lbs`` itself (Rodrigues, blend shapes, rigid transforms, skinning), in
``datasets.amass.mesh`` and ``datasets.amass.fast_joints``. This module imports no torch, so a process that only
checks or discovers files (the orchestrator of forked workers) does not pay its ~1.4 s import.

Conventions (AMASS, human_body_prior): ``poses`` is axis-angle per joint, root first, the hands as stored
(AMASS's hand poses are relative to a flat hand: no hand mean is added); ``betas`` are the first
``num_betas`` shape coefficients; DMPL coefficients extend the betas per frame (soft tissue); ``trans`` is
added to every vertex and joint. The model template is y-up; ``poses[:, :3]`` rotates it into AMASS's z-up
world.

Layout of a body-model directory (AMASS's): ``smplh/{male,female,neutral}/model.npz``,
``smplx/SMPLX_{MALE,FEMALE,NEUTRAL}.npz``, ``dmpls/{male,female,neutral}/model.npz``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from datasets.errors import reraise_if_environment
from datasets.source_entries import open_regular

MODEL_TYPES = ("smplh", "smplx")
"""Body models AMASS files use: SMPL+H ("G" release) and SMPL-X ("N" release)."""

POSE_WIDTHS = {"smplh": 156, "smplx": 165}
"""Width of a file's ``poses`` per model type: 52 and 55 joints x 3 (docs/formats.md 4.2, 4.3)."""

NUM_JOINTS = {"smplh": 52, "smplx": 55}
"""Joints of each model's kinematic tree (docs/formats.md 5.2, 5.3)."""

SKELETON_NAMES = {"smplh": "smplh52", "smplx": "smplx55"}
"""``datasets.skeletons`` name of each model's joint order."""

GENDERS = ("male", "female", "neutral")
"""Genders AMASS model files exist for."""

SMPLX_SHAPE_SPACE = 300
"""SMPL-X shapedirs hold 300 shape then 100 expression components (docs/formats.md 5.3)."""


def model_file(body_models: Path, model_type: str, gender: str) -> Path:
    """Where AMASS's layout keeps the model file of ``model_type`` and ``gender``.

    Args:
        body_models: The body-model directory.
        model_type: ``"smplh"`` or ``"smplx"``.
        gender: ``"male"``, ``"female"`` or ``"neutral"``.

    Returns:
        ``smplh/<gender>/model.npz`` or ``smplx/SMPLX_<GENDER>.npz`` under ``body_models``.
    """
    if model_type == "smplh":
        return body_models / "smplh" / gender / "model.npz"
    if model_type == "smplx":
        return body_models / "smplx" / f"SMPLX_{gender.upper()}.npz"
    raise ValueError(f"model_type must be one of {MODEL_TYPES}, got {model_type!r}")


def dmpl_file(body_models: Path, gender: str) -> Path:
    """``dmpls/<gender>/model.npz`` under ``body_models`` (may not exist: DMPLs are optional)."""
    return body_models / "dmpls" / gender / "model.npz"


@dataclass(frozen=True, eq=False)
class BodyModel:
    """A body model's arrays, as loaded from its file (numpy, float64, metres).

    Attributes:
        model_type: ``"smplh"`` or ``"smplx"``.
        v_template: (V, 3) rest-pose vertices, y up.
        shapedirs: (V, 3, S) shape blend shapes (the first ``num_betas`` of the file).
        dmpldirs: (V, 3, D) DMPL soft-tissue blend shapes; D = 0 without DMPLs.
        posedirs: (V, 3, 9 * (J - 1)) pose-corrective blend shapes.
        j_regressor: (J, V) kinematic joints from rest-pose vertices.
        parents: (J,) int64, parent joint index, -1 for the root.
        weights: (V, J) skinning weights.
        faces: (F, 3) int64.
    """

    model_type: str
    v_template: np.ndarray
    shapedirs: np.ndarray
    dmpldirs: np.ndarray
    posedirs: np.ndarray
    j_regressor: np.ndarray
    parents: np.ndarray
    weights: np.ndarray
    faces: np.ndarray

    @property
    def num_vertices(self) -> int:
        """Vertex count V."""
        return len(self.v_template)

    @property
    def num_joints(self) -> int:
        """Joint count J of the kinematic tree."""
        return len(self.parents)

    @property
    def num_betas(self) -> int:
        """Shape coefficients S the model uses."""
        return self.shapedirs.shape[2]

    @property
    def num_dmpls(self) -> int:
        """DMPL coefficients D the model uses (0 without DMPLs)."""
        return self.dmpldirs.shape[2]

    @property
    def rest_joints(self) -> np.ndarray:
        """(J, 3) float64 kinematic joints of the mean shape, metres, y up."""
        return self.j_regressor @ self.v_template


def _read_arrays(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The named arrays of a body-model ``.npz``; any failure to read them is a ValueError naming the file."""
    try:
        with open_regular(path) as handle, np.load(handle, allow_pickle=False) as data:  # never a pipe or device
            return {key: np.asarray(data[key]) for key in keys}
    except Exception as error:  # BadZipFile, zlib.error, KeyError, a pickled member...: the file is unusable
        reraise_if_environment(error)
        raise ValueError(f"body model {path} is not readable ({type(error).__name__}: {error})") from error


def _checked_parents(path: Path, model_type: str, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """(J,) int64 parents (root -1) after checking the arrays' shapes against ``model_type``; ValueError if not."""
    joints, vertices = NUM_JOINTS[model_type], len(arrays["v_template"])
    expected = {
        "kintree_table": (2, joints),
        "J_regressor": (joints, vertices),
        "weights": (vertices, joints),
        "posedirs": (vertices, 3, 9 * (joints - 1)),
    }
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise ValueError(f"{path}: {key} must be {shape} for a {model_type} model, got {arrays[key].shape}")
    parents = arrays["kintree_table"][0].astype(np.int64)
    parents[0] = -1  # files store the root's parent as uint32 -1 (4294967295)
    if np.any(parents[1:] >= np.arange(1, joints)):
        raise ValueError(f"{path}: every joint's parent must precede it in kintree_table, got {parents}")
    return parents


def load_body_model(
    path: Path, model_type: str, num_betas: int = 16, dmpl_path: Path | None = None, num_dmpls: int = 8
) -> BodyModel:
    """Load an AMASS SMPL+H ``model.npz`` or an ``SMPLX_*.npz`` (and optionally DMPLs).

    Args:
        path: The model file.
        model_type: ``"smplh"`` or ``"smplx"``.
        num_betas: Shape coefficients to use (AMASS: 16); fewer if the file has fewer components.
        dmpl_path: A DMPL ``model.npz`` (key ``eigvec``, (V, 3, N)), or None for no DMPLs.
        num_dmpls: DMPL coefficients to use (AMASS: the first 8).

    Returns:
        The model, float64.

    Raises:
        ValueError: If a file is unreadable (truncated, not an npz, a key missing) or its arrays do not have
            the shapes of ``model_type``'s files; the message names the file.
    """
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type must be one of {MODEL_TYPES}, got {model_type!r}")
    arrays = _read_arrays(path, ("v_template", "shapedirs", "posedirs", "J_regressor", "kintree_table", "weights", "f"))
    v_template = arrays["v_template"].astype(np.float64)
    vertices = len(v_template)
    parents = _checked_parents(path, model_type, arrays)
    shape_space = arrays["shapedirs"].shape[2]
    if model_type == "smplx":
        shape_space = min(shape_space, SMPLX_SHAPE_SPACE)
    dmpldirs = np.zeros((vertices, 3, 0))
    if dmpl_path is not None:
        dmpldirs = _read_arrays(dmpl_path, ("eigvec",))["eigvec"].astype(np.float64)[:, :, :num_dmpls]
        if dmpldirs.shape[:2] != (vertices, 3):
            raise ValueError(f"{dmpl_path}: eigvec must be ({vertices}, 3, N) to fit {path}, got {dmpldirs.shape}")
    return BodyModel(
        model_type=model_type,
        v_template=v_template,
        shapedirs=arrays["shapedirs"][:, :, : min(num_betas, shape_space)].astype(np.float64),
        dmpldirs=dmpldirs,
        posedirs=arrays["posedirs"].astype(np.float64),
        j_regressor=arrays["J_regressor"].astype(np.float64),
        parents=parents,
        weights=arrays["weights"].astype(np.float64),
        faces=arrays["f"].astype(np.int64),
    )


def fit_betas(betas: np.ndarray, num_betas: int) -> np.ndarray:
    """A file's betas cut or zero-padded to the model's ``num_betas`` ((S,) float64)."""
    fitted = np.zeros(num_betas)
    count = min(num_betas, len(betas))
    fitted[:count] = betas[:count]
    return fitted
