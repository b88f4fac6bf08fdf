"""The ``lift`` stage: detector keypoints -> 3D poses as a version (``flow``), one clip at a time (``clips``)."""
