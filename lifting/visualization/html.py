"""The viewer as one self-contained HTML file: scene numbers as base64 float32, drawn by an embedded script.

Why plain canvas JavaScript and not plotly, three.js, Rerun or viser: the file must open offline in any
browser and be attached to an issue or a paper's supplement. A plotly or three.js bundle adds 1-4 MB of
library to every file and a 3D scene graph we do not need (skeletons are a few dozen line segments per
frame); Rerun ``.rrd`` files and viser need their own viewer or a running server. The script here
(``viewer_js``) is about 13 KB, has no dependency, and draws orthographic views with equal axes by
construction.

    write_viewer(Path("view.html"), build_scenes(store, [0, 1, 2, 3]), title="AMASS CMU 01_01")
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datasets.escaping import html_text, script_json
from lifting.visualization.scene import Viewpoint, ViewScene, viewpoint
from lifting.visualization.style import COLOURS, ERROR_LIMIT_MM, GRID_STEP_M
from lifting.visualization.viewer_js import VIEWER_JS

PANEL_3D_SHARE = 0.58
"""Fraction of a column's height given to the 3D panel (the rest is the 2D panel)."""
FIT_SHARE = 0.42
"""The fitted radius spans this fraction of the 3D panel's smaller side (0.5 would touch the border)."""
TIMELINE_HEIGHT_PX = 44
PANEL_MARGIN_PX = 10
TITLE_HEIGHT_PX = 20

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
html, body {{ margin: 0; height: 100%; overflow: hidden; font: 13px sans-serif; background: #fff; color: #1e1e1e; }}
#header {{ padding: 6px 10px; border-bottom: 1px solid #ddd; white-space: nowrap; overflow: hidden; }}
#panels {{ display: flex; }}
.column {{ display: flex; flex-direction: column; border-right: 1px solid #eee; }}
canvas {{ display: block; }}
#controls {{ padding: 4px 10px 6px; border-top: 1px solid #ddd; }}
#row {{ display: flex; align-items: center; gap: 10px; }}
#slider {{ flex: 1; }}
</style></head>
<body>
<div id="header"><b>{title}</b> &middot; drag to orbit, wheel to zoom, space to play, &larr;/&rarr; to step,
f to fit body/scene</div>
<div id="panels"></div>
<div id="controls"><canvas id="timeline"></canvas>
<div id="row"><button id="play">play</button><input id="slider" type="range" min="0" value="0">
<select id="speed"><option value="0.25">0.25x</option><option value="0.5">0.5x</option>
<option value="1" selected>1x</option><option value="2">2x</option></select><span id="label"></span></div></div>
<script id="scene-data" type="application/json">{data}</script>
<script>{script}</script>
</body></html>
"""


def _base64(values: np.ndarray | None) -> str | None:
    """Little-endian float32 bytes as base64 (what the script's ``f32`` decodes), or None."""
    if values is None:
        return None
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f4").tobytes()).decode("ascii")


def _viewpoint(view: Viewpoint) -> dict:
    return {
        "centre": view.centre.tolist(), "bodyRadius": view.body_radius, "sceneRadius": view.scene_radius,
        "ground": view.ground, "azimuth": view.azimuth, "elevation": view.elevation,
    }  # fmt: skip


def scene_payload(scenes: Sequence[ViewScene], keypoints_name: str, root: int, fit: str = "body") -> dict:
    """The JSON document the script reads: settings, colours, and per view its arrays in base64.

    Args:
        scenes: The views, left to right.
        keypoints_name: Store array the 2D keypoints came from (shown in the 2D panel).
        root: Root joint index (the 3D panel orbits the root's mean position).
        fit: ``"body"`` (the skeleton's whole trajectory fills the 3D panel) or ``"scene"`` (the cameras too).
    """
    if fit not in ("body", "scene"):
        raise ValueError(f"fit must be 'body' or 'scene', got {fit!r}")
    views = [
        {
            "id": scene.view_id, "title": scene.title, "truthLabel": scene.truth_label, "sequence": scene.sequence,
            "camera": scene.camera, "fps": scene.fps, "width": scene.width, "height": scene.height,
            "frames": scene.frames,
            "bones": [list(bone) for bone in scene.bones],
            "truth": _base64(scene.truth), "keypoints": _base64(scene.keypoints), "frustum": _base64(scene.frustum),
            "outOfFrame": _base64(scene.out_of_frame), "prediction": _base64(scene.prediction),
            "reprojection": _base64(scene.reprojection), "jointError": _base64(scene.joint_error_mm),
            "frameMpjpe": _base64(scene.frame_mpjpe_mm), **_viewpoint(viewpoint(scene, scenes, root)),
        }
        for scene in scenes
    ]  # fmt: skip
    return {
        "joints": int(scenes[0].truth.shape[1]), "root": int(root), "keypointsName": keypoints_name,
        "fit": fit, "colours": COLOURS, "errorLimitMm": ERROR_LIMIT_MM,
        "gridStep": GRID_STEP_M,
        "panel3dShare": PANEL_3D_SHARE, "fitShare": FIT_SHARE, "timelineHeight": TIMELINE_HEIGHT_PX,
        "margin": PANEL_MARGIN_PX, "titleHeight": TITLE_HEIGHT_PX, "views": views,
    }  # fmt: skip


def write_viewer(
    path: Path,
    scenes: Sequence[ViewScene],
    title: str,
    keypoints_name: str = "keypoints_2d",
    root: int = 0,
    fit: str = "body",
) -> Path:
    """Write the self-contained viewer HTML file.

    Args:
        path: The ``.html`` file.
        scenes: Views, left to right (``scene.build_scenes``).
        title: Page title and header.
        keypoints_name: Store array of the 2D keypoints.
        root: Root joint index of the skeleton.
        fit: Initial 3D zoom, see ``scene_payload``.

    Returns:
        ``path``.
    """
    if not scenes:
        raise ValueError("write_viewer needs at least one view")
    data = script_json(scene_payload(scenes, keypoints_name, root, fit))  # names from data hold anything
    page = _PAGE.format(title=html_text(title), data=data, script=VIEWER_JS)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
