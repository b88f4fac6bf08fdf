"""The viewer's picture as a video for slides and papers: matplotlib frames into MP4 (ffmpeg) or GIF (Pillow).

The same ``ViewScene`` numbers, colours and initial viewpoint as the HTML viewer (``style``, ``viewpoint``):
per view a 3D panel (orthographic, equal axes, ground grid, frustums) above the 2D panel. MP4 goes through
the ffmpeg binary that the ``imageio-ffmpeg`` wheel ships (works offline); GIF through Pillow.

    write_video(Path("walking.mp4"), build_scenes(store, [0, 1, 2, 3]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from tqdm import tqdm

from lifting.visualization.scene import ViewScene, viewpoint
from lifting.visualization.style import COLOURS, ERROR_LIMIT_MM, GRID_STEP_M, rgb_float

PANEL_WIDTH_PX, FIGURE_HEIGHT_PX = 400, 720
"""One column per view; both multiples of 16, the macro-block size H.264 encoders want."""
VIDEO_DPI = 100
VIDEO_FORMATS = (".mp4", ".gif")
LEGEND = (
    ("truth", "ground truth"),
    ("prediction", f"prediction (joints: error 0-{ERROR_LIMIT_MM:.0f} mm, green to red)"),
)


def _error_colours(errors_mm: np.ndarray) -> np.ndarray:
    """(J,) errors -> (J, 3) RGB floats on the viewer's green -> yellow -> red scale."""
    stops = np.array(COLOURS["errorScale"], dtype=np.float64) / 255.0
    position = np.clip(errors_mm / ERROR_LIMIT_MM, 0.0, 1.0) * (len(stops) - 1)
    return np.stack([np.interp(position, np.arange(len(stops)), stops[:, k]) for k in range(3)], axis=-1)


def _setup_3d(axes, scene: ViewScene, scenes: Sequence[ViewScene], root: int) -> None:
    view = viewpoint(scene, scenes, root)
    centre, radius = view.centre, view.body_radius
    axes.set_proj_type("ortho")
    axes.view_init(elev=math.degrees(view.elevation), azim=math.degrees(view.azimuth))
    for setter, value in zip((axes.set_xlim, axes.set_ylim, axes.set_zlim), centre, strict=True):
        setter(value - radius, value + radius)
    axes.set_box_aspect((1, 1, 1))
    axes.set_axis_off()
    reach = math.ceil(2 * radius / GRID_STEP_M) * GRID_STEP_M
    grid = rgb_float(COLOURS["grid"])
    for offset in np.arange(-reach, reach + 1e-9, GRID_STEP_M):
        x, y = centre[0] + offset, centre[1] + offset
        span = (-reach, reach)
        axes.plot([x, x], [centre[1] + s for s in span], [view.ground] * 2, color=grid, linewidth=0.6)
        axes.plot([centre[0] + s for s in span], [y, y], [view.ground] * 2, color=grid, linewidth=0.6)
    for other in scenes:
        if other.sequence == scene.sequence:
            colour = rgb_float(COLOURS["camera" if other is scene else "otherCamera"])
            for segment in other.frustum:
                axes.plot(*segment.T, color=colour, linewidth=1.0)
    axes.set_title(scene.title, fontsize=8)


def _setup_2d(axes, scene: ViewScene) -> None:
    axes.add_patch(_rectangle(scene))
    axes.set_xlim(0, scene.width)
    axes.set_ylim(scene.height, 0)
    axes.set_aspect("equal")
    axes.set_xticks([])
    axes.set_yticks([])


def _rectangle(scene: ViewScene):
    from matplotlib.patches import Rectangle

    return Rectangle((0, 0), scene.width, scene.height, facecolor=rgb_float(COLOURS["image"]), edgecolor="0.35")


def _draw_skeleton(axes, points: np.ndarray, scene: ViewScene, colour, width: float, joint_colours=None) -> list:
    """Bones and joints of one pose ((J, 3) on 3D axes, (J, 2) on 2D axes); returns the artists."""
    artists = [axes.plot(*points[[parent, child]].T, color=colour, linewidth=width)[0] for parent, child in scene.bones]
    artists.append(axes.scatter(*points.T, c=[colour] if joint_colours is None else joint_colours, s=12, zorder=3))
    return artists


def _draw_frame(axes_3d, axes_2d, scene: ViewScene, frame: int) -> list:
    """Draw one frame's poses (the view's last frame once it has ended); returns the artists to remove."""
    t = min(frame, scene.frames - 1)
    truth, prediction = rgb_float(COLOURS["truth"]), rgb_float(COLOURS["prediction"])
    artists = _draw_skeleton(axes_3d, scene.truth[t], scene, truth, 2.0)
    artists += _draw_skeleton(axes_2d, scene.keypoints[t], scene, truth, 1.5)
    label = f"frame {t}"
    if scene.prediction is not None:
        colours = _error_colours(scene.joint_error_mm[t])
        artists += _draw_skeleton(axes_3d, scene.prediction[t], scene, prediction, 1.5, colours)
        if scene.reprojection is not None:
            artists += _draw_skeleton(axes_2d, scene.reprojection[t], scene, prediction, 1.0)
        label += f", MPJPE {scene.frame_mpjpe_mm[t]:.1f} mm"
    if scene.out_of_frame[t]:
        label += ", out of frame"
    axes_2d.set_title(label, fontsize=8, color="C3" if scene.out_of_frame[t] else "0.1")
    return artists


def render_frames(scenes: Sequence[ViewScene], root: int = 0, progress: bool = True):
    """Yield each frame of the video as an (H, W, 3) uint8 RGB image, with a tqdm progress bar."""
    figure = Figure(figsize=(PANEL_WIDTH_PX * len(scenes) / VIDEO_DPI, FIGURE_HEIGHT_PX / VIDEO_DPI), dpi=VIDEO_DPI)
    canvas = FigureCanvasAgg(figure)
    grid = figure.add_gridspec(2, len(scenes), height_ratios=(3, 2), left=0.01, right=0.99, top=0.95, bottom=0.02)
    panels = []
    for column, scene in enumerate(scenes):
        axes_3d = figure.add_subplot(grid[0, column], projection="3d")
        axes_2d = figure.add_subplot(grid[1, column])
        _setup_3d(axes_3d, scene, scenes, root)
        _setup_2d(axes_2d, scene)
        panels.append((axes_3d, axes_2d, scene))
    if any(scene.prediction is not None for scene in scenes):
        handles = [Line2D([], [], color=rgb_float(COLOURS[key]), label=label) for key, label in LEGEND]
        figure.legend(handles=handles, loc="lower left", fontsize=8, frameon=False)
    frames = max(scene.frames for scene in scenes)
    for frame in tqdm(range(frames), desc="video frames", unit="frame", disable=not progress):
        artists = [
            artist for axes_3d, axes_2d, scene in panels for artist in _draw_frame(axes_3d, axes_2d, scene, frame)
        ]
        canvas.draw()
        yield np.asarray(canvas.buffer_rgba())[..., :3].copy()
        for artist in artists:
            artist.remove()


def write_video(path: Path, scenes: Sequence[ViewScene], root: int = 0, fps: float | None = None,
                progress: bool = True) -> Path:  # fmt: skip
    """Write the scenes as an MP4 (H.264 via imageio-ffmpeg) or a GIF (Pillow).

    Args:
        path: ``.mp4`` or ``.gif`` file.
        scenes: Views, left to right.
        root: Root joint index.
        fps: Frames per second of the video; None: the first view's frame rate.
        progress: Show a tqdm progress bar.

    Returns:
        ``path``.
    """
    path = Path(path)
    if path.suffix.lower() not in VIDEO_FORMATS:
        raise ValueError(f"video must end in one of {VIDEO_FORMATS}, got {path.name!r}")
    fps = float(fps or scenes[0].fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = render_frames(scenes, root, progress)
    if path.suffix.lower() == ".gif":
        from PIL import Image

        images = [Image.fromarray(frame) for frame in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=1000.0 / fps, loop=0)
        return path
    import imageio_ffmpeg

    first = next(frames)
    writer = imageio_ffmpeg.write_frames(str(path), (first.shape[1], first.shape[0]), fps=fps, codec="libx264",
                                         pix_fmt_out="yuv420p", quality=7, macro_block_size=16)  # fmt: skip
    writer.send(None)
    writer.send(first)
    for frame in frames:
        writer.send(frame)
    writer.close()
    return path
