"""The simulated IB Gateway: a TWS API server with a simulated market, matching engine and
paper account. It is a broker of its own: the app reaches it only over TCP, like real TWS.
Start it with `SimulatedGateway` (ibtrader.sim.gateway) or `ibtrader gateway`."""
