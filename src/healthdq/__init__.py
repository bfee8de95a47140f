"""healthdq: data quality for NHS health and care data.

The Python API (docs/python.md): `healthdq.check`, `healthdq.profile`, `healthdq.omop`.
"""

__version__ = "0.1.0"

import sys
import types

from healthdq.api import check, omop, profile
from healthdq.errors import HealthdqError
from healthdq.results import RunResult

__all__ = ["HealthdqError", "RunResult", "__version__", "check", "omop", "profile"]
_API = {"check": check, "omop": omop, "profile": profile}


class _Package(types.ModuleType):
    """`healthdq.profile` and `healthdq.omop` are subpackages and API functions. The import
    system binds a subpackage on its parent when it first loads it (whenever that is); this keeps
    the API function bound instead, while `from healthdq.omop import ...` finds the subpackage
    in sys.modules as usual."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
