"""Flows that bring keypoints and released weights to 3D.

``import-checkpoint`` (``import_checkpoint``): an author's released weights file -> a checkpoint version.
``lift``: detector keypoints -> 3D poses as a version (``flow``), one clip at a time (``clips``).
"""
