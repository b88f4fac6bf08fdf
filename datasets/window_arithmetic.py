"""Window arithmetic shared by the windows (``datasets.windows``) and the models' configs (``lifting.models``).

A window of ``frames`` consecutive frames is represented by one pose every ``output_stride`` frames around
its centre. The count of those poses is a fact both sides need: the windows cut that many poses, and a model
sizes its positional embeddings by it. This module holds it once, with no imports, so that models may read
it as they read the skeleton definitions (``datasets.skeletons``) without loading the data code.

    >>> window_tokens(351, 5)
    71
"""

from __future__ import annotations


def window_tokens(frames: int, output_stride: int = 1) -> int:
    """Poses of a window: ``(frames - 1) // output_stride + 1`` (Uplift-and-Upsample Sec. 3.1: N = 351, s_out = 5: 71).

    Args:
        frames: Window length ``N`` in frames; ``frames - 1`` is a multiple of ``output_stride`` in every valid
            configuration (``WindowConfig`` and ``UpliftUpsampleConfig`` check it).
        output_stride: ``s_out``: frames between consecutive poses.

    Returns:
        The pose (token) count.
    """
    return (frames - 1) // output_stride + 1
