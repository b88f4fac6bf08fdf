"""Read the authors' released PyTorch files (``.bin``, ``.pth``) without running any code they might carry.

``torch.load(weights_only=True)`` unpickles with torch's restricted unpickler, which builds tensors, storages
and plain containers and refuses every other global. The released MixSTE ``.bin`` also holds a NumPy
``RandomState`` state (a tuple with a ``uint32`` array), so the NumPy globals that third-party pose files may
name (``datasets.safe_npz.SAFE_GLOBALS``: array and scalar reconstruction, ``ndarray``, ``dtype``) are admitted
too, with the dtype classes torch needs to rebuild a dtype (``numpy.dtypes.UInt32DType`` and the other numeric
ones). Anything else (``os.system``, ``builtins.eval``, a class of the authors' code) refuses the whole file
with ``UnsafePickleError`` naming the file and what it asked for; nothing it names is imported or called.
"""

from __future__ import annotations

import functools
import pickle
import pickletools
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from datasets.safe_npz import SAFE_GLOBALS, UnsafePickleError

NUMERIC_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                  "float16", "float32", "float64", "complex64", "complex128")  # fmt: skip
"""NumPy dtypes whose classes torch's unpickler may rebuild (a ``RandomState`` state holds ``uint32``)."""
TORCH_ADMITTED_MODULES = ("torch", "collections")
"""Modules of the globals torch's own restricted unpickler admits (tensor rebuilding, storages, OrderedDict)."""
STRING_OPCODES = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8", "SHORT_BINSTRING",
                            "BINSTRING", "STRING"})  # fmt: skip
NUMPY_CORE_MOVED = ("numpy.core.", "numpy._core.")
"""NumPy 2 moved ``numpy.core`` to ``numpy._core``; files written under either name are read."""


@functools.cache
def numpy_safe_globals() -> tuple[Any, ...]:
    """``SAFE_GLOBALS``' NumPy entries as torch's allowlist wants them: ``(object, "module.name")`` or objects."""
    admitted: list[Any] = []
    for module, name in sorted(SAFE_GLOBALS):
        if not module.startswith("numpy"):
            continue  # torch's unpickler handles builtins itself
        resolved = module.replace(*NUMPY_CORE_MOVED) if module.startswith(NUMPY_CORE_MOVED[0]) else module
        owner = functools.reduce(getattr, resolved.split(".")[1:], np)  # an imported NumPy module, by attributes
        admitted.append((getattr(owner, name), f"{module}.{name}"))
    admitted += [type(np.dtype(name)) for name in NUMERIC_DTYPES]
    return tuple(admitted)


def _pickle_stream(handle: IO[bytes]) -> IO[bytes]:
    """The pickle inside a torch zip file (``<archive>/data.pkl``), else the file itself."""
    if zipfile.is_zipfile(handle):
        archive = zipfile.ZipFile(handle)
        member = next((name for name in archive.namelist() if name.endswith("/data.pkl") or name == "data.pkl"), None)
        if member is None:
            raise ValueError("a zip archive without a data.pkl")
        return archive.open(member)
    handle.seek(0)
    return handle


def refused_global(path: str | Path) -> str | None:
    """The first global a file's pickle names outside the admitted ones, found by reading opcodes (nothing runs).

    Returns:
        ``"module.name"``, or None when every global is admitted.

    Raises:
        ValueError: The file is not a pickle (or a torch zip holding one).
    """
    admitted = {f"{module}.{name}" for module, name in SAFE_GLOBALS}
    with open(path, "rb") as handle:
        try:
            strings: list[str] = []
            for opcode, argument, _ in pickletools.genops(_pickle_stream(handle)):
                if opcode.name in STRING_OPCODES:
                    strings.append(str(argument))
                    continue
                if opcode.name not in ("GLOBAL", "STACK_GLOBAL"):
                    continue
                name = str(argument).replace(" ", ".") if opcode.name == "GLOBAL" else ".".join(strings[-2:])
                if name not in admitted and not name.startswith(TORCH_ADMITTED_MODULES):
                    return name
        except (ValueError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as error:
            raise ValueError(f"not a pickle ({error})") from error
    return None


def load_released_torch_file(path: str | Path) -> Any:
    """The object a released ``.bin``/``.pth`` holds, read with ``weights_only=True`` onto the CPU.

    Args:
        path: The file (torch's zip format or the legacy pickle format).

    Returns:
        What was saved (a state dict, or MixSTE's checkpoint dict), tensors on the CPU.

    Raises:
        UnsafePickleError: The file asks for anything outside the admitted types; names the file and the global.
        ValueError: Not a torch file at all (truncated, another format); names the file.
    """
    try:
        with torch.serialization.safe_globals(list(numpy_safe_globals())):
            return torch.load(Path(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        try:
            asked = refused_global(path)
        except ValueError as scan_error:
            raise ValueError(f"{path} is not a PyTorch weights file ({scan_error})") from None
        what = f"asks for {asked}" if asked else "uses pickle instructions the safe loader does not run"
        raise UnsafePickleError(
            f"{path} refused: its pickle {what}, which released weights never need (only tensors, containers, "
            "numbers and NumPy arrays are read). The file may be malicious or not what its name says; nothing "
            "in it was run."
        ) from None
    except (RuntimeError, EOFError, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{path} is not a readable PyTorch file ({first_line})") from error
