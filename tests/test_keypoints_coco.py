"""COCO keypoint JSON (results lists and dataset files): mapping, people, gaps and errors.

Files are written from the COCO results format's documentation (https://cocodataset.org/#format-results):
``{"image_id", "category_id", "keypoints": [x, y, score] * 17, "score"}``, plus ``track_id`` where tracked.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from datasets.keypoints import KeypointFileError, read_keypoints

COCO_NAMES = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle",
]  # fmt: skip


def _keypoints(shift: float = 0.0, score: float | None = None) -> list[float]:
    """COCO joint k at x = 10 k + shift, y = 200 + k, score 0.5 + k / 100 (or ``score``)."""
    return [v for k in range(17) for v in (10.0 * k + shift, 200.0 + k, 0.5 + k / 100 if score is None else score)]


def _result(frame: int, keypoints: list[float], track: int | None = None, score: float = 0.9) -> dict:
    entry = {"image_id": frame, "category_id": 1, "keypoints": keypoints, "score": score}
    if track is not None:
        entry["track_id"] = track
    return entry


def _write(tmp_path, data, name="results.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_coco17_maps_to_h36m_by_hand_worked_values(tmp_path):
    """mmpose's convert_keypoint_definition, with COCO joint k at x = 10 k, score 0.5 + k / 100:

    pelvis = mean(left_hip 11, right_hip 12) -> x = (110 + 120) / 2 = 115, score min(0.61, 0.62) = 0.61;
    thorax = mean(shoulders 5, 6) -> x = 55, score 0.55; spine = mean(pelvis, thorax) = (115 + 55) / 2 = 85,
    score min(0.55, 0.56, 0.61, 0.62) = 0.55; neck_nose = nose -> x = 0, score 0.5; head_top = mean(eyes 1, 2)
    -> x = 15, score 0.51; right_hip (H36M 1) = COCO 12 -> x = 120; left_wrist (H36M 13) = COCO 9 -> x = 90.
    y follows the same means: pelvis y = 200 + 11.5.
    """
    path = _write(tmp_path, [_result(f, _keypoints()) for f in range(3)])
    detected = read_keypoints(path, min_score=0.3)
    frame = detected.keypoints[0]
    expected_x = {0: 115.0, 8: 55.0, 7: 85.0, 9: 0.0, 10: 15.0, 1: 120.0, 13: 90.0}
    for joint, x in expected_x.items():
        assert frame[joint, 0] == pytest.approx(x), joint
    assert frame[0, 1] == pytest.approx(211.5)
    np.testing.assert_allclose(frame[[0, 8, 7, 9, 10], 2], [0.61, 0.55, 0.55, 0.5, 0.51], rtol=1e-6)
    assert detected.format == "coco" and detected.observed.all()
    assert detected.joint_names[0] == "pelvis" and len(detected.joint_names) == 17


def test_missing_frames_and_low_scores_are_interpolated_with_edges_held(tmp_path):
    """Frames 10, 11, 13 present (shifted x by 0, 30, 90 px); frame 12 missing -> pelvis x = 115 + (30 + 90) / 2
    = 175. Frame 10's nose scores 0.1 < 0.3 -> held from frame 11: x = 0 + 30 = 30; score stays 0.1."""
    low_nose = _keypoints(0.0)
    low_nose[2] = 0.1
    path = _write(tmp_path, [_result(10, low_nose), _result(11, _keypoints(30.0)), _result(13, _keypoints(90.0))])
    detected = read_keypoints(path, min_score=0.3)
    np.testing.assert_array_equal(detected.frame_indices, [10, 11, 12, 13])
    assert detected.keypoints[2, 0, 0] == pytest.approx(175.0)
    assert not detected.observed[2].any() and detected.observed[[1, 3]].all()
    assert detected.keypoints[2, 0, 2] == 0.0
    assert detected.keypoints[0, 9, 0] == pytest.approx(30.0) and detected.keypoints[0, 9, 2] == pytest.approx(0.1)
    assert not detected.observed[0, 9] and detected.observed[0, 0]


def test_second_person_longest_track_by_default_and_person_picks_the_other(tmp_path):
    """Track 7 is in frames 0-4 (x shift 0), track 3 only in frames 1-2 (x shift 500)."""
    entries = [_result(f, _keypoints(0.0), track=7) for f in range(5)]
    entries += [_result(f, _keypoints(500.0), track=3, score=0.99) for f in (1, 2)]
    path = _write(tmp_path, entries)
    longest = read_keypoints(path)
    assert longest.person == "7" and dict(longest.people) == {"7": 5, "3": 2}
    assert longest.keypoints[1, 9, 0] == pytest.approx(0.0)
    other = read_keypoints(path, person="3")
    assert other.person == "3" and other.keypoints[0, 9, 0] == pytest.approx(500.0)
    np.testing.assert_array_equal(other.frame_indices, [1, 2])
    with pytest.raises(KeypointFileError, match="results.json: it has no person '9'; its person ids are 3, 7"):
        read_keypoints(path, person="9")


def test_untracked_people_keep_the_best_scored_per_frame(tmp_path):
    """No track_id, two people in frame 0 (scores 0.4 and 0.8): the 0.8 one (x shift 500) is kept."""
    path = _write(tmp_path, [_result(0, _keypoints(0.0), score=0.4), _result(0, _keypoints(500.0), score=0.8)])
    detected = read_keypoints(path)
    assert detected.person is None and detected.keypoints[0, 9, 0] == pytest.approx(500.0)


def test_a_file_with_no_person_is_one_error(tmp_path):
    with pytest.raises(KeypointFileError, match="empty.json: no usable person"):
        read_keypoints(_write(tmp_path, {"images": [], "annotations": [], "categories": []}, "empty.json"))
    with pytest.raises(KeypointFileError, match="faint.json: no usable person"):
        read_keypoints(_write(tmp_path, [_result(0, _keypoints(score=0.05))], "faint.json"), min_score=0.3)


def test_wrong_joint_count_is_one_error(tmp_path):
    sixteen = _keypoints()[: 16 * 3]
    with pytest.raises(KeypointFileError, match="short.json: has 16 joints per person but joint order coco17 has 17"):
        read_keypoints(_write(tmp_path, [_result(0, sixteen)], "short.json"))
    with pytest.raises(KeypointFileError, match="mixed.json: frame 1 has 16 keypoints, earlier ones 17"):
        read_keypoints(_write(tmp_path, [_result(0, _keypoints()), _result(1, sixteen)], "mixed.json"))


def test_dataset_file_category_names_decide_the_mapping_and_images_give_the_size(tmp_path):
    """Categories list the joints in reversed COCO order; file joint k is COCO joint 16 - k at x = 10 k.

    pelvis = mean(left_hip, right_hip) = file joints 5 and 4 -> x = 45. Frame numbers are the images'
    frame_id (4, 5), the size their width/height.
    """
    reversed_points = [v for k in range(17) for v in (10.0 * k, 0.0, 2.0)]
    data = {
        "images": [{"id": 101, "frame_id": 4, "width": 1920, "height": 1080},
                   {"id": 102, "frame_id": 5, "width": 1920, "height": 1080}],
        "annotations": [{"image_id": 101, "keypoints": reversed_points},
                        {"image_id": 102, "keypoints": reversed_points}],
        "categories": [{"id": 1, "name": "person", "keypoints": COCO_NAMES[::-1]}],
    }  # fmt: skip
    detected = read_keypoints(_write(tmp_path, data, "dataset.json"))
    assert detected.keypoints[0, 0, 0] == pytest.approx(45.0)
    assert detected.image_size == (1920, 1080)
    np.testing.assert_array_equal(detected.frame_indices, [4, 5])


def test_names_the_mapping_cannot_map_are_one_error(tmp_path):
    data = {
        "annotations": [{"image_id": 0, "keypoints": [1.0, 2.0, 1.0] * 3}],
        "categories": [{"id": 1, "keypoints": ["tail", "left_wing", "right_wing"]}],
    }
    with pytest.raises(KeypointFileError, match=r"bird.json: its joint names .* cannot be mapped to Human3.6M-17"):
        read_keypoints(_write(tmp_path, data, "bird.json"))
