"""Synthetic NHS-like extracts (APC, A&E, outpatients) with seeded defects at exact rates."""

from healthdq.synth.generator import SynthResult, build_sql, generate
from healthdq.synth.spec import DEFECTS, KINDS, DefectSpec, expected_by_rule, expected_defects

__all__ = [
    "DEFECTS",
    "KINDS",
    "DefectSpec",
    "SynthResult",
    "build_sql",
    "expected_by_rule",
    "expected_defects",
    "generate",
]
