"""OMOP CDM v5.4: OHDSI Data Quality Dashboard checks as fused healthdq rules (docs/omop.md)."""

from __future__ import annotations

from healthdq.omop.catalogue import CheckDef, load_catalogue
from healthdq.omop.runner import run_omop

__all__ = ["CheckDef", "load_catalogue", "run_omop"]
