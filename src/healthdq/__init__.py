"""healthdq: data quality for NHS health and care data.

The Python API (docs/python.md): `healthdq.check`, `healthdq.profile`, `healthdq.omop`.
"""

__version__ = "0.1.0"

# `healthdq.profile` is both a subpackage and an API function. The subpackage is imported first
# so that the import system's binding of it on this package happens now; the function is bound
# after and stays bound: `healthdq.profile(df)` calls the function, while
# `from healthdq.profile import ...` still finds the subpackage in sys.modules.
import healthdq.profile as _profile_package  # noqa: E402, F401  (must precede the API import)
from healthdq.api import check, omop, profile  # noqa: E402
from healthdq.errors import HealthdqError  # noqa: E402
from healthdq.results import RunResult  # noqa: E402

__all__ = ["HealthdqError", "RunResult", "__version__", "check", "omop", "profile"]
