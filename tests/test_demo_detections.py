"""The lift demo's detector file: COCO-17 results from the synthetic Human3.6M test takes, with a detector's habits."""

from __future__ import annotations

import json

import numpy as np

from datasets.camera_rigs import h36m_cameras
from datasets.cameras import project, world_to_camera
from datasets.keypoints import read_keypoints
from datasets.synthetic.detector_keypoints import write_demo_detections
from datasets.synthetic.h36m_archive import DEMO_SPEC, synthetic_figure_points


def test_demo_file_is_coco_results_of_two_people_with_gaps_that_reads_as_the_walking_take(tmp_path):
    """Person 1 is S9's Walking take (114 frames at 50 Hz: the demo spec's 100 frames + 7 x its index 2) in its
    first camera, missing in frames 40..45, 12, 77 and 95; person 2 (S9's Photo) is seen in frames 20..69 only.
    Person 1's left wrist (COCO keypoint 9) lies within 5 sigma (12.5 px) of the figure's left wrist projected
    by hand through the camera wherever its score is at least 0.3; reading the file picks person 1 (the longer
    track) and fills the 9 missing frames."""
    demo = write_demo_detections(tmp_path)
    assert (demo.fps, demo.frames) == (50.0, 114)
    records = json.loads(demo.path.read_text())
    assert {record["category_id"] for record in records} == {1}
    first = {record["image_id"]: record for record in records if record["track_id"] == 1}
    second = sorted(record["image_id"] for record in records if record["track_id"] == 2)
    assert sorted(set(range(114)) - set(first)) == [12, *range(40, 46), 77, 95]
    assert second == list(range(20, 70))
    camera = h36m_cameras("S9")[0]
    assert demo.image_size == (camera.width, camera.height)
    wrist = synthetic_figure_points(DEMO_SPEC)["S9"]["Walking"]["left_wrist"]
    expected = np.asarray(project(np.asarray(world_to_camera(wrist, camera)), camera, distort=True))
    for frame, record in first.items():
        x, y, score = record["keypoints"][27:30]
        if score >= 0.3:
            assert np.hypot(x - expected[frame, 0], y - expected[frame, 1]) < 12.5
    detected = read_keypoints(demo.path, fps=demo.fps, image_size=demo.image_size)
    assert detected.person == "1" and detected.keypoints.shape == (114, 17, 3)
    assert not detected.observed[40:46].any() and detected.observed[30].sum() > 10
