"""CSV files a spreadsheet can open safely: no cell of ours is ever run as a formula.

A spreadsheet runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula, and a tab or
carriage return in front hides the same (OWASP, "CSV Injection"). Member ids, category names and
rejected input lines come from files we do not control, so every CSV the product writes goes
through ``write_csv_safely``: a text cell that begins with one of those characters gets a leading
apostrophe, which spreadsheets read as "this is text" and do not show. Numbers stay numbers: a
numeric column's ``-3.5`` is a value, not text, and is left alone. Strip one leading apostrophe
to get the text back. The marketers' page applies the same rule to its own download
(``serving/static/marketer.html``, ``csvField``).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from features.data_key import DataKey
from features.offer_lists import encode_offers
from features.sealed import write_private

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
APOSTROPHE: Final = "'"
BOM: Final = "\ufeff"  # U+FEFF first: Excel then reads the file as UTF-8 (Chinese names, ¥)
LIST_ENCODING: Final = "utf-8-sig"  # Python's UTF-8 with the byte-order mark


def neutralise_text(text: str) -> str:
    """``text`` with a leading apostrophe when a spreadsheet would read it as a formula."""
    return APOSTROPHE + text if text.startswith(FORMULA_STARTS) else text


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot start a formula.

    Only text is changed: cells of text columns (object, string, categorical) that are ``str``.
    Numeric, boolean and date columns, and non-text values inside an object column, are kept.
    Vectorised per column (one ``str.startswith`` pass), so it costs little on millions of rows.
    """
    changed: dict[Any, pd.Series] = {}
    for position, (_name, values) in enumerate(frame.items()):
        hostile = _formula_cells(values)
        if hostile is not None and hostile.any():
            as_object = values.astype(object)
            as_object[hostile] = APOSTROPHE + as_object[hostile].astype(str)
            changed[position] = as_object
    safe = frame.copy()
    for position, values in changed.items():
        safe.isetitem(position, values.to_numpy())
    safe.columns = [neutralise_text(name) if isinstance(name, str) else name for name in frame.columns]
    return safe


def _formula_cells(values: pd.Series) -> np.ndarray | None:
    """Which cells are text starting a formula; None for a column that holds no text."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    if not (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)):
        return None
    try:
        return values.str.startswith(FORMULA_STARTS, na=False).to_numpy(bool)
    except AttributeError:  # an object column without any text (dates, lists): nothing to run
        return None


def write_csv_safely(frame: pd.DataFrame, path_or_buffer: str | Path | io.TextIOBase, **options: Any) -> None:
    """``frame.to_csv`` without the index, after ``neutralise_formulas``; ``options`` go to ``to_csv``.
    A list cell is written as one JSON array (``lists_as_json``).

    Lines end in CRLF (RFC 4180) unless ``options`` say otherwise: the csv writer then also quotes
    a carriage return or line feed inside a cell, so a cell never spills onto the next row.
    """
    options = {"index": False, "lineterminator": "\r\n", **options}
    neutralise_formulas(lists_as_json(frame)).to_csv(path_or_buffer, **options)


def lists_as_json(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each list cell (an answer's offers) as one JSON array of text, the form a CSV
    cell keeps it in: the csv writer quotes and escapes it, and any character of a name survives."""
    listed = {name: values for name, values in frame.items()
              if values.dtype == object and any(isinstance(cell, list | tuple) for cell in values.tolist())}
    if not listed:
        return frame
    out = frame.copy()
    for name, values in listed.items():
        out[name] = [encode_offers(cell) if isinstance(cell, list | tuple) else cell for cell in values.tolist()]
    return out


def csv_text(frame: pd.DataFrame, bom: bool = False, **options: Any) -> str:
    """``write_csv_safely`` into a string (for HTTP responses); ``bom``: starting with a byte-order mark."""
    buffer = io.StringIO()
    write_csv_safely(frame, buffer, **options)
    return (BOM if bom else "") + buffer.getvalue()


def write_list_csv(frame: pd.DataFrame, path: str | Path, key: DataKey | None = None, **options: Any) -> None:
    """A list for people (scores, targets, contacts): ``write_csv_safely`` as UTF-8 with a byte-order
    mark, without which Excel reads a UTF-8 file in the system's code page and garbles Chinese.
    Encrypted with a data ``key`` (``features.sealed``); written atomically either way."""
    write_private(path, csv_text(frame, bom=True, **options).encode("utf-8"), key)
