"""The in-engine HMAC-SHA256 (sha256 over binary strings) against RFC 4231 and Python's hmac."""

from __future__ import annotations

import hashlib
import hmac

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from healthdq.governance.pseudonymise import IPAD, OPAD, hmac_pads, hmac_sql

# RFC 4231 section 4 (test cases 1-4, 6, 7; case 5 is a truncated output): key, data, and the
# published HMAC-SHA-256.
RFC4231 = [
    (
        b"\x0b" * 20,
        b"Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        b"\xaa" * 20,
        b"\xdd" * 50,
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
    ),
    (
        bytes(range(1, 26)),
        b"\xcd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        b"\xaa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size data. "
        b"The key needs to be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
]


def _duckdb_hmac(con: duckdb.DuckDBPyConnection, key: bytes, messages: list[bytes]) -> list[str]:
    ipad, opad = hmac_pads(key)
    con.execute(f"CREATE OR REPLACE TEMP TABLE k ({IPAD} BLOB, {OPAD} BLOB)")
    con.execute("INSERT INTO k VALUES (?, ?)", [ipad, opad])
    con.execute("CREATE OR REPLACE TEMP TABLE m (i INTEGER, msg BLOB)")
    con.executemany("INSERT INTO m VALUES (?, ?)", list(enumerate(messages)))
    # hmac_sql takes text and encodes it as UTF-8; the vectors are bytes, so feed the BLOB in.
    sql = hmac_sql("__msg").replace("encode(__msg)", "m.msg")
    return [r[0] for r in con.execute(f"SELECT {sql} FROM m, k ORDER BY i").fetchall()]


@pytest.mark.parametrize(("key", "data", "expected"), RFC4231)
def test_rfc4231_vectors(key: bytes, data: bytes, expected: str) -> None:
    assert hmac.new(key, data, hashlib.sha256).hexdigest() == expected
    assert _duckdb_hmac(duckdb.connect(), key, [data]) == [expected]


@settings(max_examples=10, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=200),
    texts=st.lists(st.text(max_size=120), min_size=1, max_size=8),
)
def test_text_tokens_match_python_hmac(key: bytes, texts: list[str]) -> None:
    """What pseudonymise runs (text encoded as UTF-8 by the engine) equals hmac.new()."""
    con = duckdb.connect()
    ipad, opad = hmac_pads(key)
    con.execute(f"CREATE TEMP TABLE k ({IPAD} BLOB, {OPAD} BLOB)")
    con.execute("INSERT INTO k VALUES (?, ?)", [ipad, opad])
    con.execute("CREATE TEMP TABLE m (i INTEGER, v VARCHAR)")
    con.executemany("INSERT INTO m VALUES (?, ?)", list(enumerate(texts)))
    got = [r[0] for r in con.execute(f"SELECT {hmac_sql('v')} FROM m, k ORDER BY i").fetchall()]
    want = [hmac.new(key, t.encode("utf-8"), hashlib.sha256).hexdigest() for t in texts]
    assert got == want


def test_null_stays_null() -> None:
    con = duckdb.connect()
    ipad, opad = hmac_pads(b"x" * 32)
    con.execute(f"CREATE TEMP TABLE k ({IPAD} BLOB, {OPAD} BLOB)")
    con.execute("INSERT INTO k VALUES (?, ?)", [ipad, opad])
    assert con.execute(f"SELECT {hmac_sql('NULL')} FROM k").fetchone() == (None,)
