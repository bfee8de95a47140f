"""One Spark session for the whole run: starting the JVM costs seconds, a query far less."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime (java not on PATH)")
    from healthdq.engine.spark import create_session

    session = create_session(app_name="healthdq-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark_engine(spark: Any) -> Iterator[Any]:
    from healthdq.engine.spark import SparkEngine

    engine = SparkEngine(spark=spark)
    yield engine
    engine.close()
