"""Read what ``slt report`` reports on: a saved result (netCDF) or a validation JSON file."""

import json
import os
from typing import Any

from slt.io import load

__all__ = ["load_datatree", "load_input", "load_validation_json"]


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def load_datatree(path: str) -> Any:
    """A saved result (:func:`slt.io.load`): an :class:`~slt.LLCResult` or a DataTree."""
    return load(path)


def load_validation_json(path: str) -> list[dict[str, Any]]:
    """The rows of a validation JSON file (a list of objects with ``exact`` and ``estimate``,
    as ``slt validate --json`` writes)."""
    with open(path, encoding="utf-8") as fh:
        rows = json.load(fh)
    if isinstance(rows, dict) and isinstance(rows.get("rows"), list):
        rows = rows["rows"]
    if not isinstance(rows, list) or not rows:
        raise ValueError("not a non-empty JSON list of validation rows")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or "exact" not in row or "estimate" not in row:
            raise ValueError(f"row {i} is not an object with 'exact' and 'estimate'")
    return rows


def _looks_like_json(path: str) -> bool:
    if path.lower().endswith(".json"):
        return True
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip()
    return head[:1] in (b"[", b"{")


def load_input(path: str) -> Any:
    """A saved result (``xarray.DataTree`` or :class:`~slt.LLCResult`) or a list of validation
    rows, read from ``path``.

    Raises
    ------
    ValueError
        With a one-line reason when ``path`` is missing or is neither a readable netCDF result
        nor a validation JSON file.
    """
    if not os.path.isfile(path):
        raise ValueError(f"RESULT {path!r} does not exist or is not a file")
    try:
        if _looks_like_json(path):
            return load_validation_json(path)
        return load_datatree(path)
    except ValueError as err:
        raise ValueError(f"cannot read RESULT {path!r}: {_one_line(err)}") from err
    except Exception as err:  # unreadable: report the reason in one line, not a traceback
        raise ValueError(
            f"cannot read RESULT {path!r} ({type(err).__name__}): {_one_line(err)}"
        ) from err
