"""ibtrader: a trading workstation for Interactive Brokers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ibtrader")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
