"""Settings: one validated, immutable object built from `IBTRADER_*` environment variables,
then an optional TOML file, then defaults (the first that sets a value wins).

Adding a setting is one line in `Settings`: a typed field made with `setting(...)`. Its
environment variable (`IBTRADER_<NAME>`), its TOML keys (flat `name = …`, or `rest = …` in
a `[prefix]` table), its parsing (from the annotation), its checks (from the arguments)
and its masking (from the name) all follow from that line.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import tomllib
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, dataclass_transform

import platformdirs

from ibtrader.core.orders.pricing import parse_chase, parse_policy
from ibtrader.core.performance import check_zone, parse_session_close

APP_NAME = "ibtrader"
ENV_PREFIX = "IBTRADER_"
CONFIG_ENV = "IBTRADER_CONFIG"
MASK = "********"
SECRET_SUFFIXES = ("_token", "_password", "_secret", "_key")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_WATCHLIST = ("AAPL", "MSFT", "NVDA", "AMZN", "TSLA", "SPY", "EURUSD", "ES")

_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True,
             "0": False, "false": False, "no": False, "off": False}
_RULES = "ibtrader.setting"
_T = TypeVar("_T")


class ConfigError(ValueError):
    """One bad setting: `key` is the setting's name, `source` says where the value came from
    (e.g. `IBTRADER_IB_PORT="abc"` or `config.toml [ib] port = 0`)."""

    def __init__(self, key: str, message: str, source: str = "") -> None:
        super().__init__(f"{source or key}: {message}")
        self.key = key
        self.message = message
        self.source = source


class ConfigErrors(ValueError):
    """Every bad setting found in one load, so a user fixes them all in one go."""

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


def is_secret(name: str) -> bool:
    return name.endswith(SECRET_SUFFIXES)


def default_data_dir() -> Path:
    # appauthor=False: on Windows, avoid the doubled "ibtrader\ibtrader" folder.
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


# --- checks beyond the type and range (each returns the normalised value) -----------------

_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9. /-]*")


def _host(value: str) -> str:
    host = value.strip()
    # One colon means "host:port"; IPv6 addresses have at least two.
    if not host or any(c.isspace() for c in host) or "/" in host or host.count(":") == 1:
        raise ValueError("must be a host name or IP address such as 127.0.0.1 "
                         "(no scheme, path or port)")
    return host


def _account(value: str) -> str:
    account = value.strip()
    if not account.isalnum() and account:
        raise ValueError("must be an IB account code such as DU1234567, "
                         "or empty for the only managed account")
    return account


def _symbols(value: tuple[str, ...]) -> tuple[str, ...]:
    symbols = tuple(dict.fromkeys(s.upper() for s in value))  # keep order, drop repeats
    for symbol in symbols:
        if not _SYMBOL.fullmatch(symbol):
            raise ValueError(f"{symbol!r} is not a symbol (letters, digits, '.', '/', '-')")
    return symbols


# --- declaring a setting -------------------------------------------------------------------

@dataclass(frozen=True)
class _Rules:
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    check: Callable[[Any], Any] | None = None
    derive: Callable[[Settings], Any] | None = None
    implied_by: tuple[tuple[str, Any], ...] = ()


def setting(default: Any = dataclasses.MISSING, *, factory: Callable[[], Any] | None = None,
            derive: Callable[[Settings], Any] | None = None, choices: Iterable[str] = (),
            low: float | None = None, high: float | None = None,
            check: Callable[[Any], Any] | None = None,
            implied_by: Mapping[str, Any] | None = None) -> Any:
    """A `Settings` field. `derive` computes the default from the other settings;
    `implied_by={"other": value}` makes `value` the default when `other` was set."""
    rules = _Rules(tuple(choices), low, high, check, derive, tuple((implied_by or {}).items()))
    meta = {_RULES: rules}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=None if derive else default, metadata=meta)


@dataclass_transform(frozen_default=True, field_specifiers=(setting, field))
def _settings_class(cls: type[_T]) -> type[_T]:
    # Tells type checkers and linters that `setting(...)` declares a field, like `field`.
    return dataclass(frozen=True)(cls)


@_settings_class
class Settings:
    data_dir: Path = setting(factory=default_data_dir)
    log_dir: Path = setting(derive=lambda s: s.data_dir / "logs")
    log_level: str = setting("INFO", choices=LOG_LEVELS)
    log_format: str = setting("text", choices=("text", "json"))
    # Naming an IB host means "trade through IB"; otherwise the built-in simulator.
    broker: str = setting("sim", choices=("sim", "ib"), implied_by={"ib_host": "ib"})
    ib_host: str = setting("127.0.0.1", check=_host)
    ib_port: int = setting(4002, low=1, high=65535)
    # The wire carries a signed 32-bit int; IB documents no tighter limit.
    ib_client_id: int = setting(1, low=0, high=2**31 - 1)
    ib_account: str = setting("", check=_account)
    ib_connect_timeout: float = setting(10.0, low=0.1, high=600)
    ib_readonly: bool = setting(False)
    sim_seed: int = setting(42, low=0, high=2**32 - 1)
    sim_port: int = setting(0, low=0, high=65535)
    sim_state_file: Path = setting(derive=lambda s: s.data_dir / "sim" / "gateway.sqlite")
    sim_around_the_clock: bool = setting(True)
    sim_extra_symbols: int = setting(0, low=0, high=10_000)  # synthetic SIM000… (load tests)
    web_host: str = setting("127.0.0.1", check=_host)
    web_port: int = setting(8050, low=1, high=65535)
    web_secret_key: str = setting("")
    web_enabled: bool = setting(True)  # the desktop app serves the dashboard and API too
    web_tls_certfile: str = setting("")  # both set: HTTPS (PEM files)
    web_tls_keyfile: str = setting("")
    web_api_threads: int = setting(8, low=1, high=64)
    web_max_streams: int = setting(8, low=1, high=64)  # open event streams, a thread each
    watchlist: tuple[str, ...] = setting(DEFAULT_WATCHLIST, check=_symbols)
    objects_dir: Path = setting(derive=lambda s: s.data_dir / "objects")
    minio_endpoint: str = setting("")  # host:port (or http(s)://host:port); "": local folder
    minio_access_key: str = setting("")
    minio_secret_key: str = setting("")
    minio_secure: bool = setting(False)
    minio_bucket_charts: str = setting("charts")
    minio_bucket_marketdata: str = setting("marketdata")
    minio_region: str = setting("us-east-1")  # signs chart URLs without asking the server
    charts_enabled: bool = setting(True)  # a PNG per decision and fill, the daily equity curve
    nocodb_url: str = setting("")  # http://host:port of NocoDB; "": no journal mirror
    nocodb_api_token: str = setting("")  # an API token (xc-token) made in NocoDB's UI
    nocodb_base: str = setting("ibtrader")  # the base (project) holding the mirror's tables
    n8n_decision_url: str = setting("")  # the n8n webhook the n8n_decision strategy asks
    n8n_decision_timeout: float = setting(20.0, low=0.1, high=600)  # s per question
    n8n_webhook_secret: str = setting("")  # HMAC-SHA256 key of the signature header
    n8n_url: str = setting("")  # http://host:port of n8n, for `services init|check`
    n8n_api_key: str = setting("")  # a public-API key made in n8n (Settings > n8n API)
    n8n_webhook_url: str = setting("")  # notifications: the workflow's webhook; "": log only
    n8n_timeout: float = setting(10.0, low=0.1, high=300)  # s per webhook delivery
    history_lookback: tuple[str, ...] = setting(  # per bar size, IB durations; see market_data
        ("1 min=2 D", "5 mins=5 D", "15 mins=10 D", "1 hour=30 D", "1 day=1 Y"))
    bar_close_grace: float = setting(2.0, low=0, high=60)
    # trading engine: risk sizing (core/sizing.py), decisions, journal, strategies run live
    risk_per_trade_pct: float = setting(0.5, low=0.01, high=10)
    reward_r: float = setting(2.0, low=0, high=20)  # take-profit in R; 0 = none
    default_stop_pct: float = setting(2.0, low=0.05, high=50)  # when a signal has no stop/ATR
    stop_atr_multiple: float = setting(2.0, low=0.1, high=20)  # when it reports an ATR
    max_position_value: float = setting(25_000.0, low=0)  # per new position; 0 = no cap
    # pre-trade risk (core/orders/risk.py); 0 switches a rule off; values in account money
    max_order_quantity: float = setting(100_000.0, low=0)  # shares / contracts / FX units
    max_order_value: float = setting(50_000.0, low=0)
    max_position_value_per_symbol: float = setting(100_000.0, low=0)  # incl. working orders
    max_gross_exposure: float = setting(250_000.0, low=0)
    max_orders_per_minute: int = setting(30, low=0, high=10_000)
    price_band_pct: float = setting(5.0, low=0, high=100)  # limit/stop vs last, like TWS
    daily_loss_limit: float = setting(2_000.0, low=0)  # after it: only reducing orders
    decision_expiry_seconds: float = setting(300.0, low=1, high=86_400)
    # price management (core/orders/pricing.py, stops.py); 0 / "" switches a rule off
    limit_price_policy: str = setting("join", check=lambda v: str(parse_policy(v)))
    limit_chase: str = setting("", check=lambda v: v and str(parse_chase(v)))  # 5:1:10:market
    breakeven_r: float = setting(1.0, low=0, high=20)  # stop to break-even after this many R
    breakeven_buffer_ticks: int = setting(1, low=0, high=1000)  # beyond the entry, for costs
    trail_stop_atr_multiple: float = setting(0.0, low=0, high=20)  # trail the stop by N ATRs
    stop_atr_period: int = setting(14, low=1, high=500)  # ATR of 5-second bars for the trail
    order_resend_unsent_within: float = setting(0.0, low=0, high=60)  # s; 0: never re-send
    order_quote_timeout: float = setting(3.0, low=0.1, high=60)  # wait for a first quote
    strategies_dir: Path = setting(derive=lambda s: s.data_dir / "strategies")
    journal_file: Path = setting(derive=lambda s: s.data_dir / "journal.sqlite")
    # daily performance (services/performance.py): the day's row at the close, in this zone
    equity_sample_seconds: float = setting(60.0, low=0.05, high=3600)
    session_close: str = setting("16:00", check=parse_session_close)
    session_timezone: str = setting("America/New_York", check=check_zone)
    # "name" or "name:param=value;param=value", e.g. "sma_cross:fast=5;slow=30,supertrend"
    strategies: tuple[str, ...] = setting(("sma_cross", "supertrend"))
    auto_trade: tuple[str, ...] = setting(())  # strategies that trade without confirmation

    def __post_init__(self) -> None:
        # Values built in code go through the same parsing and checks as loaded ones.
        errors: list[ConfigError] = []
        for spec in _specs():
            value = getattr(self, spec.name)
            if value is None and spec.rules.derive:
                continue
            try:
                object.__setattr__(self, spec.name, spec.parse(value, None))
            except ValueError as exc:
                source = f"Settings({spec.name}={spec.show(value, repr)})"
                errors.append(ConfigError(spec.name, str(exc), source))
        if errors:
            raise ConfigErrors(errors)
        for spec in _specs():
            if getattr(self, spec.name) is None and spec.rules.derive:
                object.__setattr__(self, spec.name, spec.rules.derive(self))

    def __repr__(self) -> str:
        shown = (f"{s.name}={s.show(getattr(self, s.name), repr)}" for s in _specs())
        return f"Settings({', '.join(shown)})"

    def masked(self) -> dict[str, str]:
        """Every setting as the text its IBTRADER_* variable would hold; secrets masked."""
        return {s.name: s.show(getattr(self, s.name), _as_text) for s in _specs()}

    def to_dict(self) -> dict[str, Any]:
        """Every setting as a JSON-ready value (paths as text, lists), secrets masked."""
        return {s.name: s.show(getattr(self, s.name), _as_json) for s in _specs()}

    def secret_values(self) -> tuple[str, ...]:
        """The non-empty secret values, for the log redaction."""
        return tuple(v for s in _specs() if s.secret and (v := getattr(self, s.name)))


def ensure_dirs(settings: Settings) -> None:
    for folder in (settings.data_dir, settings.log_dir):
        folder.mkdir(parents=True, exist_ok=True)


# --- parsing one value ---------------------------------------------------------------------

def _to_str(raw: object, base: Path | None) -> str:
    if not isinstance(raw, str):
        raise ValueError
    return raw


def _to_int(raw: object, base: Path | None) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        return int(raw.strip())
    raise ValueError


def _to_float(raw: object, base: Path | None) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError
    return value


def _to_bool(raw: object, base: Path | None) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str) and raw.strip().lower() in _BOOLEANS:
        return _BOOLEANS[raw.strip().lower()]
    raise ValueError


def _to_path(raw: object, base: Path | None) -> Path:
    if not isinstance(raw, str | Path) or not str(raw).strip():
        raise ValueError
    path = Path(raw).expanduser()
    # Absolute from the start, so a later chdir cannot move the app's files.
    return path if path.is_absolute() else (base or Path.cwd()) / path


def _to_names(raw: object, base: Path | None) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError
    return tuple(i.strip() for i in items if i.strip())


_CONVERTERS: dict[Any, tuple[Callable[[object, Path | None], Any], str]] = {
    str: (_to_str, "text"),
    int: (_to_int, "a whole number"),
    float: (_to_float, "a number"),
    bool: (_to_bool, "true or false (also 1/0, yes/no, on/off)"),
    Path: (_to_path, "a path"),
    tuple[str, ...]: (_to_names, "a list of names (comma-separated in a variable)"),
}


@dataclass(frozen=True)
class _Spec:
    name: str
    kind: Any
    rules: _Rules

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def secret(self) -> bool:
        return is_secret(self.name)

    @property
    def expectation(self) -> str:
        if self.rules.choices:
            return "one of " + ", ".join(self.rules.choices)
        low, high = (_number(x) for x in (self.rules.low, self.rules.high))
        text = _CONVERTERS[self.kind][1]
        if low is not None and high is not None:
            return f"{text} from {low} to {high}"
        if low is not None:
            return f"{text} of at least {low}"
        return text if high is None else f"{text} of at most {high}"

    def parse(self, raw: object, base: Path | None) -> Any:
        """The typed, checked value; ValueError with a message saying what is allowed."""
        try:
            value = self._within(_CONVERTERS[self.kind][0](raw, base))
        except (ValueError, TypeError, OverflowError):
            raise ValueError(f"must be {self.expectation}") from None
        return self.rules.check(value) if self.rules.check else value

    def _within(self, value: Any) -> Any:
        if self.rules.choices:
            matches = [c for c in self.rules.choices if c.lower() == value.strip().lower()]
            if not matches:
                raise ValueError
            return matches[0]
        low, high = self.rules.low, self.rules.high
        if (low is not None and not value >= low) or (high is not None and not value <= high):
            raise ValueError
        return value

    def show(self, value: Any, render: Callable[[Any], Any]) -> Any:
        return render(MASK if self.secret and value else value)


def _number(x: float | None) -> float | int | None:
    return int(x) if x is not None and float(x).is_integer() else x


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def _as_json(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    return list(value) if isinstance(value, tuple) else value


@cache
def _specs() -> tuple[_Spec, ...]:
    hints = typing.get_type_hints(Settings)
    specs = tuple(_Spec(f.name, hints[f.name], f.metadata[_RULES])
                  for f in dataclasses.fields(Settings))
    names = {s.name for s in specs}
    for spec in specs:  # mistakes in the declarations fail loudly at first use
        if spec.kind not in _CONVERTERS:
            raise TypeError(f"Settings.{spec.name}: no parser for {spec.kind!r}")
        if unknown := {k for k, _ in spec.rules.implied_by} - names:
            raise TypeError(f"Settings.{spec.name}: implied_by names unknown {unknown}")
    return specs


def _spec_named() -> dict[str, _Spec]:
    return {s.name: s for s in _specs()}


# --- loading -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Raw:
    """A value as written, with where it was written and the folder relative paths use."""
    value: object
    source: str
    base: Path | None


def load_settings(config_file: Path | str | None = None,
                  env: Mapping[str, str] | None = None) -> Settings:
    """The effective settings; raises ConfigErrors listing every bad value."""
    env = os.environ if env is None else env
    errors: list[ConfigError] = []
    written: dict[str, list[_Raw]] = {}
    for name, raw in _read_toml(config_file, env, errors):
        written.setdefault(name, []).append(raw)
    for spec in _specs():  # the environment comes last, so it wins
        text = env.get(spec.env, "")
        if text:  # an empty variable counts as unset, as in most shells and compose files
            value = MASK if spec.secret else text
            source = f"{spec.env}={json.dumps(value, ensure_ascii=False)}"
            written.setdefault(spec.name, []).append(_Raw(text, source, None))
    given: dict[str, Any] = {}
    specs = _spec_named()
    for name, raws in written.items():
        for raw in raws:
            try:
                given[name] = specs[name].parse(raw.value, raw.base)
            except ValueError as exc:
                errors.append(ConfigError(name, str(exc), raw.source))
    if errors:
        raise ConfigErrors(errors)
    for spec in _specs():
        for other, value in spec.rules.implied_by:
            if spec.name not in given and other in given:
                given[spec.name] = value
    return Settings(**given)


def _read_toml(config_file: Path | str | None, env: Mapping[str, str],
               errors: list[ConfigError]) -> list[tuple[str, _Raw]]:
    if config_file is None and env.get(CONFIG_ENV):
        config_file, origin = env[CONFIG_ENV], f"{CONFIG_ENV}={json.dumps(env[CONFIG_ENV])}"
    else:
        origin = str(config_file)
    if config_file is None:
        return []
    path = Path(config_file).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        errors.append(ConfigError("config", "no such file", origin))
        return []
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(ConfigError("config", f"cannot be read ({exc})", origin))
        return []
    except tomllib.TOMLDecodeError as exc:
        errors.append(ConfigError("config", f"is not valid TOML ({exc})", origin))
        return []
    return list(_toml_values(data, str(config_file), path.absolute().parent, errors))


def _toml_values(data: dict[str, Any], file: str, base: Path,
                 errors: list[ConfigError]) -> Iterable[tuple[str, _Raw]]:
    specs, seen = _spec_named(), set()
    for table, key, value in _flatten(data):
        name = f"{table}_{key}" if table else key
        where = f"{file} [{table}] {key}" if table else f"{file} {key}"
        spec = specs.get(name)
        if isinstance(value, dict):
            errors.append(ConfigError(f"{table}.{key}", "tables go one level deep only", where))
        elif spec is None:
            dotted = f"{table}.{key}" if table else key
            errors.append(ConfigError(dotted, "unknown setting" + _suggestion(name, table), where))
        elif spec.secret:
            errors.append(ConfigError(name, "secrets are read only from the environment: "
                                            f"set {spec.env} instead", where))
        elif name in seen:
            errors.append(ConfigError(name, "set twice in the file; keep one", where))
        else:
            seen.add(name)
            yield name, _Raw(value, f"{where} = {_toml_literal(value)}", base)


def _flatten(data: dict[str, Any]) -> Iterable[tuple[str, str, Any]]:
    """(table, key, value) for flat keys (table "") and keys one table deep."""
    for key, value in data.items():
        if isinstance(value, dict):
            for sub, sub_value in value.items():
                yield key, sub, sub_value
        else:
            yield "", key, value


def _suggestion(name: str, table: str) -> str:
    close = difflib.get_close_matches(name, [s.name for s in _specs()], n=1, cutoff=0.6)
    if not close:
        return " (`ibtrader config` lists the settings)"
    match = close[0]
    if table and match.startswith(f"{table}_"):
        match = match.removeprefix(f"{table}_")
    return f'; did you mean "{match}"?'


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_literal(v) for v in value) + "]"
    return value.isoformat() if hasattr(value, "isoformat") else repr(value)
