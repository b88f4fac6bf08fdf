"""Inputs by content: touch and copies keep the fingerprint, a changed byte does not; unchanged files are read once."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time

from datasets.workspace import Workspace
from pipelines.lineage.file_hashes import RACY_WINDOW_NS, FileHashes, files_fingerprint

HOUR_NS = 3600 * 10**9


def archive(root, contents: dict[str, bytes], age_ns: int = HOUR_NS) -> list:
    """Files under ``root`` last modified ``age_ns`` ago (older than the racy window: their hashes are cached)."""
    paths = []
    for name, data in contents.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        moment = time.time_ns() - age_ns
        os.utime(path, ns=(moment, moment))
        paths.append(path)
    return paths


def test_fingerprint_is_the_hash_of_relative_names_and_content_hashes(tmp_path):
    """Derived by hand: sha256 over "<relative path>\\0<sha256 of bytes>\\n" per file, in path order."""
    paths = archive(tmp_path, {"S1/b.npz": b"bb", "S1/a.npz": b"a"})
    expected = hashlib.sha256()
    for name, data in (("S1/a.npz", b"a"), ("S1/b.npz", b"bb")):
        expected.update(f"{name}\0{hashlib.sha256(data).hexdigest()}\n".encode())
    assert files_fingerprint(paths, tmp_path) == expected.hexdigest()


def test_touch_and_a_copy_elsewhere_keep_the_fingerprint_and_one_byte_changes_it(tmp_path):
    contents = {"S1/a.npz": b"\x00" * 1000, "S2/b.npz": b"\x01" * 10}
    paths = archive(tmp_path / "here", contents)
    before = files_fingerprint(paths, tmp_path / "here")
    for path in paths:
        path.touch()
    assert files_fingerprint(paths, tmp_path / "here") == before
    copy = shutil.copytree(tmp_path / "here", tmp_path / "there")  # new inodes, times and absolute paths
    assert files_fingerprint([copy / name for name in contents], copy) == before
    paths[0].write_bytes(b"\x00" * 999 + b"\x02")
    assert files_fingerprint(paths, tmp_path / "here") != before


def test_an_unchanged_file_is_read_once_and_a_touched_one_again(tmp_path):
    paths = archive(tmp_path / "source", {"a.npz": b"a", "b.npz": b"b"})
    workspace = Workspace(tmp_path / "workspace")
    with FileHashes.of_workspace(workspace) as hashes:
        first = files_fingerprint(paths, tmp_path / "source", hashes)
    assert hashes.hashed == 2
    cache_file = tmp_path / "workspace" / "hashes" / "files.json"
    assert set(json.loads(cache_file.read_text())) == {str(path.resolve()) for path in paths}
    with FileHashes.of_workspace(workspace) as again:
        assert files_fingerprint(paths, tmp_path / "source", again) == first
    assert again.hashed == 0
    moment = time.time_ns() - HOUR_NS // 2
    os.utime(paths[0], ns=(moment, moment))  # a new stat key: read again, same content
    with FileHashes.of_workspace(workspace) as touched:
        assert files_fingerprint(paths, tmp_path / "source", touched) == first
    assert touched.hashed == 1


def test_a_byte_flipped_with_its_mtime_set_back_is_read_again(tmp_path):
    """The mtime and size are restored by hand; the change time, which no user can set, still moved."""
    [path] = archive(tmp_path, {"a.npz": b"abc"})
    before = os.stat(path)
    hashes = FileHashes()
    first = hashes.sha256(path)
    time.sleep(0.01)  # the change time ticks past the first write's
    path.write_bytes(b"abd")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (os.stat(path).st_size, os.stat(path).st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert hashes.sha256(path) != first
    assert hashes.hashed == 2


def test_a_file_modified_just_before_hashing_is_read_again(tmp_path):
    """Racily clean: written within RACY_WINDOW_NS of being hashed, it may change again within the same tick."""
    [path] = archive(tmp_path, {"a.npz": b"a"}, age_ns=RACY_WINDOW_NS // 4)
    hashes = FileHashes()
    hashes.sha256(path)
    hashes.sha256(path)
    assert hashes.hashed == 2


def test_an_unreadable_cache_only_costs_rehashing(tmp_path):
    [path] = archive(tmp_path / "source", {"a.npz": b"a"})
    cache_file = tmp_path / "files.json"
    cache_file.write_text("{not json")
    hashes = FileHashes(cache_file)
    assert hashes.sha256(path) == hashlib.sha256(b"a").hexdigest()
    hashes.save()
    assert list(json.loads(cache_file.read_text())) == [str(path.resolve())]
