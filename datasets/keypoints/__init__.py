"""2D detector keypoints (COCO, mmpose, AlphaPose, OpenPose, VideoPose3D, plain arrays) -> Human3.6M-17.

Public API::

    from datasets.keypoints import KEYPOINT_FORMATS, DetectedKeypoints, KeypointFileError, read_keypoints
    from datasets.keypoints import discover_keypoint_inputs  # a folder of clips -> one input per clip

One reader module per format returns the file as read (``tracks.RawDetections``); ``tracks.assemble``
chooses the person, maps joints by name (``joint_mapping``) and fills gaps, the same way for every format.
"""

from datasets.keypoints.detected import DEFAULT_FPS, DetectedKeypoints
from datasets.keypoints.errors import KeypointFileError
from datasets.keypoints.joint_mapping import KEYPOINT_JOINT_ORDERS
from datasets.keypoints.read import KEYPOINT_FORMATS, detect_format, discover_keypoint_inputs, read_keypoints

__all__ = [
    "DEFAULT_FPS",
    "KEYPOINT_FORMATS",
    "KEYPOINT_JOINT_ORDERS",
    "DetectedKeypoints",
    "KeypointFileError",
    "detect_format",
    "discover_keypoint_inputs",
    "read_keypoints",
]
