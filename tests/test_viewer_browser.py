"""The viewer HTML in a real headless Chromium: skeletons are drawn where the joints project, and move.

Each page load takes one screenshot and dumps the DOM, where the viewer leaves ``data-probe``: per view the
page pixels at which it drew every joint. The test derives the 2D panel's pixels from the keypoints and
the 3D panel's from the documented orthographic projection, compares, and checks the screenshot has the
skeleton's colours there. Skips without a Chromium binary (CI installs Debian's ``chromium``).
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import simple_camera, synthetic_views
from PIL import Image

from datasets.skeletons import get_skeleton
from datasets.store import PoseStore, write_store
from lifting.visualization import build_scenes, write_viewer
from lifting.visualization.html import FIT_SHARE
from lifting.visualization.scene import viewpoint
from lifting.visualization.style import COLOURS

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER = next((path for path in map(shutil.which, BROWSERS) if path), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason=f"no headless browser found (tried {', '.join(BROWSERS)})")

SKELETON = get_skeleton("h36m17")
WINDOW = (1200, 800)
FRAMES, LATER = 40, 30
DRIFT_M_PER_FRAME = 0.02
COLOUR_TOLERANCE = 60
SEARCH_PX = 3
SETTLE_MS = 1000
"""Virtual time the page gets before the DOM dump and screenshot. Headless Chromium dumps the DOM before it
resizes the viewport to --window-size for the screenshot, so the page is laid out for a fixed size (#size=)."""


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """Two cameras of one sequence: a fixed random pose (joints spread 0.3 m) 4 m ahead, drifting 2 cm per frame
    along world x; view 1 carries a prediction 0.2 m off at the left wrist (error 200 mm: full red) and exact
    elsewhere (0 mm: green)."""
    directory = tmp_path_factory.mktemp("browser")
    pose = np.random.default_rng(0).normal(scale=0.3, size=(17, 3)) + [0.0, 0.0, 4.0]
    drift = (DRIFT_M_PER_FRAME * np.arange(FRAMES))[:, None, None] * np.array([1.0, 0.0, 0.0])
    views = []
    for number, view in enumerate(synthetic_views([FRAMES, FRAMES])):
        joints = (pose + drift).astype(np.float32)
        pixels = (1000.0 * joints[..., :2] / joints[..., 2:] + 500.0).astype(np.float32)
        views.append(dataclasses.replace(view, sequence="walk", subject="S1", joints_3d=joints, keypoints_2d=pixels,
                                         camera=simple_camera(f"camera_{number}")))  # fmt: skip
    write_store(directory / "store", views, "h36m17", SKELETON.joint_names)
    store = PoseStore(directory / "store")
    predicted = store.read("joints_3d", 1).copy()
    predicted[:, SKELETON.index("left_wrist"), 0] += 0.2
    scenes = build_scenes(store, [0, 1], {1: predicted})
    path = write_viewer(directory / "view.html", scenes, "browser test", root=SKELETON.root)
    return {"path": path, "scenes": scenes, "directory": directory}


def _load(page, frame: int, play: bool = False) -> tuple[np.ndarray, dict]:
    screenshot = page["directory"] / f"frame_{frame}.png"
    command = [
        BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
        f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--user-data-dir={page['directory'] / 'profile'}",
        f"--virtual-time-budget={SETTLE_MS}", f"--screenshot={screenshot}", "--dump-dom",
        f"{page['path'].as_uri()}#frame={frame}&size={WINDOW[0]}x{WINDOW[1]}&play={int(play)}",
    ]  # fmt: skip
    dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    probe = json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))
    return np.asarray(Image.open(screenshot).convert("RGB"), dtype=np.int32), probe


def _has_colour(image: np.ndarray, point, colour) -> bool:
    """Whether a pixel within SEARCH_PX of ``point`` is within COLOUR_TOLERANCE (per channel) of ``colour``."""
    x, y = (int(round(value)) for value in point)
    patch = image[max(y - SEARCH_PX, 0) : y + SEARCH_PX + 1, max(x - SEARCH_PX, 0) : x + SEARCH_PX + 1]
    return bool((np.abs(patch - np.array(colour)).max(axis=-1) <= COLOUR_TOLERANCE).any())


def _expected_3d(scene, scenes, panel, frame: int) -> np.ndarray:
    """Orthographic projection, eye at (azimuth, elevation), scale FIT_SHARE * min(w, h) / body radius:
    x = w/2 + s (-sin(az) dx + cos(az) dy), y = h/2 - s (-sin(el) cos(az) dx - sin(el) sin(az) dy + cos(el) dz)."""
    left, top, width, height = panel
    view = viewpoint(scene, scenes, SKELETON.root)
    scale = FIT_SHARE * min(width, height) / view.body_radius
    dx, dy, dz = (scene.truth[frame] - view.centre).T
    az, el = view.azimuth, view.elevation
    x = width / 2 + scale * (-np.sin(az) * dx + np.cos(az) * dy)
    y = height / 2 - scale * (-np.sin(el) * np.cos(az) * dx - np.sin(el) * np.sin(az) * dy + np.cos(el) * dz)
    return np.stack([x + left, y + top], axis=-1)


def test_skeletons_are_drawn_where_the_joints_project(page):
    image, probe = _load(page, 0)
    assert probe["frame"] == 0 and [panel["view"] for panel in probe["panels"]] == [0, 1]
    for scene, panel in zip(page["scenes"], probe["panels"], strict=True):
        left, top, scale = panel["image"]
        np.testing.assert_allclose(panel["joints2d"], scene.keypoints[0] * scale + [left, top], atol=0.01)
        np.testing.assert_allclose(
            panel["joints3d"], _expected_3d(scene, page["scenes"], panel["panel3d"], 0), atol=0.01
        )
    truth_panel = probe["panels"][0]  # no prediction drawn over the truth
    for point in truth_panel["joints2d"] + truth_panel["joints3d"]:
        assert _has_colour(image, point, COLOURS["truth"]), point
    wrist = SKELETON.index("left_wrist")
    predicted = probe["panels"][1]["prediction3d"]
    assert _has_colour(image, predicted[wrist], COLOURS["errorScale"][2])  # 200 mm: red
    assert _has_colour(image, predicted[SKELETON.index("right_knee")], COLOURS["errorScale"][0])  # 0 mm: green


def test_the_timeline_moves_the_skeleton(page):
    """Frame 30 is 0.6 m further along x: every joint moves on screen, and is drawn at its new place."""
    _, before = _load(page, 0)
    image, after = _load(page, LATER)
    assert after["frame"] == LATER
    for panel_before, panel_after in zip(before["panels"], after["panels"], strict=True):
        for kind in ("joints2d", "joints3d"):
            moved = np.linalg.norm(np.subtract(panel_after[kind], panel_before[kind]), axis=-1)
            assert moved.min() > 20.0, kind
    truth_panel = after["panels"][0]  # view 1's truth lies under its prediction
    for point in truth_panel["joints2d"] + truth_panel["joints3d"]:
        assert _has_colour(image, point, COLOURS["truth"]), point


def test_play_advances_the_frames(page):
    """With #play=1 the page plays during Chromium's virtual time: the frame drawn last is no longer the first."""
    _, probe = _load(page, 5, play=True)
    assert probe["frame"] != 5


def test_a_page_whose_names_open_a_comment_and_a_script_still_loads(page):
    """A sequence named ``<!--<script>`` (a plain directory name does it) would put the data block into HTML's
    script-data double-escaped state, so its ``</script>`` no longer ends it and the page stays blank; escaped,
    the script runs and draws both views."""
    name = "<!--<script>"
    scenes = [dataclasses.replace(scene, sequence=f"h36m/{name}", title=f"{name}, camera {scene.camera}")
              for scene in page["scenes"]]  # fmt: skip
    path = write_viewer(page["directory"] / "hostile.html", scenes, name, root=SKELETON.root)
    _, probe = _load({**page, "path": path}, 0)
    assert [panel["view"] for panel in probe["panels"]] == [0, 1]
