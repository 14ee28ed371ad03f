"""The README's ib_async script works as written against `ibtrader gateway`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ibtrader.benchmarks.gateway import gateway_process

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_script() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, "the README should hold exactly one Python script"
    return blocks[0]


def test_readme_script_against_the_gateway_command(tmp_path):
    script = readme_script()
    assert '"127.0.0.1", 4002' in script  # the default port of `ibtrader gateway`
    with gateway_process(symbols=0, tick_interval=0.25) as (port, _pid, _control):
        path = tmp_path / "readme_script.py"
        path.write_text(script.replace('"127.0.0.1", 4002', f'"127.0.0.1", {port}'))
        done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    ticks = [line for line in lines if line.startswith("tick ")]
    assert len(ticks) == 3
    assert all(float(p) > 0 for line in ticks for p in line.split()[1:])
    assert any(re.match(r"\d+ bars, last: BarData", line) for line in lines)
    assert any(re.match(r"filled 10\.0 @ \d+\.\d+", line) for line in lines)
    assert "position [('AAPL', 10.0)]" in lines

