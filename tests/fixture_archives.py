"""Writers of synthetic source files that only tests read: bad AMASS files, and the benchmark formats the demo
does not use (Human3.6M CDF, HumanEva-I MATLAB, MPI-INF-3DHP npz).

The demo's own writers stay in ``datasets.synthetic``; these reuse their motions and specs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from datasets.amass.convert import RejectionReason
from datasets.synthetic.amass_archive import ArchiveFile, motion_arrays
from datasets.synthetic.body_model import write_npz
from datasets.synthetic.h36m_archive import H36MArchiveSpec, synthetic_world_poses
from datasets.synthetic.humaneva_archive import HumanEvaArchiveSpec, synthetic_sequences
from datasets.synthetic.mpi_inf_3dhp_archive import (
    SEQUENCE_INFO,
    TEST17_FROM_MPI28,
    VNECT,
    MpiInf3dhpArchiveSpec,
    synthetic_test,
    synthetic_training,
)
from datasets.units import MILLIMETRES_PER_METRE

TRUNCATED_BYTES = 2000
"""Length the truncated bad file is cut to (a download interrupted mid-archive)."""


CORRUPT_OFFSET = 1000
"""Byte offset where the corrupt-member bad file is zeroed (inside its first deflated member)."""


def _valid(frames: int = 60, fps: float = 120.0, gender: str = "male") -> dict[str, np.ndarray]:
    spec = ArchiveFile("bad/valid_poses.npz", "walk", fps, frames / fps, gender)
    return motion_arrays(spec)


def write_bad_amass_files(root: Path, subset: str = "CMU", subject: str = "bad_files") -> dict[str, str]:
    """Write one bad motion file per rejection reason into ``<root>/<subset>/<subject>/``.

    Args:
        root: An archive root (e.g. ``DemoAmassPaths.amass_root``).
        subset: Sub-dataset folder to put them in.
        subject: Subject folder to put them in.

    Returns:
        Archive-relative path -> the ``RejectionReason`` value a conversion with the demo body models must
        give (``unknown_gender`` only with the default ``unknown_gender="reject"``).
    """
    folder = Path(subset) / subject
    valid = _valid()
    nan_poses = valid["poses"].copy()
    nan_poses[3, 7] = np.nan
    smplx = motion_arrays(ArchiveFile("bad/female_stageii.npz", "walk", 60.0, 1.0, "female", model_type="smplx"))
    bad = {
        "truncated_poses.npz": (valid, RejectionReason.UNREADABLE_FILE),
        "not_a_zip_poses.npz": (b"this is not an npz archive", RejectionReason.UNREADABLE_FILE),
        "corrupt_member_poses.npz": (valid, RejectionReason.UNREADABLE_FILE),
        "missing_trans_poses.npz": ({k: v for k, v in valid.items() if k != "trans"}, RejectionReason.MISSING_KEY),
        "nan_poses.npz": (valid | {"poses": nan_poses}, RejectionReason.NON_FINITE_VALUES),
        "inf_trans_poses.npz": (valid | {"trans": valid["trans"] * np.inf}, RejectionReason.NON_FINITE_VALUES),
        "zero_frames_poses.npz": (
            valid | {"poses": valid["poses"][:0], "trans": valid["trans"][:0], "dmpls": valid["dmpls"][:0]},
            RejectionReason.ZERO_FRAMES,
        ),
        "no_frame_rate_poses.npz": (
            {k: v for k, v in valid.items() if k != "mocap_framerate"},
            RejectionReason.MISSING_FRAME_RATE,
        ),
        "zero_frame_rate_poses.npz": (valid | {"mocap_framerate": np.array(0.0)}, RejectionReason.INVALID_FRAME_RATE),
        "unknown_gender_poses.npz": (valid | {"gender": np.array("n/a")}, RejectionReason.UNKNOWN_GENDER),
        "no_model_female_stageii.npz": (smplx, RejectionReason.MISSING_BODY_MODEL),
        "width_150_poses.npz": (valid | {"poses": valid["poses"][:, :150]}, RejectionReason.UNSUPPORTED_POSE_WIDTH),
        "too_short_poses.npz": (_valid(frames=2), RejectionReason.TOO_SHORT),
        "short_trans_poses.npz": (valid | {"trans": valid["trans"][:-1]}, RejectionReason.INCONSISTENT_SHAPES),
    }
    expected = {}
    for name, (content, reason) in bad.items():
        path = root / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            write_npz(path, content)
        if name.startswith("truncated"):
            path.write_bytes(path.read_bytes()[:TRUNCATED_BYTES])
        if name.startswith("corrupt_member"):  # garble the middle of the deflated ``poses`` member
            content = bytearray(path.read_bytes())
            content[CORRUPT_OFFSET : CORRUPT_OFFSET + 64] = bytes(64)
            path.write_bytes(bytes(content))
        expected[(folder / name).as_posix()] = reason.value
    return expected


def write_humaneva_mat(root: Path, spec: HumanEvaArchiveSpec | None = None) -> list[Path]:
    """Write ``converted_15j/<part>/<subject>/<Action>_1.mat`` files; return them."""
    spec = HumanEvaArchiveSpec() if spec is None else spec
    from scipy.io import savemat

    written = []
    for (key, sequence), (poses, keypoints) in synthetic_sequences(spec).items():
        folder = root / "converted_15j" / key
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{sequence.replace(' ', '_')}.mat"
        savemat(path, {"poses_3d": poses, "poses_2d": keypoints})
        written.append(path)
    return written


def write_3dhp_npz(root: Path, spec: MpiInf3dhpArchiveSpec | None = None) -> list[Path]:
    """Write P-STMO's ``data_train_3dhp.npz`` (vnect cameras) and ``data_test_3dhp.npz`` from the same motion.

    Returns:
        The files written.
    """
    spec = MpiInf3dhpArchiveSpec() if spec is None else spec
    root.mkdir(parents=True, exist_ok=True)
    train = {}
    for (subject, sequence), content in synthetic_training(spec).items():
        frames, fps = SEQUENCE_INFO[(subject, sequence)]
        per_camera = {}
        for camera in VNECT:
            keypoints = content["annot2"][camera][:frames].reshape(-1, 28, 2)
            poses = content["univ_annot3"][camera][:frames].reshape(-1, 28, 3)
            per_camera[str(camera)] = {
                "data_2d": keypoints[:, list(TEST17_FROM_MPI28)],
                "data_3d": poses[:, list(TEST17_FROM_MPI28)],
            }
        train[f"{subject} {sequence}"] = [per_camera, int(fps)]
    test = {
        sequence: {"data_2d": c["annot2"], "data_3d": c["univ_annot3"], "valid": c["valid_frame"]}
        for sequence, c in synthetic_test(spec).items()
    }
    written = [root / "data_train_3dhp.npz", root / "data_test_3dhp.npz"]
    np.savez_compressed(written[0], data=train)
    np.savez_compressed(written[1], data=test)
    return written


def original_sequence_name(subject: str, sequence: str) -> str:
    """The CDF file stem of a sequence: S1 keeps the release's ``TakingPhoto``/``WalkingDog`` names."""
    base, _, repeat = sequence.partition(" ")
    if subject == "S1":
        base = {"Photo": "TakingPhoto", "WalkDog": "WalkingDog"}.get(base, base)
    return f"{base} {repeat}" if repeat else base


def write_h36m_cdf(root: Path, spec: H36MArchiveSpec | None = None) -> list[Path]:
    """Write ``S<n>/MyPoseFeatures/D3_Positions/<Action>.cdf`` files: variable ``Pose`` (1, N, 96) float32 mm.

    Returns:
        The files written.
    """
    spec = H36MArchiveSpec() if spec is None else spec
    from cdflib.cdfwrite import CDF

    written = []
    for subject, sequences in synthetic_world_poses(spec).items():
        folder = root / subject / "MyPoseFeatures" / "D3_Positions"
        folder.mkdir(parents=True, exist_ok=True)
        for sequence, poses in sequences.items():
            path = folder / f"{original_sequence_name(subject, sequence)}.cdf"
            millimetres = (poses.astype(np.float64) * MILLIMETRES_PER_METRE).astype(np.float32)
            writer = CDF(str(path), delete=True)
            writer.write_var(
                {
                    "Variable": "Pose",
                    "Data_Type": CDF.CDF_FLOAT,
                    "Num_Elements": 1,
                    "Rec_Vary": True,
                    "Dim_Sizes": [len(poses), 96],
                },
                var_attrs={},
                var_data=millimetres.reshape(1, len(poses), 96),
            )
            writer.close()
            written.append(path)
    return written
