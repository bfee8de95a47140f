"""healthdq: data quality for NHS health and care data."""

__version__ = "0.1.0"
