"""The frozen app's entry point (build.spec): `ibtrader` as the PyInstaller bundle runs it.

`freeze_support()` comes first: backtest jobs run in a "spawn" process pool, and in a frozen
app each worker is this same executable started again; without it a worker would open a
second copy of the app instead of running its job.
"""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()

    from ibtrader.cli import main

    raise SystemExit(main())
