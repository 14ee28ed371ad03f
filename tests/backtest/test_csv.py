"""CSV input: accepted in the usual shapes, refused with the line and column at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from ibtrader.backtest.csv_bars import CsvFormatError, _fast_load, careful_load, load_csv
from ibtrader.backtest.synthetic import random_walk, write_csv

GOOD = """Date,Open,High,Low,Close,Volume
2024-01-02,10,11,9,10.5,100
2024-01-03,10.5,12,10,11,200
2024-01-04,11,11.5,10.2,10.4,150
"""


def write(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def refused(tmp_path: Path, text: str) -> CsvFormatError:
    with pytest.raises(CsvFormatError) as caught:
        load_csv(write(tmp_path, text))
    return caught.value


def test_a_backtesting_py_style_file_loads_with_utc_times(tmp_path: Path) -> None:
    bars = load_csv(write(tmp_path, GOOD, "GOOG.csv"))
    assert bars.symbol == "GOOG"
    assert len(bars) == 3
    assert bars.time[0] == 1_704_153_600.0  # 2024-01-02T00:00:00Z
    assert list(bars.close) == [10.5, 11, 10.4]
    assert list(bars.volume) == [100, 200, 150]


def test_column_names_in_any_case_and_the_time_index_first(tmp_path: Path) -> None:
    text = ("stamp,OPEN,high,LoW,Close\n"
            "2024-01-02 14:30:00+00:00,10,11,9,10.5\n"
            "2024-01-02 15:30:00+00:00,10.5,12,10,11\n")
    bars = load_csv(write(tmp_path, text))
    assert bars.time[1] - bars.time[0] == 3600
    assert list(bars.volume) == [0, 0]  # no volume column: zeros


def test_separate_date_and_time_columns_and_epoch_seconds(tmp_path: Path) -> None:
    split = ("date,time,open,high,low,close\n"
             "2024-01-02,09:30,1,2,0.5,1.5\n2024-01-02,09:31,1,2,0.5,1.5\n")
    assert load_csv(write(tmp_path, split)).time[1] == 1_704_187_860.0
    epoch = "timestamp,open,high,low,close\n1704187800,1,2,0.5,1.5\n1704187860,1,2,0.5,1.5\n"
    assert load_csv(write(tmp_path, epoch, "e.csv")).time[0] == 1_704_187_800.0


def test_a_missing_price_column_is_named(tmp_path: Path) -> None:
    error = refused(tmp_path, "Date,Open,High,Close\n2024-01-02,1,2,1.5\n")
    assert error.line == 1
    assert "missing column(s) low" in str(error)


def test_a_non_numeric_cell_gives_its_line_and_column(tmp_path: Path) -> None:
    text = GOOD.replace("10.5,12,10,11,200", "10.5,12,abc,11,200")
    error = refused(tmp_path, text)
    assert (error.line, error.column) == (3, "Low")
    assert str(error).startswith("line 3, column 'Low': 'abc' is not a number")


def test_an_empty_cell_is_reported_as_missing(tmp_path: Path) -> None:
    error = refused(tmp_path, GOOD.replace("11,11.5,10.2,10.4,150", "11,11.5,10.2,,150"))
    assert (error.line, error.column) == (4, "Close")
    assert "missing" in str(error)


def test_unsorted_times_are_refused_at_the_row_that_goes_back(tmp_path: Path) -> None:
    lines = GOOD.splitlines()
    error = refused(tmp_path, "\n".join([lines[0], lines[1], lines[3], lines[2]]) + "\n")
    assert (error.line, error.column) == (4, "Date")
    assert "sorted oldest first" in str(error)


def test_a_repeated_time_is_refused(tmp_path: Path) -> None:
    lines = GOOD.splitlines()
    error = refused(tmp_path, "\n".join([lines[0], lines[1], lines[1]]) + "\n")
    assert error.line == 3
    assert "repeats the time of line 2" in str(error)


def test_high_below_low_is_refused(tmp_path: Path) -> None:
    error = refused(tmp_path, GOOD.replace("10.5,12,10,11,200", "10.5,9,10,9.5,200"))
    assert (error.line, error.column) == (3, "High")
    assert "high 9 is below low 10" in str(error)


def test_a_bad_time_and_a_ragged_row(tmp_path: Path) -> None:
    error = refused(tmp_path, GOOD.replace("2024-01-03", "not-a-date"))
    assert (error.line, error.column) == (3, "Date")
    ragged = refused(tmp_path, GOOD + "2024-01-05,1,2,0.5,1.5,10,99\n")
    assert ragged.line == 5


def test_an_empty_file_and_a_missing_file(tmp_path: Path) -> None:
    assert "empty" in str(refused(tmp_path, ""))
    with pytest.raises(CsvFormatError, match="no such file"):
        load_csv(tmp_path / "nope.csv")


@pytest.mark.parametrize("text", [
    GOOD,
    GOOD.replace("Date,", "timestamp,").replace("2024-01-02", "1704153600")
        .replace("2024-01-03", "1704240000").replace("2024-01-04", "1704326400"),
    GOOD.replace(",10.5,12", ",10.5,12.0").lower(),
    "Time,Open,High,Low,Close\n2024-01-02T14:30:00Z,1,2,0.5,1.5\n"
    "2024-01-02T16:30:00+01:00,1,2,0.5,1.5\n2024-01-02T16:30:00Z,1,2,0.5,1.5\n",
])
def test_the_fast_reader_and_the_careful_one_agree(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    fast, careful = load_csv(path), careful_load(path)
    for column in ("time", "open", "high", "low", "close", "volume"):
        assert getattr(fast, column).tolist() == getattr(careful, column).tolist()


def test_a_generated_file_takes_the_fast_path(tmp_path: Path) -> None:
    path = write_csv(random_walk(500, 3), tmp_path / "walk.csv")
    assert _fast_load(path, "walk") is not None
    bad = write(tmp_path, GOOD.replace("10.5,12,10,11", "10.5,9,10,9.5"), "bad.csv")
    assert _fast_load(bad, "bad") is None  # left to the careful reader, which explains
