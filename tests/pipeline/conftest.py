"""The OMOP CDM builder, shared with tests/omop."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "omop"))

from omop_fixture import make_cdm  # noqa: E402

__all__ = ["make_cdm"]
