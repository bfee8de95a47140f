"""Clinical classification code formats as held in English hospital data (HES, SUS, CDS).

Shape checks only: whether a code exists in the classification's edition needs the code files
from TRUD, which is a reference-data rule.
"""

from __future__ import annotations

from healthdq.validators._sql import pattern_builder
from healthdq.validators.base import Validator, register

# ICD-10 (NHS Data Dictionary, CLINICAL CLASSIFICATION CODE / DIAGNOSTIC CODING, format annnaa):
# "ICD-10 diagnostic codes are at least four characters in length. The first character is
# always alphabetic. Where an undivided three character code is used, the fourth character must
# be filled with 'X'. Fifth characters should be used in accordance with the guidance ... Where
# they are not used the character must be filled with a '-'. The sixth character of the code is
# used to designate an asterisk or dagger indicator in ICD-10; it may be an 'A' or 'D'."
# So: letter, 2 digits, digit or X, then optionally a 5th character (digit, or '-' as filler)
# and optionally the dagger/asterisk flag. Extracts that drop the '-' filler put the flag 5th
# (A170D), so that is accepted too. No dot (HES stores codes without it); upper case only; a
# bare 3-character code such as I10 fails (the Dictionary requires I10X). U codes (U071
# COVID-19) are ordinary letters here.
ICD10_PATTERN = "[A-Z][0-9]{2}[0-9X][0-9-]?[AD]?"

# OPCS-4 (HES 'Operations' guidance: "OPCS-4 codes consist of a letter followed by three
# figures. The letters denote the 24 chapters"; NHS Data Dictionary PROCEDURE CODING, format
# annn; a locally added 5th character "should be removed before inclusion in the CDS").
# 24 chapters: A-Z without I and O. HES placeholders '-' (no operation) and '&' (not known)
# are not codes and fail here.
OPCS4_PATTERN = "[A-HJ-NP-Z][0-9]{3}"

# TREATMENT FUNCTION CODE (NHS Data Dictionary, format n3, e.g. 100 General Surgery, 110
# Trauma and Orthopaedics, 300 General Internal Medicine, 420 Paediatrics, 501 Obstetrics,
# 650 Physiotherapy). Format only: the code list changes between Dictionary releases.
TREATMENT_FUNCTION_PATTERN = "[0-9]{3}"

ICD10 = register(
    Validator(
        name="icd10",
        description=(
            "ICD-10 code as in HES/CDS: letter, 2 digits, digit or X filler (I10X), optional "
            "5th character (digit or '-') and dagger/asterisk flag D/A; no dot; upper case"
        ),
        source=(
            "NHS Data Dictionary CLINICAL CLASSIFICATION CODE and DIAGNOSTIC CODING (ICD-10 "
            "format annnaa: 'X' filler for 3-character codes, '-' filler for an unused 5th "
            "character, 6th character 'A' asterisk / 'D' dagger); HES diag_nn fields (no dot)"
        ),
        build=pattern_builder(ICD10_PATTERN),
    )
)

OPCS4 = register(
    Validator(
        name="opcs4",
        description="OPCS-4 code as in HES/CDS: chapter letter (not I or O) and 3 digits, no dot",
        source=(
            "NHS Data Dictionary PROCEDURE CODING (OPCS-4 format annn); HES guidance 'What are "
            "OPCS-4 codes?' (a letter and three figures; 24 chapters)"
        ),
        build=pattern_builder(OPCS4_PATTERN),
    )
)

TREATMENT_FUNCTION = register(
    Validator(
        name="treatment_function",
        description="Treatment function code format: 3 digits (e.g. 100, 110, 300, 420)",
        source="NHS Data Dictionary TREATMENT FUNCTION CODE (format n3)",
        build=pattern_builder(TREATMENT_FUNCTION_PATTERN),
    )
)
