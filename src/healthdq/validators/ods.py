"""Organisation Data Service (ODS) code formats: organisation, site and GP practice.

These are shape checks only; whether a code exists (and was open on the activity date) needs the
ODS reference files, which is a foreign-key rule, not a validator.

NHS Data Dictionary, ORGANISATION CODE and ORGANISATION SITE CODE ("Organisation Coding Frames",
"Organisation Site Coding Frames"): codes are upper-case alphanumeric, built from an organisation
type identifier, an organisation identifier and, for sites, a site identifier. The frames seen in
hospital and primary care data (examples from the Dictionary's coding-frame pages, or well-known
live codes):
- 3 characters: NHS trusts (RH8, RR8, RTH), care trusts (TAK), ICBs and former CCGs (QWO, 15F),
  NHS England regions (Y56), independent sector healthcare providers (NV7);
- 5 characters: sites of those organisations (RH802, RR801, TAK01, NV701, 7A101, X1601) and
  5-character organisations such as independent providers in the A frame (8HA03);
- a letter and 5 digits: GP practices (B82005), including the national default codes V81997,
  V81998 and V81999, which are valid in format and are handled by default-value rules.
"""

from __future__ import annotations

from healthdq.validators._sql import pattern_builder
from healthdq.validators.base import Validator, register

ORG_PATTERN = "[A-Z0-9]{3}|[A-Z0-9]{5}|[A-Z][0-9]{5}"
SITE_PATTERN = "[A-Z0-9]{5}"
GP_PRACTICE_PATTERN = "[A-Z][0-9]{5}"

_DD_SOURCE = (
    "NHS Data Dictionary: ORGANISATION CODE (Organisation Coding Frames) and ORGANISATION SITE "
    "CODE (Organisation Site Coding Frames); codes issued by the Organisation Data Service"
)


ODS_ORG = register(
    Validator(
        name="ods_org",
        description=(
            "ODS organisation code format: 3 or 5 upper-case alphanumerics (trusts, ICBs, "
            "CCGs, independent providers) or a letter and 5 digits (GP practices)"
        ),
        source=_DD_SOURCE,
        build=pattern_builder(ORG_PATTERN),
    )
)

ODS_SITE = register(
    Validator(
        name="ods_site",
        description="ODS site code format: 5 upper-case alphanumerics (e.g. RR801, RTH08)",
        source=_DD_SOURCE,
        build=pattern_builder(SITE_PATTERN),
    )
)

GP_PRACTICE = register(
    Validator(
        name="gp_practice",
        description=(
            "GP practice code format: a letter and 5 digits (e.g. B82005), defaults such as "
            "V81999 included"
        ),
        source=(
            "NHS Data Dictionary GENERAL MEDICAL PRACTICE CODE (PATIENT REGISTRATION) and "
            "Organisation Coding Frames (practice frame: organisation type letter + 5 digits)"
        ),
        build=pattern_builder(GP_PRACTICE_PATTERN),
    )
)
