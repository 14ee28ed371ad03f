"""`ibtrader --selftest`: is this installation (a venv, a wheel, the frozen bundle) whole?

One line per check, `ok NAME (MS ms): detail` or `FAIL NAME: why`, stopping at the first
failure with exit status 1. Everything runs against a throw-away data folder, so the
user's journal, paper account and window layout are never touched; only the `settings`
check reads the user's own settings (to report a broken configuration).

The checks, in order: every module of the app imports (a module left out of a bundle
shows here), the settings load, the app's data files are where it looks for them, the main
window paints something (offscreen when there is no display), the dashboard's QtWebEngine
runs a page, the simulated gateway fills a
market order sent through ib_async by the app's order manager, the web server answers
its health endpoint with the engine attached, and a backtest runs in a worker process.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import json
import os
import pkgutil
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ibtrader.config import Settings

# The app's packages, imported module by module. Benchmarks are left out: they need the
# development extras (backtesting.py), which the bundle does not carry.
PACKAGES = ("ibtrader.core", "ibtrader.services", "ibtrader.adapters", "ibtrader.sim",
            "ibtrader.backtest", "ibtrader.commands", "ibtrader.gui", "ibtrader.web")
WINDOW_SIZE = (1280, 800)
MIN_COLOURS = 8  # a blank or single-colour window shows far fewer among the samples
ORDER_SYMBOL = "AAPL"
ORDER_TIMEOUT = 20.0  # s, for the fill of a market order on the simulator
HTTP_TIMEOUT = 10.0
BACKTEST_DAYS = 200  # of the simulator's daily history: a few trades, well under a second
BACKTEST_TIMEOUT = 60.0  # s: a worker process's start included
WEB_ENGINE_TIMEOUT = 20.0  # s: Chromium's first start on a cold disk is slow
WEB_TITLE = "ibtrader-42"  # set by the page's script: proves the render process ran it
WEB_PAGE = ("<!doctype html><html><head><title>loading</title></head><body>"
            "<script>document.title = 'ibtrader-' + (6 * 7);</script></body></html>")


class CheckFailed(Exception):
    """A check's finding, printed as the reason."""


@dataclass
class Context:
    """What the checks share: the user's settings, the throw-away ones, the temp folder."""

    config_file: Path | None
    scratch: Path
    user_settings: Settings | None = None
    settings: Settings | None = None


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Context], str]  # returns a short detail; raises on failure


# --- the checks ------------------------------------------------------------------------------

def check_imports(ctx: Context) -> str:
    names = list(PACKAGES)
    for package in PACKAGES:
        module = importlib.import_module(package)
        names += [info.name for info in pkgutil.walk_packages(module.__path__, f"{package}.",
                                                              onerror=_raise)]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            raise CheckFailed(f"{name}: {type(exc).__name__}: {exc}") from exc
    return f"{len(names)} modules"


def _raise(name: str) -> None:
    raise CheckFailed(f"cannot import package {name}: {sys.exc_info()[1]}")


def check_settings(ctx: Context) -> str:
    from ibtrader.config import ConfigErrors, load_settings

    try:
        ctx.user_settings = load_settings(ctx.config_file)
    except ConfigErrors as exc:
        raise CheckFailed("; ".join(str(e) for e in exc.errors)) from exc
    # The rest runs on the embedded defaults in a temp folder: nothing of the user's is used.
    ctx.settings = load_settings(None, env={
        "IBTRADER_DATA_DIR": str(ctx.scratch / "data"), "IBTRADER_BROKER": "sim",
        "IBTRADER_WEB_PORT": str(free_port()), "IBTRADER_LOG_LEVEL": "WARNING"})
    user = ctx.user_settings
    return f"broker={user.broker} data={user.data_dir}"


def check_resources(ctx: Context) -> str:
    from ibtrader import resources

    found = [resources.package_file("ibtrader.gui.resources", "styles", f"{theme}.qss")
             for theme in ("dark", "light")]
    found.append(resources.app_icon())
    found.append(resources.chart_library())
    pages = [p for p in resources.package_folder("ibtrader.web", "static").rglob("*")
             if p.is_file()]
    if not pages:
        raise CheckFailed("the dashboard's files are missing (ibtrader/web/static is empty)")
    with contextlib.suppress(resources.ResourceMissing):  # pages rendered by Flask, if any
        found += [p for p in resources.package_folder("ibtrader.web", "templates").rglob("*")
                  if p.is_file()]
    found += pages
    found += [resources.shared_file("n8n", "notifications.json"),
              resources.shared_file("nocodb", "schema.json")]
    return f"{len(found)} files" + (" (frozen)" if resources.is_frozen() else "")


def check_window(ctx: Context) -> str:
    from PySide6.QtCore import QSettings

    from ibtrader.commands.gui import no_display_problem

    if no_display_problem() is not None:  # no display: draw into memory instead
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from ibtrader.gui.app import application, build_window

    app = application()
    store = QSettings(str(ctx.scratch / "window.ini"), QSettings.Format.IniFormat)
    window = build_window(_settings(ctx), store, ctx.scratch / "config.toml", use_tray=False)
    try:
        window.resize(*WINDOW_SIZE)
        window.show()
        deadline = time.monotonic() + 5
        while window.painted_at is None and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        if window.painted_at is None:
            raise CheckFailed("the window was shown but never painted")
        image = window.grab().toImage()
        colours = _colours(image)
        if colours < MIN_COLOURS:
            raise CheckFailed(f"the window looks blank ({colours} colours)")
        return (f"{image.width()}x{image.height()} on {app.platformName()}, "
                f"{colours} colours")
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()


def check_webengine(ctx: Context) -> str:
    """The dashboard's browser: Chromium's helper process, its resources and locale start and
    run a page's script (a bundle missing any of them fails here, not in front of a trader)."""
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile

    from ibtrader.gui.app import application

    app = application()
    profile = QWebEngineProfile(app)  # off the record: nothing written to disk
    page = QWebEnginePage(profile, app)
    finished: list[bool] = []
    page.loadFinished.connect(finished.append)
    page.setHtml(WEB_PAGE)
    deadline = time.monotonic() + WEB_ENGINE_TIMEOUT
    while (not finished or page.title() != WEB_TITLE) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    title = page.title()
    for gone in (page, profile):  # the page before its profile, as QtWebEngine insists
        gone.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    if not finished:
        raise CheckFailed(f"QtWebEngine loaded no page within {WEB_ENGINE_TIMEOUT:g} s")
    if not finished[0] or title != WEB_TITLE:
        raise CheckFailed(f"QtWebEngine did not run the page's script (title {title!r})")
    return f"a page's script ran ({title})"


def _colours(image: object, step: int = 7) -> int:
    """Distinct colours among a grid of sampled pixels (a QImage)."""
    width, height = image.width(), image.height()  # type: ignore[attr-defined]
    return len({image.pixel(x, y)  # type: ignore[attr-defined]
                for y in range(0, height, step) for x in range(0, width, step)})


def check_order(ctx: Context) -> str:
    return asyncio.run(_order_round_trip(_settings(ctx)))


async def _order_round_trip(settings: Settings) -> str:
    from ibtrader.app import open_order_manager
    from ibtrader.core.orders.lifecycle import OrderState
    from ibtrader.core.orders.request import parse_request

    async with open_order_manager(settings) as manager:
        started = time.perf_counter()
        request = parse_request(ORDER_SYMBOL, "buy", "1", now=time.time(), source="cli")
        order = await manager.place(request)
        try:
            order = await manager.wait_final(order.client_key, ORDER_TIMEOUT)
        except TimeoutError as exc:
            now = manager.order(order.client_key)
            raise CheckFailed(f"no fill within {ORDER_TIMEOUT:g} s (order is "
                              f"{now.state if now else 'unknown'})") from exc
        if order.state != OrderState.FILLED:
            raise CheckFailed(f"the market order ended {order.state}: "
                              f"{order.last_error or 'no reason given'}")
        took = (time.perf_counter() - started) * 1000
        return (f"BUY 1 {ORDER_SYMBOL} MKT filled {order.filled:g} @ "
                f"{order.avg_price:g} in {took:.0f} ms")


def check_web(ctx: Context) -> str:
    try:
        from ibtrader.web.runtime import WebRuntime
    except ImportError as exc:
        raise CheckFailed(f"the web server is not in this installation "
                          f"(ibtrader.web.runtime: {exc})") from exc
    return asyncio.run(_web_health(_settings(ctx), WebRuntime))


async def _web_health(settings: Settings, runtime_class: type) -> str:
    from ibtrader.app import open_engine

    runtime = runtime_class(settings)
    await asyncio.to_thread(runtime.start)
    try:
        async with open_engine(settings, symbols=(ORDER_SYMBOL,), strategies=()) as engine:
            runtime.attach(engine)
            try:
                status, body = await asyncio.to_thread(_get_json,
                                                       f"{runtime.url}/api/v1/health")
            finally:
                runtime.detach()
    finally:
        await asyncio.to_thread(runtime.stop)
    if status != 200 or body.get("status") != "ok":
        raise CheckFailed(f"GET /api/v1/health answered {status}: {json.dumps(body)}")
    return f"GET /api/v1/health -> {status}, engine {body.get('engine')}"


def _get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:  # 503 still carries the health document
        return exc.code, json.loads(exc.read() or b"{}")
    except (OSError, ValueError) as exc:
        raise CheckFailed(f"GET {url}: {exc}") from exc


def check_backtest(ctx: Context) -> str:
    """A backtest in the app's "spawn" worker pool: a frozen app whose entry point forgot
    `multiprocessing.freeze_support()` starts a second app instead of the worker."""
    from ibtrader.backtest.job_input import job_from_json
    from ibtrader.backtest.jobs import FINAL, BacktestJobs

    end = dt.date.today()
    job = job_from_json({"strategy": "sma_cross", "symbol": ORDER_SYMBOL, "bar_size": "1 day",
                         "start": (end - dt.timedelta(days=BACKTEST_DAYS)).isoformat(),
                         "end": end.isoformat()})
    jobs = BacktestJobs(_settings(ctx))
    try:
        job_id = jobs.start(job)
        deadline = time.monotonic() + BACKTEST_TIMEOUT
        while (status := jobs.status(job_id))["state"] not in FINAL:
            if time.monotonic() > deadline:
                raise CheckFailed(f"the backtest worker did not finish within "
                                  f"{BACKTEST_TIMEOUT:g} s (state {status['state']})")
            time.sleep(0.05)
        if status["state"] != "done":
            raise CheckFailed(f"the backtest ended {status['state']}: {status['error']}")
        if status["pid"] in (None, os.getpid()):
            raise CheckFailed("the backtest did not run in a worker process")
        stats = jobs.result(job_id)["stats"]
    finally:
        jobs.close()
    return (f"sma_cross on {ORDER_SYMBOL} 1 day in worker pid {status['pid']}: "
            f"{stats['number_of_trades']} trades, {stats['total_return_pct']:+.2f}%")


def check_chart(ctx: Context) -> str:
    """A chart PNG drawn in a "spawn" process, as the app draws its decision and fill charts
    (matplotlib must be in the bundle, and the frozen entry point must start the worker)."""
    import concurrent.futures
    import multiprocessing

    from ibtrader.adapters.charts.render import render_bars_png
    from ibtrader.core.market import Bar

    start = time.time() - 3600 * 50
    bars = [Bar(start + 3600 * i, 100 + i % 7, 102 + i % 7, 99 + i % 7, 101 + i % 5, 1000.0)
            for i in range(50)]
    with concurrent.futures.ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn")) as pool:
        png = pool.submit(render_bars_png, ORDER_SYMBOL, "1 hour", bars).result(
            timeout=BACKTEST_TIMEOUT)
    if not png.startswith(b"\x89PNG") or len(png) < 5_000:
        raise CheckFailed(f"the chart is not a PNG of a drawn chart ({len(png)} bytes)")
    return f"{ORDER_SYMBOL} 1 hour, 50 bars: {len(png):,} bytes of PNG"


CHECKS = (
    Check("imports", check_imports),
    Check("settings", check_settings),
    Check("resources", check_resources),
    Check("window", check_window),
    Check("webengine", check_webengine),
    Check("gateway-order", check_order),
    Check("web-health", check_web),
    Check("backtest-worker", check_backtest),
    Check("chart-render", check_chart),
)


# --- running them ----------------------------------------------------------------------------

def _settings(ctx: Context) -> Settings:
    if ctx.settings is None:
        raise CheckFailed("needs the settings check first")
    return ctx.settings


def free_port() -> int:
    """A loopback port free right now (the web server's setting cannot be 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_checks(checks: tuple[Check, ...], ctx: Context, out: TextIO) -> int:
    for check in checks:
        started = time.perf_counter()
        try:
            detail = check.run(ctx)
        except Exception as exc:
            why = str(exc) if isinstance(exc, CheckFailed) else f"{type(exc).__name__}: {exc}"
            print(f"FAIL {check.name}: {why}", file=out, flush=True)
            return 1
        took = (time.perf_counter() - started) * 1000
        print(f"ok {check.name} ({took:.0f} ms): {detail}", file=out, flush=True)
    return 0


@contextlib.contextmanager
def _console() -> Iterator[TextIO]:
    """stdout; a windowed Windows build has none, so borrow the terminal it was started
    from (if any) to print there."""
    if sys.stdout is not None:
        yield sys.stdout
        return
    if sys.platform == "win32":
        import ctypes

        attach_parent_process = -1
        if ctypes.windll.kernel32.AttachConsole(attach_parent_process):  # type: ignore[attr-defined]
            with open("CONOUT$", "w", encoding="utf-8") as console:
                yield console
                return
    with open(os.devnull, "w", encoding="utf-8") as nowhere:  # still exits with the status
        yield nowhere


def main(config_file: Path | None = None) -> int:
    """Runs every check; 0 when all pass."""
    with _console() as out, tempfile.TemporaryDirectory(prefix="ibtrader-selftest-") as tmp:
        return run_checks(CHECKS, Context(config_file, Path(tmp)), out)
