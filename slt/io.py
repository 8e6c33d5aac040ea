"""Save an slt result to a netCDF file atomically, and load it back.

The file is the result's ``xarray.DataTree`` as netCDF-4 (HDF5, written with ``h5netcdf``), so
ArviZ and xarray read it too: ``xarray.open_datatree(path)``.

:func:`save`, like every file slt writes (:func:`write_atomic`: HTML and Markdown reports,
validation tables, figures, training checkpoints), is atomic: it writes a temporary file in the
target's directory, flushes it to disk (``fsync``) and renames it onto the target with
:func:`os.replace`, which POSIX and Windows perform atomically within one file system. A crash
or an exception mid-write leaves the previous file, if any, untouched and removes the temporary
file; a reader never sees half a file.

netCDF stores a one-element attribute array as a scalar, and no name for the root group;
:func:`save` records which attributes were one-element arrays or lists (in the attribute
:data:`LENGTH1_ATTR`, as JSON) and the root's name (root attribute :data:`NAME_ATTR`), and
:func:`load` restores them and drops the records, so that, e.g., a one-chain result comes back
identical (``xarray.testing.assert_identical``).
"""

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np
import xarray as xr

from slt.result import LLCResult

__all__ = [
    "ENGINE",
    "LENGTH1_ATTR",
    "NAME_ATTR",
    "atomic_path",
    "check_writable",
    "load",
    "save",
    "write_atomic",
]

#: The xarray netCDF engine used to write and read.
ENGINE: Final = "h5netcdf"
#: Attribute that records which attributes of a node or variable were one-element sequences.
LENGTH1_ATTR = "slt_length1_attrs"
#: Root attribute that records the name of the root node (netCDF has none).
NAME_ATTR = "slt_root_name"
_LLC_ATTRS = ("llc", "llc_mcse", "llc_per_chain", "init_loss", "rhat", "ess_bulk", "ess_tail")


def save(datatree_or_result: xr.DataTree | LLCResult, path: str | os.PathLike[str]) -> Path:
    """Write an :class:`~slt.LLCResult` (its ``datatree``) or any DataTree to ``path``, atomically.

    Parameters
    ----------
    datatree_or_result
        What to save; an LLCResult is saved as its ``datatree``, which holds every number of it.
    path
        The netCDF file to write (``.nc`` by convention); an existing file is replaced.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        When ``datatree_or_result`` is neither a DataTree nor an LLCResult.
    FileNotFoundError
        When the directory of ``path`` does not exist.
    IsADirectoryError
        When ``path`` is a directory.

    Examples
    --------
    >>> import tempfile, numpy as np, xarray as xr, slt
    >>> dt = xr.DataTree(xr.Dataset({"x": ("t", np.arange(3.0))}), name="run")
    >>> dt.attrs["inference_library"] = "slt"
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save(dt, f"{tmp}/run.nc")
    ...     xr.testing.assert_identical(slt.load(path), dt)
    """
    dt = getattr(datatree_or_result, "datatree", datatree_or_result)
    if not isinstance(dt, xr.DataTree):
        raise TypeError(
            "datatree_or_result must be an xarray.DataTree or an slt.LLCResult; "
            f"got {type(datatree_or_result).__name__}"
        )
    if NAME_ATTR in dt.attrs:
        raise ValueError(f"root attribute name {NAME_ATTR!r} is reserved by slt.io")
    target = Path(path)
    with atomic_path(target) as tmp:  # checks the directory before anything is encoded
        encoded = _map_attrs(dt, _pack)
        if dt.name is not None:
            encoded.attrs[NAME_ATTR] = str(dt.name)
        encoded.to_netcdf(tmp, engine=ENGINE)
    return target


def check_writable(path: str | os.PathLike[str], label: str = "path") -> Path:
    """``path`` as a :class:`~pathlib.Path` if a file can be written there: its directory exists
    and it is not a directory itself. ``label`` names it in the error (e.g. a command's flag).

    Raises
    ------
    FileNotFoundError
        When the directory of ``path`` does not exist.
    IsADirectoryError
        When ``path`` is a directory.
    """
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"{label} {str(target)!r} is a directory; give a file name")
    if not target.absolute().parent.is_dir():
        raise FileNotFoundError(
            f"{label} {str(target)!r}: the directory {str(target.parent)!r} does not exist; "
            "create it first"
        )
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to, renamed onto ``path`` on success.

    The temporary file is created empty in ``path``'s directory with the mode a plain ``open``
    gives (0o666 less the umask, so the result is an ordinary file); on leaving the block it is
    flushed to disk (``fsync``), renamed onto ``path`` with :func:`os.replace` and the directory
    entry synced. On an exception it is removed and ``path`` is left as it was. A path that
    cannot be written raises as :func:`check_writable` does, before anything is created.
    """
    target = check_writable(path)
    directory = target.absolute().parent
    tmp = _create_temporary(directory, target.name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def write_atomic(path: str | os.PathLike[str], content: str | bytes) -> None:
    """Write ``content`` (text as UTF-8, or bytes) to ``path`` whole or not at all
    (:func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf-8")


def load(path: str | os.PathLike[str]) -> LLCResult | xr.DataTree:
    """Read a file written by :func:`save`.

    Parameters
    ----------
    path
        The netCDF file.

    Returns
    -------
    LLCResult or xarray.DataTree
        An :class:`~slt.LLCResult` when the root attr ``estimator`` is ``"llc"`` (its numbers
        rebuilt from the root attrs), else the DataTree; either way fully in memory, the file
        closed.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    IsADirectoryError
        When ``path`` is a directory.
    ValueError
        When ``path`` is not a netCDF-4 file, or no node of it has the attr
        ``inference_library == "slt"`` or ``estimator`` (not an slt result), or an ``"llc"``
        file lacks the numbers of an LLCResult.
    """
    source = Path(path)
    if not source.exists():
        raise FileNotFoundError(f"no slt result at {str(source)!r}: the file does not exist")
    if source.is_dir():
        raise IsADirectoryError(f"path {str(source)!r} is a directory, not an slt result file")
    try:
        with xr.open_datatree(source, engine=ENGINE) as opened:
            dt = opened.load()
    except (OSError, ValueError) as err:
        raise ValueError(
            f"{str(source)!r} is not an slt result: it cannot be read as netCDF-4 ({err})"
        ) from err
    if not any(
        node.attrs.get("inference_library") == "slt" or "estimator" in node.attrs
        for node in dt.subtree
    ):
        raise ValueError(
            f"{str(source)!r} is not an slt result: no group has the attr "
            "inference_library='slt' or an estimator (write results with slt.io.save)"
        )
    name = dt.attrs.pop(NAME_ATTR, None)
    dt = _map_attrs(dt, _unpack)
    dt.name = name
    if dt.attrs.get("estimator") == "llc":
        return _llc_result(dt, source)
    return dt


def _llc_result(dt: xr.DataTree, source: Path) -> LLCResult:
    """The LLCResult whose numbers are the root attrs of ``dt`` (as :func:`slt.llc` wrote them)."""
    attrs = dt.attrs
    missing = [name for name in _LLC_ATTRS if name not in attrs]
    if missing:
        raise ValueError(f"{str(source)!r} says estimator='llc' but lacks the root attrs {missing}")
    per_chain = np.atleast_1d(np.asarray(attrs["llc_per_chain"], np.float64))
    return LLCResult(
        llc=float(attrs["llc"]),
        mcse=float(attrs["llc_mcse"]),
        llc_per_chain=per_chain,
        init_loss=np.atleast_1d(np.asarray(attrs["init_loss"])),
        rhat=float(attrs["rhat"]),
        ess_bulk=float(attrs["ess_bulk"]),
        ess_tail=float(attrs["ess_tail"]),
        num_diverging=int(attrs.get("num_diverging", int(np.isnan(per_chain).sum()))),
        datatree=dt,
    )


def _map_attrs(dt: xr.DataTree, fn: Any) -> xr.DataTree:
    """A copy of ``dt`` with ``fn`` applied to the attrs of every node and variable."""
    datasets = {}
    for node in dt.subtree:
        ds = node.to_dataset(inherit=False).copy(deep=False)  # own variables and attrs
        ds.attrs = fn(ds.attrs)
        for variable in ds.variables.values():
            variable.attrs = fn(variable.attrs)
        datasets[node.relative_to(dt)] = ds
    return xr.DataTree.from_dict(datasets, name=dt.name)


def _pack(attrs: dict[Any, Any]) -> dict[Any, Any]:
    """``attrs`` with :data:`LENGTH1_ATTR` naming its one-element arrays (and lists)."""
    if LENGTH1_ATTR in attrs:
        raise ValueError(f"attribute name {LENGTH1_ATTR!r} is reserved by slt.io")
    kinds = {
        str(name): "array" if isinstance(value, np.ndarray) else "list"
        for name, value in attrs.items()
        if isinstance(value, np.ndarray | list | tuple) and np.size(value) == 1
    }
    return attrs | {LENGTH1_ATTR: json.dumps(kinds)} if kinds else dict(attrs)


def _unpack(attrs: dict[Any, Any]) -> dict[Any, Any]:
    """Undo :func:`_pack`: one-element arrays and lists back from the scalars netCDF kept."""
    attrs = dict(attrs)
    kinds = json.loads(attrs.pop(LENGTH1_ATTR, "{}"))
    for name, kind in kinds.items():
        value = attrs.get(name)
        if value is not None and np.ndim(value) == 0:
            attrs[name] = np.atleast_1d(np.asarray(value)) if kind == "array" else [value]
    return attrs


def _create_temporary(directory: Path, name: str) -> Path:
    """A new empty file ``.{name}.<random>.tmp`` in ``directory``, created with the mode a plain
    ``open`` would give (0o666 less the umask), so the renamed file has ordinary permissions."""
    while True:
        tmp = directory / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable: fsync the directory entry where the platform allows it."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
