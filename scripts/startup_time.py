"""Time from starting the app to its first painted window (and to the first live quotes),
for the frozen bundle and the source install alike, on the current display.

    xvfb-run -a python scripts/startup_time.py dist/ibtrader/ibtrader .venv/bin/ibtrader

Each command runs `gui --report-startup --seconds N` a few times with a fresh HOME (so no
saved layout or history cache helps it) and the app's own milestones, printed as
`name epoch-seconds`, are compared with the moment the process was started.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

MILESTONES = ("first-paint", "engine-ready", "first-quotes")


def one_run(command: str, seconds: float, drop_caches: bool) -> dict[str, float]:
    if drop_caches:  # a cold start as after a reboot (root on Linux only)
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as caches:
            caches.write("3\n")
    with tempfile.TemporaryDirectory(prefix="ibtrader-start-") as home:
        env = {**os.environ, "HOME": home, "XDG_CONFIG_HOME": os.path.join(home, ".config"),
               "XDG_DATA_HOME": os.path.join(home, ".local", "share")}
        started = time.time()
        out = subprocess.run([command, "gui", "--report-startup", "--seconds", str(seconds)],
                             env=env, capture_output=True, text=True, timeout=seconds + 120)
    found = {}
    for line in out.stdout.splitlines():
        name, _, at = line.partition(" ")
        if name in MILESTONES:
            found[name] = (float(at) - started) * 1000
    if "first-paint" not in found:
        raise SystemExit(f"{command}: no first-paint milestone (exit {out.returncode})\n"
                         f"{out.stderr[-2000:]}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commands", nargs="+", metavar="IBTRADER")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--drop-caches", action="store_true",
                        help="empty the page cache before each run (needs root, Linux)")
    args = parser.parse_args(argv)
    for command in args.commands:
        runs = [one_run(command, args.seconds, args.drop_caches) for _ in range(args.runs)]
        parts = []
        for name in MILESTONES:
            values = [r[name] for r in runs if name in r]
            if values:
                parts.append(f"{name} median {statistics.median(values):.0f} ms "
                             f"(min {min(values):.0f}, max {max(values):.0f})")
        print(f"{command}: " + "; ".join(parts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
