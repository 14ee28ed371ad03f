"""Request handlers of the simulated gateway, one desk per concern, one desk set per client."""
