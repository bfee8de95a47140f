"""NHS validators: each builds a portable SQL boolean (DuckDB and Spark) for one column value.

Importing this package registers every validator in REGISTRY:
checksum  nhs_number, sctid
format    postcode, ods_org, ods_site, gp_practice, icd10, opcs4, treatment_function
valueset  one per file in valuesets/ (ethnic_category, admission_method, ...)
"""

from healthdq.validators import (  # noqa: F401  (imported to register their validators)
    clinical_codes,
    nhs_number,
    ods,
    postcode,
    sctid,
    valueset,
)
from healthdq.validators.base import REGISTRY, Validator, get_validator, register

__all__ = ["REGISTRY", "Validator", "get_validator", "register"]
