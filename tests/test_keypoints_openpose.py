"""OpenPose BODY_25 JSON, one ``<video>_<frame:012d>_keypoints.json`` per frame (OpenPose doc/02_output.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from datasets.keypoints import KeypointFileError, discover_keypoint_inputs, read_keypoints


def _frame(folder, number, people):
    (folder / f"clip_{number:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))


def _person(shift=0.0, person_id=-1, missing=()):
    """BODY_25 joint k at x = 10 k + shift, y = 400, confidence 0.8; ``missing`` joints are 0, 0, 0."""
    values = []
    for k in range(25):
        values += [0.0, 0.0, 0.0] if k in missing else [10.0 * k + shift, 400.0, 0.8]
    return {"person_id": [person_id], "pose_keypoints_2d": values, "face_keypoints_2d": []}


def test_body25_folder_maps_fills_and_numbers_frames_from_names(tmp_path):
    """BODY_25 joint k at x = 10 k: pelvis = MidHip (8) -> 80; thorax = Neck (1) -> 10; spine = mean(1, 8) -> 45;
    neck_nose = Nose (0) -> 0; head_top = mean(REye 15, LEye 16) -> 155; right_hip = RHip (9) -> 90.
    Frame 2's file is absent and frame 3 misses RWrist (4): frame 2 is filled from 1 and 3 (x shift 0 and 20
    -> 10, pelvis 90), frame 3's right wrist held from frame 1 (x = 40)."""
    folder = tmp_path / "openpose"
    folder.mkdir()
    _frame(folder, 1, [_person()])
    _frame(folder, 3, [_person(20.0, missing=(4,))])
    assert discover_keypoint_inputs(folder) == [folder]
    detected = read_keypoints(folder)
    assert detected.format == "openpose" and detected.person is None
    np.testing.assert_array_equal(detected.frame_indices, [1, 2, 3])
    frame = detected.keypoints[0]
    for joint, x in {0: 80.0, 8: 10.0, 7: 45.0, 9: 0.0, 10: 155.0, 1: 90.0}.items():
        assert frame[joint, 0] == pytest.approx(x), joint
    assert detected.keypoints[1, 0, 0] == pytest.approx(90.0) and not detected.observed[1].any()
    assert detected.keypoints[2, 16, 0] == pytest.approx(40.0) and not detected.observed[2, 16]


def test_folder_without_any_person_is_one_error(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    _frame(folder, 0, [])
    _frame(folder, 1, [])
    with pytest.raises(KeypointFileError, match="empty: no usable person: none of its 2 frames holds a person"):
        read_keypoints(folder)


def test_coco18_openpose_output_is_a_wrong_joint_count(tmp_path):
    folder = tmp_path / "coco18"
    folder.mkdir()
    _frame(folder, 0, [{"person_id": [-1], "pose_keypoints_2d": [1.0, 1.0, 0.9] * 18}])
    with pytest.raises(KeypointFileError, match="has 18 joints per person but joint order openpose25 has 25"):
        read_keypoints(folder)
