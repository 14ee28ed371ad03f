"""The trading panels: order ticket, orders, positions, account, signals and the backtest
dialog. Each is a standalone widget over the running engine (`ibtrader.app.Engine`); the
main window docks them. Live values reach them coalesced, never one repaint per event."""
