"""Harvesting GitHub into the store: the HTTP client (`client`), and what to fetch."""
