"""The desktop app: PySide6 widgets over the engine, on one qasync loop.

Views call the engine's services (see `ibtrader.app.Engine`) and subscribe to their
events; live data reaches widgets through a `Coalescer`, never one repaint per tick.
"""
