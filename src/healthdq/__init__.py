"""healthdq: data quality for NHS health and care data.

The Python API (docs/python.md): `healthdq.check`, `healthdq.profile`, `healthdq.omop`.
"""

__version__ = "0.1.0"

# `healthdq.profile` and `healthdq.omop` are both subpackages and API functions. The subpackages
# are imported first so that the import system's binding of them on this package happens now; the
# functions are bound after and stay bound: `healthdq.omop(path)` calls the function, while
# `from healthdq.omop import ...` still finds the subpackage in sys.modules.
import healthdq.omop as _omop_package  # noqa: E402, F401  (must precede the API import)
import healthdq.profile as _profile_package  # noqa: E402, F401  (must precede the API import)
from healthdq.api import check, omop, profile  # noqa: E402
from healthdq.errors import HealthdqError  # noqa: E402
from healthdq.results import RunResult  # noqa: E402

__all__ = ["HealthdqError", "RunResult", "__version__", "check", "omop", "profile"]
