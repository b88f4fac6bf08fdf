"""Discovery: the AMASS layout, header-only reads, a deterministic manifest, splits and patterns."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datasets.amass.discovery import (
    MANIFEST_SCHEMA,
    AmassFile,
    decode_text,
    discover_amass,
    manifest_files,
    read_header,
    subset_split,
)
from datasets.synthetic.body_model import write_npz


def _smplh(frames: int, fps: float = 120.0, gender: str | bytes = "male") -> dict[str, np.ndarray]:
    return {
        "poses": np.zeros((frames, 156)), "trans": np.zeros((frames, 3)), "betas": np.zeros(16),
        "gender": np.array(gender), "mocap_framerate": np.array(fps), "dmpls": np.zeros((frames, 8)),
    }  # fmt: skip


def _smplx(frames: int, fps: float = 60.0) -> dict[str, np.ndarray]:
    return {
        "poses": np.zeros((frames, 165)), "trans": np.zeros((frames, 3)), "betas": np.zeros(16),
        "gender": np.array("female"), "mocap_frame_rate": np.array(fps), "surface_model_type": np.array("smplx"),
        "markers_latent_vids": np.array({"C7": 3832}, dtype=object),  # pickled, like MoSh++'s files
    }  # fmt: skip


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    write_npz(tmp_path / "CMU/01/01_01_poses.npz", _smplh(300))
    write_npz(tmp_path / "CMU/01/shape.npz", {"betas": np.zeros(16), "gender": np.array("male")})
    write_npz(tmp_path / "SFU/0005/0005_Walking001_poses.npz", _smplh(100, 120.0, b"female"))
    write_npz(tmp_path / "BMLrub/BioMotionLab_NTroje/rub001/0001_treadmill_poses.npz", _smplh(50, 100.0))
    write_npz(tmp_path / "TotalCapture/s1/walking1_stageii.npz", _smplx(180))
    write_npz(tmp_path / "TotalCapture/s1/female_stagei.npz", {"betas": np.zeros(16), "gender": np.array("female")})
    write_npz(tmp_path / "MPI_HDM05/bk/01-01_poses.npz", _smplh(10, 120.0))
    write_npz(tmp_path / "CMU/stray_poses.npz", _smplh(10))  # not <SubDataset>/<Subject>/file: not AMASS
    write_npz(tmp_path / "A/B/C/D/too_deep_poses.npz", _smplh(10))
    (tmp_path / "KIT/3").mkdir(parents=True)
    (tmp_path / "KIT/3/broken_poses.npz").write_bytes(b"PK\x03\x04 not really a zip")
    return tmp_path


def test_manifest_lists_motion_files_in_order_with_header_facts(archive: Path):
    manifest = discover_amass(archive)
    assert manifest.schema.equals(MANIFEST_SCHEMA)
    rows = {row["relative_path"]: row for row in manifest.to_pylist()}
    assert (
        list(rows)
        == sorted(rows)
        == [
            "BMLrub/BioMotionLab_NTroje/rub001/0001_treadmill_poses.npz",
            "CMU/01/01_01_poses.npz",
            "KIT/3/broken_poses.npz",
            "MPI_HDM05/bk/01-01_poses.npz",
            "SFU/0005/0005_Walking001_poses.npz",
            "TotalCapture/s1/walking1_stageii.npz",
        ]
    )
    cmu = rows["CMU/01/01_01_poses.npz"]
    assert (cmu["subset"], cmu["subject"], cmu["sequence"]) == ("CMU", "01", "01_01_poses")
    assert (cmu["frames"], cmu["fps"], cmu["gender"], cmu["model_type"]) == (300, 120.0, "male", "smplh")
    assert cmu["size_bytes"] == (archive / "CMU/01/01_01_poses.npz").stat().st_size
    assert Path(cmu["path"]) == (archive / "CMU/01/01_01_poses.npz").resolve()
    deeper = rows["BMLrub/BioMotionLab_NTroje/rub001/0001_treadmill_poses.npz"]
    assert (deeper["subset"], deeper["subject"], deeper["fps"]) == ("BMLrub", "rub001", 100.0)
    smplx = rows["TotalCapture/s1/walking1_stageii.npz"]
    assert (smplx["frames"], smplx["fps"], smplx["model_type"]) == (180, 60.0, "smplx")
    assert rows["SFU/0005/0005_Walking001_poses.npz"]["gender"] == "female"  # stored as bytes
    broken = rows["KIT/3/broken_poses.npz"]
    assert broken["header_error"] and (broken["frames"], broken["model_type"]) == (0, "unknown")
    assert all(row["header_error"] == "" for path, row in rows.items() if path != "KIT/3/broken_poses.npz")


def test_splits_follow_uplift_upsample_by_normalised_name(archive: Path):
    """SFU and MPI_HDM05 (= MPIHDM05) validate; CMU, BMLrub, TotalCapture and KIT train."""
    splits = {row["subset"]: row["split"] for row in discover_amass(archive).to_pylist()}
    assert splits == {"BMLrub": "train", "CMU": "train", "KIT": "train", "MPI_HDM05": "validation",
                      "SFU": "validation", "TotalCapture": "train"}  # fmt: skip
    assert subset_split("sfu") == "validation" and subset_split("Mpi_Mosh") == "validation"
    assert subset_split("SomethingNew") == "train"
    assert subset_split("CMU", validation_subsets=("CMU",)) == "validation"


def test_include_and_exclude_patterns(archive: Path):
    only_cmu = discover_amass(archive, include=("CMU/*",))
    assert only_cmu.column("relative_path").to_pylist() == ["CMU/01/01_01_poses.npz"]
    without = discover_amass(archive, exclude=("*_stageii.npz", "KIT/*"))
    assert "TotalCapture/s1/walking1_stageii.npz" not in without.column("relative_path").to_pylist()
    assert without.num_rows == 4


def test_header_comes_from_the_zip_member_header_alone(tmp_path: Path):
    """A file whose ``poses`` member holds only its npy header (no data) still reports its frame count:
    the manifest never decompresses the motion arrays."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1000, 156)))
    with zipfile.ZipFile(tmp_path / "lazy.npz", "w") as archive:
        with archive.open("poses.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, header)
        with archive.open("mocap_framerate.npy", "w") as member:
            np.lib.format.write_array(member, np.array(59.94))
        with archive.open("gender.npy", "w") as member:
            np.lib.format.write_array(member, np.array(b"neutral"))
    header = read_header(tmp_path / "lazy.npz")
    assert (header.frames, header.pose_width, header.fps, header.gender) == (1000, 156, 59.94, "neutral")
    assert header.error == "" and header.model_type == "smplh"


def test_missing_keys_in_headers(tmp_path: Path):
    write_npz(tmp_path / "x.npz", {"trans": np.zeros((3, 3))})
    header = read_header(tmp_path / "x.npz")
    assert (header.frames, header.model_type, header.gender, header.error) == (0, "unknown", "", "")
    assert np.isnan(header.fps)


def test_decode_text():
    assert decode_text(np.array(b"female ")) == "female"
    assert decode_text(np.array("male")) == "male"
    assert decode_text(b"n/a") == "n/a"


def test_work_items_are_plain_and_in_manifest_order(archive: Path):
    manifest = discover_amass(archive)
    items = manifest_files(manifest)
    assert [item.relative_path for item in items] == manifest.column("relative_path").to_pylist()
    assert items[1] == AmassFile((archive / "CMU/01/01_01_poses.npz").resolve(), "CMU/01/01_01_poses.npz",
                                 "CMU", "01", "01_01_poses", "train")  # fmt: skip


def test_empty_and_missing_roots(tmp_path: Path):
    empty = discover_amass(tmp_path)
    assert isinstance(empty, pa.Table) and empty.num_rows == 0 and empty.schema.equals(MANIFEST_SCHEMA)
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        discover_amass(tmp_path / "nowhere")
