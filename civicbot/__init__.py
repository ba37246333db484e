"""civicbot: what civic open source is worth, from the public GitHub record."""

__version__ = "0.1.0"
