"""Which rows repeat an earlier row in every column: the loader's ``duplicate row`` reason.

``DataFrame.duplicated`` compares every column of every row: at 10 M lines it took 8 s and held
about 110 bytes a line beside the table, the largest share of a load's peak memory, which is what
stopped a 100 M-line file loading on a 24 GB machine. Here DuckDB hashes each row to 64 bits
(streaming, on every core: about 1 s and 8 bytes a line), and only rows whose hash another row
shares are compared cell by cell, so a hash collision never rejects a row.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa


def repeated_rows(raw: pd.DataFrame) -> np.ndarray:
    """Per row, whether it equals an earlier row in every column (missing equals missing)."""
    candidates = rows_sharing_a_hash(raw)
    repeated = np.zeros(len(raw), dtype=bool)
    if len(candidates):
        repeated[candidates] = _exact_repeats(raw.iloc[candidates])
    return repeated


def rows_sharing_a_hash(raw: pd.DataFrame) -> np.ndarray:
    """Positions of the rows whose row hash another row shares: every repeated row and its first copy.

    Cells Arrow cannot type (e.g. mixed Python objects) or DuckDB cannot hash make every row a
    candidate: the exact comparison then decides alone, as slowly as before.
    """
    try:
        table = pa.Table.from_pandas(raw, preserve_index=False)
        columns = ", ".join('"' + name.replace('"', '""') + '"' for name in table.column_names)
        with duckdb.connect() as connection:
            hashes = connection.from_arrow(table).select(f"hash({columns}) AS row_hash").fetchnumpy()["row_hash"]
    except (pa.ArrowException, duckdb.Error):
        return np.arange(len(raw))
    if len(hashes) != len(raw):
        raise RuntimeError(f"DuckDB hashed {len(hashes)} of {len(raw)} rows")
    ordered = np.sort(hashes)
    shared = ordered[1:][ordered[1:] == ordered[:-1]]
    return np.flatnonzero(np.isin(hashes, shared))


def _exact_repeats(rows: pd.DataFrame) -> np.ndarray:
    try:
        return rows.duplicated(keep="first").to_numpy(bool)
    except TypeError:  # unhashable cells, e.g. a list column in Parquet: compare their text
        return rows.astype(str).duplicated(keep="first").to_numpy(bool)
