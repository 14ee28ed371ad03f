"""The web layer: the API gateway's credentials (API keys, the dashboard password) and, later,
the embedded Flask server with its REST API and browser dashboard (issue 6)."""
