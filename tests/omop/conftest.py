"""Fixtures for the OMOP tests (the CDM builder lives in omop_fixture.py)."""

from omop_fixture import make_cdm

__all__ = ["make_cdm"]
