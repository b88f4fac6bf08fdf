"""Lifted poses out to other tools' formats (``bvh``: motion files for animation software)."""
