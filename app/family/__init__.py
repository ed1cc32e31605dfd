"""Family access (proxy) to a relative's archive."""
