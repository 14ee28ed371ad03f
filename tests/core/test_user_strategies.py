"""User strategies from a folder: good files register and run, each broken one is reported
with its file, line and a useful message while the others still load, and loading again
after an edit replaces what the trader changed."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibtrader.core.strategies import (
    STRATEGIES,
    load_strategy,
    load_user_strategies,
    unregister_strategy,
)

from .strategy_drive import bars_from_closes, drive, ramp

GOOD = '''\
from ibtrader.core.indicators import make_indicator
from ibtrader.core.strategy import NO_SIGNALS, Param, Strategy


class CloseAboveSma(Strategy):
    name = "close_above_sma"
    params = (Param("period", int, 3, low=2, high=100, help="average length"),)

    def indicators(self):
        return {"sma": make_indicator("sma", period=self.p.period)}

    def on_bar(self, ctx):
        sma = ctx.values["sma"]
        if sma is not None and ctx.position <= 0 and ctx.bar.close > sma:
            return [self.signal(ctx, "buy", "close above its average", values={"sma": sma})]
        return NO_SIGNALS
'''

BROKEN = {
    "b_syntax.py": ("from ibtrader.core.strategy import Strategy\n\n"
                    "class S(Strategy):\n    name = 's'\n    def on_bar(self ctx):\n"
                    "        return ()\n"),
    "c_raises.py": "import math\n\nVALUE = math.sqrt(-1)\n",
    "d_bounds.py": ("from ibtrader.core.strategy import Param, Strategy\n\n\n"
                    "class S(Strategy):\n    name = 'bounded'\n"
                    "    params = (Param('period', int, 1, low=2, high=50),)\n\n"
                    "    def on_bar(self, ctx):\n        return ()\n"),
    "e_nothing.py": "def on_bar(ctx):\n    return ()\n",
    "f_clash.py": ("from ibtrader.core.strategy import Strategy\n\n\n"
                   "class MySma(Strategy):\n    name = 'sma_cross'\n\n"
                   "    def on_bar(self, ctx):\n        return ()\n"),
}


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    for name in set(STRATEGIES) - BUILT_IN_NAMES:  # leave the registry as it was
        unregister_strategy(name)


BUILT_IN_NAMES = set(STRATEGIES)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_a_good_file_registers_and_runs(folder: Path) -> None:
    write(folder, "a_good.py", GOOD)
    loaded, errors = load_user_strategies(folder)
    assert (loaded, errors) == (["close_above_sma"], [])
    strategy = load_strategy("close_above_sma", period="4")
    run = drive(strategy, bars_from_closes([10, 9, 8, 7, 8, 9, 10]))
    assert [(i, s.side) for i, s in run.signals] == [(5, "buy")]
    assert run.signals[0][1].reason == "close above its average"
    assert run.signals[0][1].values == {"sma": pytest.approx((8 + 7 + 8 + 9) / 4)}
    with pytest.raises(ValueError, match=r"close_above_sma: period must be an integer in "
                                         r"\[2, 100\], got 1"):
        load_strategy("close_above_sma", period=1)


def test_each_broken_file_is_reported_and_the_others_load(folder: Path) -> None:
    write(folder, "a_good.py", GOOD)
    for name, text in BROKEN.items():
        write(folder, name, text)
    write(folder, "_helper.py", "raise RuntimeError('never imported')\n")
    loaded, errors = load_user_strategies(folder)
    assert loaded == ["close_above_sma"]
    by_file = {e.path.name: e for e in errors}
    assert sorted(by_file) == sorted(BROKEN)
    expected = {
        "b_syntax.py": (5, "SyntaxError: "),
        "c_raises.py": (3, "ValueError: math domain error"),
        "d_bounds.py": (6, "ValueError: param period: the default 1 is not an integer in "
                           "[2, 50]"),
        "e_nothing.py": (None, "defines no Strategy subclass"),
        "f_clash.py": (4, "the strategy name 'sma_cross' is already taken by "
                          "ibtrader.core.strategies.sma_cross.SmaCross"),
    }
    for name, (line, start) in expected.items():
        error = by_file[name]
        assert error.line == line, (name, error)
        assert error.message.startswith(start), (name, error)
        where = f"{folder / name}:{line}" if line else str(folder / name)
        assert str(error).startswith(where)
    assert STRATEGIES["sma_cross"].__module__ == "ibtrader.core.strategies.sma_cross"


def test_loading_again_after_an_edit_replaces_the_class(folder: Path) -> None:
    path = write(folder, "a_good.py", GOOD)
    load_user_strategies(folder)
    first = STRATEGIES["close_above_sma"]
    path.write_text(GOOD.replace("close above its average", "edited reason")
                    .replace('int, 3, low=2', 'int, 5, low=2'))
    loaded, errors = load_user_strategies(folder)
    assert (loaded, errors) == (["close_above_sma"], [])
    edited = STRATEGIES["close_above_sma"]
    assert edited is not first and edited().p.period == 5
    run = drive(load_strategy("close_above_sma", period=2), bars_from_closes([3, 2, 1, 2]))
    assert [s.reason for _, s in run.signals] == ["edited reason"]


def test_a_file_that_broke_or_went_away_unregisters_its_strategy(folder: Path) -> None:
    path = write(folder, "a_good.py", GOOD)
    load_user_strategies(folder)
    path.write_text(GOOD.replace("def on_bar(self, ctx):", "def on_bar(self, ctx)"))
    loaded, errors = load_user_strategies(folder)
    assert loaded == [] and errors[0].message.startswith("SyntaxError")
    assert "close_above_sma" not in STRATEGIES  # the old code does not run on silently
    path.write_text(GOOD)
    assert load_user_strategies(folder)[0] == ["close_above_sma"]
    path.unlink()
    assert load_user_strategies(folder) == ([], [])
    assert "close_above_sma" not in STRATEGIES


def test_two_files_with_one_strategy_name(folder: Path) -> None:
    write(folder, "a_good.py", GOOD)
    write(folder, "b_copy.py", GOOD)
    loaded, errors = load_user_strategies(folder)
    assert loaded == ["close_above_sma"]
    assert [(e.path.name, e.line) for e in errors] == [("b_copy.py", 5)]
    assert errors[0].message == "strategy name 'close_above_sma' is already used by a_good.py"


def test_class_mistakes_found_at_load_time(folder: Path) -> None:
    write(folder, "no_name.py", "from ibtrader.core.strategy import Strategy\n\n\n"
                                "class Mine(Strategy):\n    def on_bar(self, ctx):\n"
                                "        return ()\n")
    write(folder, "no_on_bar.py", "from ibtrader.core.strategy import Strategy\n\n\n"
                                  "class Mine(Strategy):\n    name = 'mine'\n")
    write(folder, "bad_rule.py", textwrap.dedent('''\
        from ibtrader.core.strategy import Param, Strategy


        class Mine(Strategy):
            name = "mine2"
            params = (Param("a", int, 5, low=1, high=9), Param("b", int, 3, low=1, high=9))

            def validate(self):
                if self.p.a >= self.p.b:
                    raise ValueError("mine2: a must be below b")

            def on_bar(self, ctx):
                return ()
        '''))
    loaded, errors = load_user_strategies(folder)
    assert loaded == []
    got = {e.path.name: (e.line, e.message) for e in errors}
    assert got == {
        "no_name.py": (4, 'Mine has no `name` (e.g. name = "my_strategy")'),
        "no_on_bar.py": (4, "Mine does not define on_bar(self, ctx)"),
        "bad_rule.py": (10, "ValueError: mine2: a must be below b"),
    }


def test_a_helper_base_class_without_a_name_is_not_an_error(folder: Path) -> None:
    write(folder, "family.py", textwrap.dedent('''\
        from ibtrader.core.strategy import NO_SIGNALS, Strategy


        class Base(Strategy):
            def on_bar(self, ctx):
                return NO_SIGNALS


        class Child(Base):
            name = "child"
        '''))
    assert load_user_strategies(folder) == (["child"], [])


def test_a_missing_folder_loads_nothing(tmp_path: Path) -> None:
    assert load_user_strategies(tmp_path / "absent") == ([], [])


ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_MARK = "<!-- example: resources/strategies/example_ema_pullback.py -->\n```python\n"


def doc_example() -> str:
    """The worked example's code as docs/strategies.md shows it."""
    doc = (ROOT / "docs" / "strategies.md").read_text()
    start = doc.index(EXAMPLE_MARK) + len(EXAMPLE_MARK)
    return doc[start:doc.index("```\n", start)]


def test_the_docs_example_is_the_shipped_file() -> None:
    shipped = ROOT / "resources" / "strategies" / "example_ema_pullback.py"
    assert doc_example() == shipped.read_text()


def test_the_docs_example_loads_and_trades_a_pullback(folder: Path) -> None:
    write(folder, "ema_pullback.py", doc_example())
    assert load_user_strategies(folder) == (["ema_pullback"], [])
    # a steady rise, a three-bar dip under the fast EMA, the bounce, then the trend breaks
    closes = [*ramp(100, 130, 60), 129.0, 128.0, 127.5, 129.5, 131.0, 132.0, *ramp(131, 110, 15)]
    run = drive(load_strategy("ema_pullback"), bars_from_closes(closes))
    assert run.sides() == [(63, "buy"), (70, "exit")]
    buy, out = run.signals[0][1], run.signals[1][1]
    assert run.values[62]["close"] < run.values[62]["fast"]  # the dip
    assert buy.values["close"] == 129.5 > buy.values["fast"] > buy.values["slow"]
    assert buy.stop == pytest.approx(129.5 - 2.0 * buy.values["atr"])
    assert out.values["close"] < out.values["slow"]
    assert out.reason == "close fell below the trend EMA"
    with pytest.raises(ValueError, match="ema_pullback: fast must be below slow, got "
                                         "fast=30, slow=30"):
        load_strategy("ema_pullback", fast="30")
