"""AlphaPose results JSON (Halpe-26 and COCO-17), as MotionBERT's in-the-wild path reads it.

Entries follow AlphaPose's output documentation: ``{"image_id": "<frame>.jpg", "category_id": 1,
"keypoints": [x, y, score] * K, "score", "box": [x, y, w, h], "idx": person id}``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from datasets.keypoints import KeypointFileError, read_keypoints


def _entry(image_id, idx, count=26, shift=0.0):
    """Joint k at x = 10 k + shift, y = 300 - k, score 0.6 + k / 100."""
    points = [v for k in range(count) for v in (10.0 * k + shift, 300.0 - k, 0.6 + k / 100)]
    return {"image_id": image_id, "category_id": 1, "keypoints": points, "score": 2.5, "box": [0, 0, 9, 9],
            "idx": idx}  # fmt: skip


def test_halpe26_maps_to_h36m_by_hand_worked_values(tmp_path):
    """MotionBERT's halpe2h36m with Halpe joint k at x = 10 k, score 0.6 + k / 100:

    pelvis = hip (19) -> x = 190, score 0.79; spine = mean(neck 18, hip 19) -> x = 185, score min(0.78, 0.79)
    = 0.78; thorax = neck -> x = 180; neck_nose = nose (0) -> x = 0; head_top = head (17) -> x = 170;
    right_hip (H36M 1) = RHip (12) -> x = 120; left_ankle (H36M 6) = LAnkle (15) -> x = 150;
    right_wrist (H36M 16) = RWrist (10) -> x = 100. Frame numbers come from "0.jpg", "1.jpg".
    """
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps([_entry("0.jpg", 1), _entry("1.jpg", 1)]))
    detected = read_keypoints(path)
    assert detected.format == "alphapose" and detected.person == "1"
    frame = detected.keypoints[1]
    for joint, x in {0: 190.0, 7: 185.0, 8: 180.0, 9: 0.0, 10: 170.0, 1: 120.0, 6: 150.0, 16: 100.0}.items():
        assert frame[joint, 0] == pytest.approx(x), joint
    assert frame[7, 1] == pytest.approx((300 - 18 + 300 - 19) / 2)
    assert frame[0, 2] == pytest.approx(0.79) and frame[7, 2] == pytest.approx(0.78)
    np.testing.assert_array_equal(detected.frame_indices, [0, 1])


def test_coco17_alphapose_and_a_second_person_by_idx(tmp_path):
    """COCO-17 AlphaPose output: person 2 in frames 3-5, person 1 only in frame 4; pelvis x = (110 + 120) / 2."""
    entries = [_entry(f"{f}.jpg", 2, count=17) for f in (3, 4, 5)] + [_entry("4.jpg", 1, count=17, shift=50.0)]
    path = tmp_path / "coco-alphapose.json"
    path.write_text(json.dumps(entries))
    detected = read_keypoints(path)
    assert detected.person == "2" and dict(detected.people) == {"2": 3, "1": 1}
    assert detected.keypoints[0, 0, 0] == pytest.approx(115.0)
    assert read_keypoints(path, person="1").keypoints[0, 0, 0] == pytest.approx(165.0)


def test_alphapose_joint_count_other_than_17_or_26_is_one_error(tmp_path):
    path = tmp_path / "odd.json"
    path.write_text(json.dumps([_entry("0.jpg", 0, count=25)]))
    with pytest.raises(KeypointFileError, match="odd.json: has 25 keypoints per person; AlphaPose writes 26"):
        read_keypoints(path)
