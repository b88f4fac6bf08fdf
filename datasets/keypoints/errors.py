"""The one error a keypoint reader raises for a file it cannot use."""

from __future__ import annotations

from pathlib import Path


class KeypointFileError(ValueError):
    """A detector keypoint file that cannot be lifted: unknown format, no usable person, wrong joint count, ...

    The message is one line that names the file, says why, and where there is one, what to do about it. It is
    a ``ValueError`` (the file's content is at fault, never the environment: ``datasets.errors``).
    """

    def __init__(self, path: Path | str, why: str) -> None:
        super().__init__(f"{path}: {why}")
        self.path = Path(path)
        self.why = why
