"""Credgate: an OAuth 2.0 client credentials server for server-to-server API access."""

__version__ = "0.1.0"
