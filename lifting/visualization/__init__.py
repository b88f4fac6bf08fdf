"""Looking at the data: a self-contained HTML viewer of pose stores and predictions, and videos of it.

    from lifting.visualization import build_scenes, select_views, write_viewer, write_video

    views = select_views(store, subject="S9", action="Walking")       # one sequence, all its cameras
    scenes = build_scenes(store, views, predictions)                  # predictions: view id -> (T, J, 3)
    write_viewer(Path("walking.html"), scenes, "S9 Walking")          # opens offline in any browser
    write_video(Path("walking.mp4"), scenes)                          # the same, for slides (mp4 or gif)

Modules: ``selection`` (which views), ``scene`` (what is drawn, computed once from ``datasets.store``),
``html`` and ``viewer_js`` (the browser viewer), ``video`` (matplotlib frames to MP4/GIF), ``style``
(colours and viewpoint shared by both).
"""

from lifting.visualization.html import scene_payload, write_viewer
from lifting.visualization.scene import ViewScene, build_scene, build_scenes, display_rotation, frustum_segments
from lifting.visualization.selection import extreme_sequences, select_views, sequence_key

__all__ = [
    "ViewScene",
    "build_scene",
    "build_scenes",
    "display_rotation",
    "extreme_sequences",
    "frustum_segments",
    "scene_payload",
    "select_views",
    "sequence_key",
    "write_viewer",
]
