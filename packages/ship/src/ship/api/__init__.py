"""Ship's HTTP routers, one per capability."""
