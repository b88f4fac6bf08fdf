"""Hostile npz files are refused by name before they allocate: zip bombs and pickles that ask for gigabytes.

Each load runs in a child process whose address space is capped (``RLIMIT_AS``, 1 GiB: the child's imports
take about a third of it) and which reports its peak resident memory (``VmHWM``: unlike ``ru_maxrss``, it
starts afresh at ``exec``, so the size of the test process that forked it does not count). Without the
limits, the 3.2 GB bomb and ``bytearray(3_000_000_000)`` need their gigabytes: under the cap they die with
``MemoryError`` instead of a refusal naming what was asked for.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
ADDRESS_SPACE_CAP = 1 << 30
PEAK_RSS_CEILING_KB = 400 * 1024
"""What a refusal may use at most (kB, as ``VmHWM`` counts): imports plus small change."""
BOMB_SEGMENT = 16 << 20
BOMB_SEGMENTS = 200
"""3.36 GB of float64 zeros once inflated (200 segments of 16 MiB), about 3 MB deflated."""
ASKED_BYTES = 3_000_000_000

CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
from datasets.amass.config import AmassConfig
from datasets.amass.convert import convert_amass_file
from datasets.amass.discovery import AmassFile
from datasets.safe_npz import read_npz_member
path, how = sys.argv[1], sys.argv[2]
try:
    if how == "member":
        read_npz_member(path, "positions_3d")
        outcome = "read"
    else:
        from pathlib import Path
        item = AmassFile(Path(path), "CMU/01/bomb_poses.npz", "CMU", "01", "bomb_poses", "train")
        config = AmassConfig(amass_root=Path(path).parents[2], body_models=Path(path).parent)
        outcome = repr(convert_amass_file(item, config))
except BaseException as error:
    outcome = f"{{type(error).__name__}}: {{error}}"
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
print(json.dumps({{"outcome": outcome, "peak_kb": int(status["VmHWM"].split()[0])}}))
"""


def _npy_header(dtype: str, shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _zip_one_member(path: Path, name: str, deflated: bytes, inflated_size: int, crc: int) -> None:
    """Write a zip of one deflated member by hand (its sizes as declared, so a bomb is a real bomb)."""
    name_bytes = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(deflated), inflated_size,
                        len(name_bytes), 0) + name_bytes  # fmt: skip
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(deflated), inflated_size,
                          len(name_bytes), 0, 0, 0, 0, 0, 0) + name_bytes  # fmt: skip
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(deflated), 0)
    path.write_bytes(local + deflated + central + end)


def write_zip_bomb(path: Path, member: str) -> int:
    """An npz whose one float64 member inflates to ``BOMB_SEGMENTS * BOMB_SEGMENT`` bytes; returns that size.

    Deflate restarts after a full flush, so one compressed segment of zeros repeats as is; the CRC is left
    wrong (zipfile checks it only after inflating everything, which is what must not happen).
    """
    inflated = BOMB_SEGMENTS * BOMB_SEGMENT
    header = _npy_header("<f8", ((inflated - 128) // 8,))
    assert len(header) == 128  # numpy pads headers to 64-byte multiples
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(header + bytes(BOMB_SEGMENT - len(header))) + compressor.flush(zlib.Z_FULL_FLUSH)
    zeros = compressor.compress(bytes(BOMB_SEGMENT)) + compressor.flush(zlib.Z_FULL_FLUSH)
    deflated = first + zeros * (BOMB_SEGMENTS - 1) + compressor.flush(zlib.Z_FINISH)
    _zip_one_member(path, f"{member}.npy", deflated, inflated, crc=0)
    return inflated


class _Allocates:
    """Pickles as a call of ``function(*arguments)``: what a 300-byte hostile pickle can ask for."""

    def __init__(self, function, *arguments) -> None:
        self.call = (function, arguments)

    def __reduce__(self):
        return self.call


def write_pickle_member(path: Path, payload: object) -> int:
    """An npz with one 0-d object member ``positions_3d`` holding ``payload`` pickled; returns the pickle size."""
    pickled = pickle.dumps(payload, protocol=3)  # numpy's own protocol for npz
    member = _npy_header("|O", ()) + pickled
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("positions_3d.npy", member)
    return len(pickled)


def _load_in_capped_child(path: Path, how: str) -> dict:
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT), "OPENBLAS_NUM_THREADS": "1",
                   "OMP_NUM_THREADS": "1"}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", CHILD.format(cap=ADDRESS_SPACE_CAP), str(path), how],
                          env=environment, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(180)
def test_zip_bomb_member_is_refused_from_its_declared_size_before_inflating(tmp_path):
    inflated = write_zip_bomb(tmp_path / "bomb.npz", "positions_3d")
    assert (tmp_path / "bomb.npz").stat().st_size < inflated / 500
    result = _load_in_capped_child(tmp_path / "bomb.npz", "member")
    assert result["outcome"].startswith("OversizedMemberError: ")
    assert f"declares {inflated} bytes once inflated" in result["outcome"]
    assert result["peak_kb"] < PEAK_RSS_CEILING_KB


@pytest.mark.timeout(180)
def test_zip_bomb_in_an_amass_file_is_rejected_naming_the_member(tmp_path):
    path = tmp_path / "amass" / "CMU" / "01" / "bomb_poses.npz"
    path.parent.mkdir(parents=True)
    write_zip_bomb(path, "poses")
    for key in ("trans", "betas", "mocap_framerate"):  # the other members a motion file needs, tiny
        with zipfile.ZipFile(path, "a") as archive:
            buffer = io.BytesIO()
            np.save(buffer, np.zeros(3))
            archive.writestr(f"{key}.npy", buffer.getvalue())
    result = _load_in_capped_child(path, "amass")
    assert "reason='unreadable_file'" in result["outcome"]
    assert f"{path}::poses refused: its zip header declares" in result["outcome"]
    assert result["peak_kb"] < PEAK_RSS_CEILING_KB


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("payload", "asked"),
    [
        (_Allocates(bytearray, ASKED_BYTES), f"bytearray({ASKED_BYTES})"),
        (_Allocates(bytes, ASKED_BYTES), f"bytes({ASKED_BYTES})"),
        (_Allocates(np.ndarray, (ASKED_BYTES // 8,), "f8"), "numpy.ndarray"),
        (_Allocates(np.dtype, "V1000000000"), "dtype of"),
    ],
    ids=["bytearray", "bytes", "ndarray", "dtype"],
)
def test_pickle_asking_for_gigabytes_is_refused_by_name_before_allocating(tmp_path, payload, asked):
    pickle_bytes = write_pickle_member(tmp_path / "evil.npz", payload)
    assert pickle_bytes < 400
    result = _load_in_capped_child(tmp_path / "evil.npz", "member")
    assert result["outcome"].startswith("UnsafePickleError: "), result["outcome"]
    assert f"asks for {asked}" in result["outcome"]
    assert result["peak_kb"] < PEAK_RSS_CEILING_KB
