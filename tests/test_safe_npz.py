"""Third-party npz files with pickles: read what the formats hold, refuse (and never run) anything else.

The malicious files are made here: a pickled object whose ``__reduce__`` asks for ``open(marker,
"w")``, so running the payload creates a marker file and nothing else.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from datasets.h36m import read_h36m
from datasets.safe_npz import UnsafePickleError, npz_member_names, read_npz_member
from datasets.synthetic.h36m_archive import H36MArchiveSpec, write_videopose3d_h36m
from datasets.videopose3d import load_object_npz

SMALL = H36MArchiveSpec(subjects=("S1",), sequences=("Walking 1",), frames=8)


class MarkerPayload:
    """Unpickling this calls ``open(marker, "w")``: the marker file exists afterwards iff the payload ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _write_malicious(path: Path, marker: Path, **members: object) -> None:
    """An npz whose members are 0-d object arrays (like VideoPose3D's), one holding the payload."""
    content = {name: np.array(value, dtype=object) for name, value in members.items()}
    for name, value in list(content.items()):
        if value.item() == "PAYLOAD":
            content[name] = np.array({"S1": {"Walking 1": MarkerPayload(marker)}}, dtype=object)
    np.savez(path, **content)


def test_payload_is_live_with_numpys_own_loader(tmp_path):
    """Sanity check of the test's own payload: np.load(allow_pickle=True) runs it (so the tests below can fail)."""
    marker = tmp_path / "marker"
    _write_malicious(tmp_path / "evil.npz", marker, positions_3d="PAYLOAD")
    with np.load(tmp_path / "evil.npz", allow_pickle=True) as archive:
        archive["positions_3d"]
    assert marker.exists()


def test_reads_dicts_lists_none_scalars_and_arrays_as_saved(tmp_path):
    positions = {"S1": {"Walking 1": [np.arange(6, dtype=np.float32).reshape(1, 2, 3), None]}}
    metadata = {"layout_name": "h36m", "num_joints": np.int64(17), "keypoints_symmetry": [[1, 2], (3, 4)]}
    np.savez_compressed(tmp_path / "d.npz", positions_2d=positions, metadata=metadata, plain=np.eye(2))
    assert npz_member_names(tmp_path / "d.npz") == ["metadata", "plain", "positions_2d"]
    loaded = load_object_npz(tmp_path / "d.npz", "positions_2d")
    np.testing.assert_array_equal(loaded["S1"]["Walking 1"][0], positions["S1"]["Walking 1"][0])
    assert loaded["S1"]["Walking 1"][1] is None
    assert load_object_npz(tmp_path / "d.npz", "metadata") == metadata
    np.testing.assert_array_equal(read_npz_member(tmp_path / "d.npz", "plain"), np.eye(2))


def test_reads_protocol_2_pickles_of_python_2_era_files(tmp_path):
    """Protocol 2 spells an array's bytes as ``_codecs.encode(text, "latin1")``: admitted, values intact."""
    value = np.array({"S1": {"Walk": np.linspace(0, 1, 6).reshape(2, 3)}}, dtype=object)
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, {"descr": "|O", "fortran_order": False, "shape": ()})
    member.write(pickle.dumps(value, protocol=2))
    assert b"_codecs" in member.getvalue()
    with zipfile.ZipFile(tmp_path / "old.npz", "w") as archive:
        archive.writestr("positions_3d.npy", member.getvalue())
    loaded = load_object_npz(tmp_path / "old.npz", "positions_3d")
    np.testing.assert_array_equal(loaded["S1"]["Walk"], np.linspace(0, 1, 6).reshape(2, 3))


def test_malicious_member_is_refused_naming_file_member_and_global_and_never_runs(tmp_path):
    marker = tmp_path / "marker"
    _write_malicious(tmp_path / "evil.npz", marker, positions_3d="PAYLOAD")
    with pytest.raises(UnsafePickleError, match=r"evil\.npz::positions_3d refused: .*io\.open"):
        read_npz_member(tmp_path / "evil.npz", "positions_3d")
    assert not marker.exists()


@pytest.mark.parametrize("where", ["source", "detections", "metadata"])
def test_malicious_source_or_detection_file_creates_no_marker_and_is_rejected_by_name(tmp_path, where):
    """``--source`` 3D file, ``--detections`` 2D file, or only the 2D file's metadata carrying the payload."""
    source = tmp_path / "h36m"
    write_videopose3d_h36m(source, SMALL)
    marker = tmp_path / "marker"
    evil = tmp_path / "data_2d_h36m_evil.npz"
    detections = None
    if where == "source":
        evil = source / "data_3d_h36m.npz"
        _write_malicious(evil, marker, positions_3d="PAYLOAD")
    else:
        good_2d = load_object_npz(source / "data_2d_h36m_gt.npz", "positions_2d")
        if where == "detections":
            _write_malicious(evil, marker, positions_2d="PAYLOAD", metadata={"layout_name": "h36m"})
        else:
            _write_malicious(evil, marker, positions_2d=good_2d, metadata="PAYLOAD")
        detections = {"evil": evil}
    result = read_h36m(source, detections=detections)
    assert not marker.exists()
    refusals = [rejection for rejection in result.rejected if rejection.path == str(evil)]
    assert len(refusals) == 1 and "refused" in refusals[0].detail and str(evil) in refusals[0].detail


def test_protocol_0_global_opcode_is_refused_too(tmp_path, monkeypatch):
    """A hand-written pickle using the text GLOBAL opcode (``c``) instead of STACK_GLOBAL."""
    monkeypatch.chdir(tmp_path)
    payload = b"cbuiltins\nopen\n(Vmarker\nVw\ntR."
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": ()})
    with zipfile.ZipFile(tmp_path / "evil.npz", "w") as archive:
        archive.writestr("data.npy", header.getvalue() + payload)
    with pytest.raises(UnsafePickleError, match="builtins.open"):
        load_object_npz(tmp_path / "evil.npz", "data")
    assert not (tmp_path / "marker").exists()
