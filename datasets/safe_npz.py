"""Read third-party ``.npz`` files that hold pickled Python objects without letting them run code.

VideoPose3D-style files (``datasets.videopose3d``: Human3.6M, HumanEva-I and MPI-INF-3DHP npz files) keep
a Python dict in a 0-d object array; numpy stores such arrays as a pickle. ``np.load(allow_pickle=True)``
would hand that pickle to Python's full unpickler, which calls any function the file names (a
``__reduce__`` returning ``os.system`` runs a shell command the moment the file is read). These files are
routinely downloaded from shared drives, so they are read here instead, with an unpickler that admits only
what the formats hold: dicts, lists, tuples, strings, numbers and numpy arrays, scalars and dtypes
(``SAFE_GLOBALS``). Any other global refuses the whole file with ``UnsafePickleError`` naming the file, the
member and what was asked for, before anything it names is imported or called.

Usage::

    from datasets.safe_npz import npz_member_names, read_npz_member
    names = npz_member_names(path)                 # ["metadata", "positions_2d"]
    value = read_npz_member(path, "positions_2d")  # 0-d object array holding the dict

Our own formats never pickle: fragments and stores use ``np.load(allow_pickle=False)`` and Zarr.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from datasets.errors import reraise_if_environment

NPY_SUFFIX = ".npy"
SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        *((module, "_reconstruct") for module in ("numpy.core.multiarray", "numpy._core.multiarray")),
        *((module, "scalar") for module in ("numpy.core.multiarray", "numpy._core.multiarray")),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles (Python 2 era files) spell the bytes of an array
        *(("builtins", name) for name in ("dict", "list", "tuple", "set", "frozenset", "str", "bytes",
                                          "bytearray", "int", "float", "complex", "bool", "slice")),
        *(("__builtin__", name) for name in ("set", "frozenset", "unicode", "long", "complex", "slice")),
    }
)  # fmt: skip
"""``(module, name)`` pairs a pickle in a third-party npz may name: array and dtype reconstruction and the
builtin containers and numbers. Numpy's dtype classes (``numpy.dtypes.Float32DType``) pickle as
``numpy.dtype`` calls, so they need no entry."""
PICKLE_ENCODING = "latin1"
"""How Python 2 ``str`` objects in old pickles decode; latin1 keeps numpy array bytes intact (numpy's advice)."""


class UnsafePickleError(ValueError):
    """A pickle in a data file asked for something outside ``SAFE_GLOBALS``; nothing it named was run."""


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only ``SAFE_GLOBALS`` and refuses persistent ids."""

    def __init__(self, handle: IO[bytes], where: str) -> None:
        super().__init__(handle, encoding=PICKLE_ENCODING)
        self._where = where

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in SAFE_GLOBALS:
            raise UnsafePickleError(
                f"{self._where} refused: its pickle asks for {module}.{name}, which a pose file never holds "
                "(only dicts, lists, tuples, strings, numbers and numpy arrays are read). The file may be "
                "malicious or not what its name says; nothing in it was run."
            )
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self._where} refused: its pickle uses persistent ids, which pose files never do")


def npz_member_names(path: str | Path) -> list[str]:
    """The array names in an ``.npz`` (members without their ``.npy`` suffix), sorted.

    Raises:
        ValueError: ``path`` is not a readable zip archive; the message names it.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return sorted(name.removesuffix(NPY_SUFFIX) for name in archive.namelist() if name.endswith(NPY_SUFFIX))
    except (OSError, zipfile.BadZipFile) as error:
        reraise_if_environment(error)
        raise ValueError(f"{path} is not a readable npz file ({type(error).__name__}: {error})") from error


def _read_header(handle: IO[bytes], where: str) -> np.dtype:
    """Read an ``.npy`` header from ``handle`` (left at the data) and return the array's dtype."""
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        _, _, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        _, _, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise ValueError(f"{where} has .npy format version {version}; only 1.0 and 2.0 are read")
    return dtype


def read_npz_member(path: str | Path, key: str) -> np.ndarray:
    """One array of an ``.npz``; object arrays are unpickled with the restricted unpickler.

    Args:
        path: The ``.npz`` file.
        key: Member name without ``.npy``, e.g. ``"positions_3d"``.

    Returns:
        The array as saved (an object array for pickled members, e.g. ``()`` holding a dict).

    Raises:
        UnsafePickleError: The member's pickle names anything outside ``SAFE_GLOBALS``.
        KeyError: The file has no member ``key``.
        ValueError: The file or member is not readable (truncated, corrupt); the message names the file.
    """
    where = f"{path}::{key}"
    try:
        with zipfile.ZipFile(path) as archive:
            if f"{key}{NPY_SUFFIX}" not in archive.namelist():
                raise KeyError(key)
            with archive.open(f"{key}{NPY_SUFFIX}") as handle:
                dtype = _read_header(handle, where)
                if not dtype.hasobject:
                    handle.seek(0)
                    return np.lib.format.read_array(handle, allow_pickle=False)
                value = _RestrictedUnpickler(handle, where).load()
    except (UnsafePickleError, KeyError):
        raise
    except Exception as error:  # noqa: BLE001 - a corrupt pickle or zip can raise almost any type
        reraise_if_environment(error)
        raise ValueError(f"{where} is not readable ({type(error).__name__}: {error})") from error
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{where} holds a pickled {type(value).__name__}, not an array")
    return value
