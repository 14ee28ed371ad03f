"""OHLCV bars from a CSV file, checked: a malformed file is refused with the line and the
column at fault, and nothing is half-loaded.

Accepted: a header line; columns open, high, low, close and optionally volume, in any
case; the bar time in a column named date, time, datetime, timestamp (or date and time
as two columns), or else in the first column (pandas' index column, as backtesting.py's
sample files have it). Times are ISO-like text (a zone offset is honoured, none means
UTC) or epoch numbers (seconds; milliseconds when above 1e11). Rows must be sorted
oldest first, without repeated times.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .bars import COLUMNS, BarSeries, epoch_seconds

PRICES = ("open", "high", "low", "close")
TIME_NAMES = ("datetime", "timestamp", "date_time", "time", "date")
HEADER_LINE = 1
# open and close may sit outside [low, high] by this much of the price (rounding in the
# source), no more
RANGE_SLACK = 1e-9


class CsvFormatError(ValueError):
    """The file is not usable; the message names the line and column where known."""

    def __init__(self, message: str, line: int | None = None, column: str | None = None):
        where = ", ".join(p for p in (f"line {line}" if line else "",
                                      f"column {column!r}" if column else "") if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.line = line
        self.column = column


def load_csv(path: Path | str, symbol: str | None = None) -> BarSeries:
    """The file's bars, or CsvFormatError. `symbol` defaults to the file's stem.

    A well-formed file is read by pyarrow (several times faster than pandas on big
    files); anything unusual or wrong is read again the careful way, which finds the
    line and column at fault."""
    path = Path(path)
    fast = _fast_load(path, symbol or path.stem)
    return fast if fast is not None else careful_load(path, symbol)


def careful_load(path: Path, symbol: str | None = None) -> BarSeries:
    """pandas, row by row where needed: slower, and exact about what is wrong."""
    raw = _read(path)
    names = _column_map(raw.columns)
    lines = np.arange(len(raw)) + HEADER_LINE + 1  # blank lines are kept as rows: exact
    blank = raw.isna().all(axis=1).to_numpy()
    raw, lines = raw[~blank], lines[~blank]
    if raw.empty:
        raise CsvFormatError(f"{path.name} has no data rows")
    data = {key: _numbers(raw[col], col, lines) for key, col in names.items()
            if key in COLUMNS}
    if "volume" not in data:
        data["volume"] = np.zeros(len(raw))
    times = _times(raw, names, lines)
    _check_bars(data, names, lines)
    _check_order(times, raw, names, lines)
    return BarSeries(symbol or path.stem, times, *(data[c] for c in COLUMNS))


def _fast_load(path: Path, symbol: str) -> BarSeries | None:
    """The bars by pyarrow when the file is clean (typed columns, no gaps, valid and
    sorted bars), else None."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(path)
    except (pa.ArrowInvalid, OSError):
        return None
    if table.num_rows == 0:
        return None
    names = _column_map(pd.Index(table.column_names))  # header errors are the same
    if "clock" in names:
        return None
    columns: dict[str, np.ndarray] = {}
    for key in (*COLUMNS, "time"):
        if key not in names:
            continue
        column = table.column(names[key])
        if column.null_count:
            return None
        kind = column.type
        if key == "time" and (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
            seconds = column.cast(pa.timestamp("s", tz=getattr(kind, "tz", None)))
            columns[key] = seconds.to_numpy().view("int64").astype(float)
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
            columns[key] = column.to_numpy().astype(float)
        else:
            return None
    times = columns.pop("time")
    times = np.where(np.abs(times) > 1e11, times / 1000.0, times)
    data = columns
    data.setdefault("volume", np.zeros(table.num_rows))
    high, low = data["high"], data["low"]
    slack = RANGE_SLACK * high
    bad = (~np.isfinite(times)).any() or (np.diff(times) <= 0).any() or (high < low).any()
    for key in PRICES:
        bad = bad or not (np.isfinite(data[key]).all() and (data[key] > 0).all())
    for key in ("open", "close"):
        bad = bad or ((data[key] > high + slack) | (data[key] < low - slack)).any()
    if bad or (data["volume"] < 0).any() or not np.isfinite(data["volume"]).all():
        return None
    return BarSeries(symbol, times, *(data[c] for c in COLUMNS))


def _read(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, skip_blank_lines=False, skipinitialspace=True,
                           encoding="utf-8-sig")
    except FileNotFoundError:
        raise CsvFormatError(f"no such file: {path}") from None
    except pd.errors.EmptyDataError:
        raise CsvFormatError(f"{path.name} is empty") from None
    except pd.errors.ParserError as exc:
        raise _parser_error(exc) from None
    except (UnicodeDecodeError, OSError) as exc:
        raise CsvFormatError(f"cannot read {path}: {exc}") from None


def _parser_error(exc: pd.errors.ParserError) -> CsvFormatError:
    text = str(exc)
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if found:
        want, line, saw = found.groups()
        return CsvFormatError(f"expected {want} fields like the header, found {saw}",
                              line=int(line))
    return CsvFormatError(f"not a readable CSV file: {text}")


def _column_map(columns: pd.Index) -> dict[str, str]:
    """Our names (open, ..., time, date) -> the file's column names."""
    found: dict[str, str] = {}
    for col in columns:
        key = str(col).strip().lower()
        if key in found:
            raise CsvFormatError(f"the header names {key!r} twice ({found[key]!r} and "
                                 f"{col!r})", line=HEADER_LINE)
        found[key] = str(col)
    missing = [c for c in PRICES if c not in found]
    if missing:
        raise CsvFormatError(f"missing column(s) {', '.join(missing)}; the header has "
                             f"{', '.join(map(str, columns))}", line=HEADER_LINE)
    names = {c: found[c] for c in COLUMNS if c in found}
    time_key = next((t for t in TIME_NAMES if t in found), None)
    if "date" in found and "time" in found and not ({"datetime", "timestamp", "date_time"}
                                                    & found.keys()):
        names["time"], names["clock"] = found["date"], found["time"]  # two columns
    elif time_key is not None:
        names["time"] = found[time_key]
    elif str(columns[0]).strip().lower() not in COLUMNS:
        names["time"] = str(columns[0])
    else:
        raise CsvFormatError("no date/time column: name one date, time, datetime or "
                             "timestamp, or put the times in the first column",
                             line=HEADER_LINE)
    return names


def _numbers(values: pd.Series, column: str, lines: np.ndarray) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype):
        numbers = values.to_numpy(dtype=float)
    else:
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(numbers)
    if bad.any():
        i = int(np.argmax(bad))
        text = values.iloc[i]
        if pd.isna(text) or not str(text).strip():
            raise CsvFormatError("the value is missing", int(lines[i]), column)
        raise CsvFormatError(f"{str(text).strip()!r} is not a number", int(lines[i]), column)
    return numbers


def _times(raw: pd.DataFrame, names: dict[str, str], lines: np.ndarray) -> np.ndarray:
    column = names["time"]
    values = raw[column]
    if "clock" in names:
        values = values.astype(str).str.strip() + " " + raw[names["clock"]].astype(str)
    if pd.api.types.is_numeric_dtype(values.dtype):
        seconds = values.to_numpy(dtype=float)
        seconds = np.where(np.abs(seconds) > 1e11, seconds / 1000.0, seconds)
    else:
        text = values.astype("string").str.strip()
        with warnings.catch_warnings():  # "could not infer format": fine, dateutil parses
            warnings.simplefilter("ignore", UserWarning)
            stamps = pd.to_datetime(text, utc=True, errors="coerce")
        seconds = np.where(stamps.isna(), np.nan, epoch_seconds(pd.DatetimeIndex(stamps)))
    bad = ~np.isfinite(seconds)
    if bad.any():
        i = int(np.argmax(bad))
        shown = values.iloc[i]
        if pd.isna(shown) or not str(shown).strip():
            raise CsvFormatError("the time is missing", int(lines[i]), column)
        raise CsvFormatError(f"{str(shown).strip()!r} is not a date/time (or not in the "
                             "format of the rows above it)", int(lines[i]), column)
    return seconds


def _check_bars(data: dict[str, np.ndarray], names: dict[str, str],
                lines: np.ndarray) -> None:
    for key in PRICES:
        _first_bad(data[key] <= 0, lines, names[key], data[key], "is not a price above zero")
    if "volume" in names:
        _first_bad(data["volume"] < 0, lines, names["volume"], data["volume"],
                   "is a negative volume")
    high, low = data["high"], data["low"]
    below = high < low
    if below.any():
        i = int(np.argmax(below))
        raise CsvFormatError(f"high {high[i]:g} is below low {low[i]:g}", int(lines[i]),
                             names["high"])
    slack = RANGE_SLACK * high
    for key in ("open", "close"):
        outside = (data[key] > high + slack) | (data[key] < low - slack)
        _first_bad(outside, lines, names[key], data[key], "is outside the bar's low-high "
                   "range")


def _first_bad(bad: np.ndarray, lines: np.ndarray, column: str, values: np.ndarray,
               what: str) -> None:
    if bad.any():
        i = int(np.argmax(bad))
        raise CsvFormatError(f"{values[i]:g} {what}", int(lines[i]), column)


def _check_order(times: np.ndarray, raw: pd.DataFrame, names: dict[str, str],
                 lines: np.ndarray) -> None:
    steps = np.diff(times)
    bad = steps <= 0
    if not bad.any():
        return
    i = int(np.argmax(bad)) + 1
    shown = raw[names["time"]].iloc
    if steps[i - 1] == 0:
        message = f"{str(shown[i]).strip()!r} repeats the time of line {lines[i - 1]}"
    else:
        message = (f"{str(shown[i]).strip()!r} is earlier than line {lines[i - 1]} "
                   f"({str(shown[i - 1]).strip()!r}); rows must be sorted oldest first")
    raise CsvFormatError(message, int(lines[i]), names["time"])
