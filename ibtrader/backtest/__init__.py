"""Backtests: strategies run bar by bar over history through the simulator's matching
engine. `runner.BacktestRunner` is the loop; `report.BacktestReport` the results."""
