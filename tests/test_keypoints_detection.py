"""Format detection from a file's content, and the inputs a folder holds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from datasets.keypoints import (
    KEYPOINT_FORMATS,
    KeypointFileError,
    detect_format,
    discover_keypoint_inputs,
    read_keypoints,
)

COCO_RESULT = {"image_id": 1, "category_id": 1, "keypoints": [1.0, 2.0, 0.9] * 17, "score": 0.9}
SAMPLES = {
    "coco": [COCO_RESULT],
    "alphapose": [{**COCO_RESULT, "image_id": "1.jpg", "idx": 0, "box": [0, 0, 1, 1]}],
    "mmpose": [{"frame_id": 0, "instances": [{"keypoints": [[1.0, 2.0]] * 17, "keypoint_scores": [0.9] * 17}]}],
    "openpose": {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": [1.0, 2.0, 0.9] * 25}]},
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_json_formats_are_told_apart_by_content(tmp_path, name):
    path = tmp_path / "detections.json"
    path.write_text(json.dumps(SAMPLES[name]))
    assert detect_format(path) == name


def test_npz_formats_and_folders(tmp_path):
    np.savez(tmp_path / "plain.npz", keypoints=np.zeros((2, 17, 3)))
    np.savez(tmp_path / "vp3d.npz", positions_2d={"v": {"custom": [np.zeros((2, 17, 2))]}}, metadata={})
    np.save(tmp_path / "plain.npy", np.zeros((2, 17, 3)))
    clip = tmp_path / "clip_openpose"
    clip.mkdir()
    (clip / "clip_000000000000_keypoints.json").write_text(json.dumps(SAMPLES["openpose"]))
    (tmp_path / "notes.txt").write_text("not an input")
    (tmp_path / "images").mkdir()
    assert detect_format(tmp_path / "plain.npz") == "array"
    assert detect_format(tmp_path / "plain.npy") == "array"
    assert detect_format(tmp_path / "vp3d.npz") == "videopose3d"
    assert detect_format(clip) == "openpose"
    assert [p.name for p in discover_keypoint_inputs(tmp_path)] == [
        "clip_openpose", "plain.npy", "plain.npz", "vp3d.npz",
    ]  # fmt: skip
    assert discover_keypoint_inputs(tmp_path / "plain.npy") == [tmp_path / "plain.npy"]
    assert set(KEYPOINT_FORMATS) == {"coco", "mmpose", "alphapose", "openpose", "videopose3d", "array"}


def test_unknown_content_is_one_error(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(KeypointFileError, match="other.json: is JSON in none of the keypoint formats"):
        detect_format(path)
    (tmp_path / "video.mp4").write_bytes(b"\0")
    with pytest.raises(KeypointFileError, match="video.mp4: has suffix '.mp4'"):
        detect_format(tmp_path / "video.mp4")


def test_damaged_files_are_one_error_naming_them(tmp_path):
    """A truncated npz, a JSON file cut short and COCO entries whose keypoints are not numbers."""
    np.savez(tmp_path / "whole.npz", keypoints=np.zeros((2, 17, 3)))
    (tmp_path / "cut.npz").write_bytes((tmp_path / "whole.npz").read_bytes()[:100])
    (tmp_path / "cut.json").write_text('[{"image_id": 1, "keypoints": [1.0, ')
    (tmp_path / "words.json").write_text(json.dumps([{**COCO_RESULT, "keypoints": ["a", "b", "c"] * 17}]))
    for name in ("cut.npz", "cut.json", "words.json"):
        with pytest.raises(KeypointFileError, match=rf"{name}: "):
            read_keypoints(tmp_path / name, joint_order="coco17")
