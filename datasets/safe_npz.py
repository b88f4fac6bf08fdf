"""Read third-party ``.npz`` files that hold pickled Python objects without letting them run code.

VideoPose3D-style files (``datasets.videopose3d``: Human3.6M, HumanEva-I and MPI-INF-3DHP npz files) keep
a Python dict in a 0-d object array; numpy stores such arrays as a pickle. ``np.load(allow_pickle=True)``
would hand that pickle to Python's full unpickler, which calls any function the file names (a
``__reduce__`` returning ``os.system`` runs a shell command the moment the file is read). These files are
routinely downloaded from shared drives, so they are read here instead, with an unpickler that admits only
what the formats hold: dicts, lists, tuples, strings, numbers and numpy arrays, scalars and dtypes
(``SAFE_GLOBALS``). Any other global refuses the whole file with ``UnsafePickleError`` naming the file, the
member and what was asked for, before anything it names is imported or called.

Memory stays bounded on hostile files. A member whose zip header declares more than ``MAX_MEMBER_BYTES``
inflated, or whose ``.npy`` header declares more data than the member holds, is refused
(``OversizedMemberError``) before anything is inflated: a 2.6 MB zip bomb never becomes gigabytes. Inside a
pickle, the few admitted callables that allocate from a small argument (``bytearray(N)``, ``bytes(N)``,
numpy arrays by shape, dtypes by size) are checked first: nothing may be larger than the pickle itself,
since a pose file's pickle holds its arrays' bytes inline.

Usage::

    from datasets.safe_npz import npz_member_names, read_npz_member
    names = npz_member_names(path)                 # ["metadata", "positions_2d"]
    value = read_npz_member(path, "positions_2d")  # 0-d object array holding the dict

Our own formats never pickle: fragments and stores use ``np.load(allow_pickle=False)`` and Zarr.
"""

from __future__ import annotations

import math
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from datasets.errors import reraise_if_environment
from datasets.source_entries import open_regular

NPY_SUFFIX = ".npy"
MAX_MEMBER_BYTES = 2 * 1024**3
"""Largest inflated ``.npy`` member read: 2 GiB. An AMASS motion array is tens of MB, VideoPose3D's largest
2D detection files a few hundred MB; a member declaring more is refused from its zip header, uninflated."""
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


class OversizedMemberError(ValueError):
    """A member declares more bytes than it may hold or than ``MAX_MEMBER_BYTES``; nothing was inflated."""


def _declared_bytes(shape: Any, dtype: Any) -> int | None:
    """Bytes an array of ``shape`` and ``dtype`` takes; None when they do not describe an array."""
    try:
        sizes = (shape,) if isinstance(shape, int) else tuple(int(size) for size in shape)
        return math.prod(sizes) * np.dtype(dtype).itemsize
    except (TypeError, ValueError):
        return None


class _CheckedNdarray(np.ndarray):
    """What ``numpy.ndarray`` resolves to inside a pickle: called, it checks the size before allocating.

    ``_reconstruct`` (how numpy pickles arrays) gets it as its class argument and swaps it for ``np.ndarray``.
    """

    budget = 0
    where = ""

    def __new__(cls, shape: Any, dtype: Any = float, *args: Any, **kwargs: Any) -> np.ndarray:
        _refuse_if_larger(_declared_bytes(shape, dtype), f"numpy.ndarray{(shape, dtype)!r}", cls.budget, cls.where)
        return np.ndarray(shape, dtype, *args, **kwargs)


def _refuse_if_larger(size: int | None, asked: str, budget: int, where: str) -> None:
    """Raise ``UnsafePickleError`` when a pickle asks to build ``size`` bytes, more than its own ``budget``."""
    if size is not None and size > budget:
        raise UnsafePickleError(
            f"{where} refused: its pickle asks for {asked[:200]}, {size} bytes, more than the pickle itself holds "
            f"({budget} bytes); a pose file's pickle holds its data inline, so this is malicious or corrupt and "
            "nothing was allocated"
        )


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only ``SAFE_GLOBALS``, refuses persistent ids, and caps what it builds.

    Args:
        handle: The pickle's bytes.
        where: ``file::member``, for messages.
        budget: The pickle's size in bytes: no array, dtype or byte string it asks for may be larger.
    """

    def __init__(self, handle: IO[bytes], where: str, budget: int) -> None:
        super().__init__(handle, encoding=PICKLE_ENCODING)
        self._where, self._budget = where, budget

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in SAFE_GLOBALS:
            raise UnsafePickleError(
                f"{self._where} refused: its pickle asks for {module}.{name}, which a pose file never holds "
                "(only dicts, lists, tuples, strings, numbers and numpy arrays are read). The file may be "
                "malicious or not what its name says; nothing in it was run."
            )
        found = super().find_class(module, name)
        return self._checked(name, found)

    def _checked(self, name: str, found: Any) -> Any:
        """``found``, or a stand-in that refuses sizes over the budget before calling it."""
        budget, where = self._budget, self._where

        def sized_by_argument(*args: Any) -> Any:  # bytearray(N), bytes(N) allocate N zeroed bytes
            if len(args) == 1 and isinstance(args[0], int):
                _refuse_if_larger(args[0], f"{name}({args[0]})", budget, where)
            return found(*args)

        def reconstruct(subtype: Any, shape: Any, dtype: Any) -> Any:
            _refuse_if_larger(_declared_bytes(shape, dtype), f"an array of shape {shape!r}", budget, where)
            checked = isinstance(subtype, type) and issubclass(subtype, _CheckedNdarray)
            return found(np.ndarray if checked else subtype, shape, dtype)

        def sized_result(*args: Any) -> Any:  # a dtype or scalar: check the item size it declares
            value = found(*args)
            _refuse_if_larger(getattr(value, "itemsize", None), f"{name} of {value!r}"[:200], budget, where)
            return value

        stand_ins: dict[str, Callable[..., Any]] = {
            "bytearray": sized_by_argument, "bytes": sized_by_argument, "_reconstruct": reconstruct,
            "dtype": sized_result, "scalar": sized_result,
        }  # fmt: skip
        if name == "ndarray":
            return type("ndarray", (_CheckedNdarray,), {"budget": budget, "where": where})
        return stand_ins.get(name, found)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self._where} refused: its pickle uses persistent ids, which pose files never do")


def npz_member_names(path: str | Path) -> list[str]:
    """The array names in an ``.npz`` (members without their ``.npy`` suffix), sorted.

    Raises:
        ValueError: ``path`` is not a readable zip archive, or not a regular file; the message names it.
    """
    try:
        with open_regular(path) as handle, zipfile.ZipFile(handle) as archive:
            return sorted(name.removesuffix(NPY_SUFFIX) for name in archive.namelist() if name.endswith(NPY_SUFFIX))
    except (OSError, zipfile.BadZipFile) as error:
        reraise_if_environment(error)
        raise ValueError(f"{path} is not a readable npz file ({type(error).__name__}: {error})") from error


def _read_header(handle: IO[bytes], where: str) -> tuple[tuple[int, ...], np.dtype]:
    """Read an ``.npy`` header from ``handle`` (left at the data); the array's shape and dtype."""
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise ValueError(f"{where} has .npy format version {version}; only 1.0 and 2.0 are read")
    return tuple(shape), dtype


def read_member_array(
    archive: zipfile.ZipFile, key: str, where: str, pickled: bool = False, limit: int = MAX_MEMBER_BYTES
) -> np.ndarray:
    """One ``.npy`` member of an open npz, sizes checked from its headers before anything is inflated.

    Object members are refused, or with ``pickled`` unpickled by the restricted unpickler, whose budget is
    the member's size.

    Args:
        archive: The open ``.npz``.
        key: Member name without ``.npy``.
        where: ``file::key``, for messages.
        pickled: Whether a pickled (object) member is read; when False it is refused (``ValueError``).
        limit: Largest inflated member size read, bytes.

    Raises:
        KeyError: No member ``key``.
        OversizedMemberError: The zip header declares more than ``limit`` bytes, or the ``.npy`` header more
            data than the member holds; names the member and both sizes.
        UnsafePickleError: The member's pickle names anything outside ``SAFE_GLOBALS`` or asks for more
            than it holds.
    """
    info = archive.getinfo(f"{key}{NPY_SUFFIX}")
    if info.file_size > limit:
        raise OversizedMemberError(
            f"{where} refused: its zip header declares {info.file_size} bytes once inflated, more than the "
            f"{limit}-byte limit of one member (a zip bomb, or not a pose file); nothing was inflated"
        )
    with archive.open(info) as handle:
        shape, dtype = _read_header(handle, where)
        if dtype.hasobject:
            if not pickled:
                raise ValueError(f"{where} holds pickled Python objects; only plain numeric and text arrays are read")
            return _RestrictedUnpickler(handle, where, info.file_size).load()
        held, declared = info.file_size - handle.tell(), _declared_bytes(shape, dtype)
        if declared is None or declared > held:
            raise OversizedMemberError(
                f"{where} refused: its .npy header declares shape {shape} of {dtype} ({declared} bytes), but "
                f"the member holds {held} bytes of data; nothing was allocated"
            )
        handle.seek(0)
        return np.lib.format.read_array(handle, allow_pickle=False)


def read_npz_member(path: str | Path, key: str) -> np.ndarray:
    """One array of an ``.npz``; object arrays are unpickled with the restricted unpickler.

    Args:
        path: The ``.npz`` file.
        key: Member name without ``.npy``, e.g. ``"positions_3d"``.

    Returns:
        The array as saved (an object array for pickled members, e.g. ``()`` holding a dict).

    Raises:
        UnsafePickleError: The member's pickle names anything outside ``SAFE_GLOBALS``.
        OversizedMemberError: The member declares more than it may hold (``read_member_array``).
        KeyError: The file has no member ``key``.
        ValueError: The file or member is not readable (truncated, corrupt, not a regular file); the message
            names the file.
    """
    where = f"{path}::{key}"
    try:
        with open_regular(path) as handle, zipfile.ZipFile(handle) as archive:
            if f"{key}{NPY_SUFFIX}" not in archive.namelist():
                raise KeyError(key)
            value = read_member_array(archive, key, where, pickled=True)
    except (UnsafePickleError, OversizedMemberError, KeyError):
        raise
    except Exception as error:  # noqa: BLE001 - a corrupt pickle or zip can raise almost any type
        reraise_if_environment(error)
        raise ValueError(f"{where} is not readable ({type(error).__name__}: {error})") from error
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{where} holds a pickled {type(value).__name__}, not an array")
    return value
