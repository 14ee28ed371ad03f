"""Order management, pure: no I/O, no asyncio, time passed in.

The path of an order through the app, one module per step:
    request.py     OrderRequest: what a trader, the engine, the API or the CLI asks for,
                   with its client key (our order ref); text parsing with specific errors
    validation.py  validate(): is it tradable as written (contract, lots, tick grid, sides)
    risk.py        check(): may it be sent now (limits, loss limit, kill switch)
    tickets.py     build_tickets(): the broker's OrderTickets (brackets as parent + legs)
    lifecycle.py   Order and OrderState: the state machine fed by the broker's reports
    pricing.py     price policies and the chase; stops.py: stop management;
    portfolio.py   positions and P&L from executions
"""
