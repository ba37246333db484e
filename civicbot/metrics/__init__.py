"""Metrics: tables computed from the store, each written by one documented function."""
