"""mmpose output: the top-down demo's saved predictions and the inferencer's per-frame predictions.

Instances follow mmpose's ``split_instances``: ``{"keypoints": [[x, y], ...], "keypoint_scores": [...],
"bbox": [[x1, y1, x2, y2]], "bbox_score"}``; the demo wraps frames as ``{"frame_id", "instances"}`` under
``instance_info`` beside ``meta_info``.
"""

from __future__ import annotations

import json

import pytest

from datasets.keypoints import read_keypoints

HALPE_NAMES = [
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "head", "neck", "hip", "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe",
    "left_heel", "right_heel",
]  # fmt: skip


def _instance(count, shift=0.0, track=None, bbox_score=0.9):
    """Joint k at (10 k + shift, 50), score 0.9."""
    instance = {"keypoints": [[10.0 * k + shift, 50.0] for k in range(count)], "keypoint_scores": [0.9] * count,
                "bbox": [[0.0, 0.0, 100.0, 100.0]], "bbox_score": bbox_score}  # fmt: skip
    if track is not None:
        instance["track_id"] = track
    return instance


def test_demo_predictions_with_names_use_the_names(tmp_path):
    """meta_info names Halpe-26, so pelvis = hip (19) -> x = 190 even though the format's default is COCO-17;
    frame_id starts at 1 as the demo counts."""
    data = {
        "meta_info": {"dataset_name": "halpe", "keypoint_id2name": {str(k): n for k, n in enumerate(HALPE_NAMES)}},
        "instance_info": [{"frame_id": f, "instances": [_instance(26)]} for f in (1, 2, 3)],
    }
    path = tmp_path / "results_video.json"
    path.write_text(json.dumps(data))
    detected = read_keypoints(path)
    assert detected.format == "mmpose"
    assert detected.keypoints[0, 0, 0] == pytest.approx(190.0)
    assert list(detected.frame_indices) == [1, 2, 3]


def test_inferencer_frames_with_track_ids_choose_the_longest_track(tmp_path):
    """pred_out_dir layout [{"frame_id", "instances"}], COCO-17 by default: track 4 in 3 frames, track 9 in 1.
    pelvis = mean(hips 11, 12) -> x = 115 (+ 1000 for track 9)."""
    frames = [{"frame_id": f, "instances": [_instance(17, track=4)]} for f in range(3)]
    frames[1]["instances"].append(_instance(17, shift=1000.0, track=9, bbox_score=0.99))
    path = tmp_path / "video.json"
    path.write_text(json.dumps(frames))
    detected = read_keypoints(path)
    assert detected.person == "4" and detected.keypoints[1, 0, 0] == pytest.approx(115.0)
    assert read_keypoints(path, person="9").keypoints[0, 0, 0] == pytest.approx(1115.0)


def test_collected_inferencer_results_number_frames_by_position(tmp_path):
    """[{"predictions": [[instance]]}] per frame (what iterating the inferencer yields): frames 0, 1."""
    path = tmp_path / "collected.json"
    path.write_text(json.dumps([{"predictions": [[_instance(17)]]}, {"predictions": [[_instance(17, shift=2.0)]]}]))
    detected = read_keypoints(path)
    assert list(detected.frame_indices) == [0, 1] and detected.keypoints[1, 0, 0] == pytest.approx(117.0)
