"""Free-text redaction (governance/freetext.py): each entity type on DuckDB, the NHS number
check digit, and precision/recall on a small labelled note set (full: bench/freetext_eval.py)."""

from __future__ import annotations

import duckdb
import pytest

from healthdq.errors import HealthdqError
from healthdq.governance.freetext import ENTITY_TYPES, redact_sql
from healthdq.governance.freetext_eval import align, score, sql_spans
from healthdq.synth.notes import labelled_notes


def redact(text: str | None, entities: tuple[str, ...] | None = None) -> str | None:
    con = duckdb.connect()
    try:
        row = con.execute(
            f"SELECT {redact_sql('t', 'duckdb', entities)} FROM (SELECT ? AS t)", [text]
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return row[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NHS no 943 476 5919 today", "NHS no [NHS_NUMBER] today"),
        ("NHS no 943-476-5919.", "NHS no [NHS_NUMBER]."),
        ("nhs 9434765919", "nhs [NHS_NUMBER]"),
        # Same shape, wrong check digit: not an NHS number, left alone.
        ("Lab ref 9434765918", "Lab ref 9434765918"),
        ("mail jo.bloggs@example.co.uk now", "mail [EMAIL] now"),
        ("NI AB 12 34 56 C and ab123456d", "NI [NI_NUMBER] and [NI_NUMBER]"),
        # Never-allocated prefixes (QQ, GB) are not NI numbers.
        ("QQ123456C GB123456A", "QQ123456C GB123456A"),
        ("Tel 07700 900123", "Tel [PHONE]"),
        ("Tel +44 (0)20 7946 0958", "Tel [PHONE]"),
        ("Tel +44 113 496 0123", "Tel [PHONE]"),
        ("Tel (0161) 496 0000", "Tel [PHONE]"),
        ("Tel 0044 7700 900123", "Tel [PHONE]"),
        ("in ls1 4ap and SW1A1AA", "in [POSTCODE] and [POSTCODE]"),
        ("DOB 01/02/1950, seen 3rd March 2024", "DOB [DATE], seen [DATE]"),
        ("on 2024-03-05 and March 5, 2024", "on [DATE] and [DATE]"),
        ("Lives at 14 Acacia Avenue, Leeds LS1 4AP.", "Lives at [ADDRESS] [POSTCODE]."),
        ("Mr John Smith seen by Dr A. Patel", "Mr [NAME] seen by Dr [NAME]"),
        ("Patient: SMITH, John.", "Patient: [NAME]."),
        ("wife Sarah present", "wife [NAME] present"),
        ("BP 132/84, Metformin 500 mg BD", "BP 132/84, Metformin 500 mg BD"),
    ],
)
def test_redacts_each_entity_type(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_null_stays_null_and_entities_can_be_limited() -> None:
    assert redact(None) is None
    assert redact("Mr Smith 943 476 5919", ("NHS_NUMBER",)) == "Mr Smith [NHS_NUMBER]"


def test_bad_dialect_and_entity_are_one_line_errors() -> None:
    with pytest.raises(HealthdqError, match="dialect 'oracle'"):
        redact_sql("t", "oracle")
    with pytest.raises(HealthdqError, match="unknown entity type"):
        redact_sql("t", "duckdb", ("SHOE_SIZE",))


def test_accepts_an_engine_for_its_dialect() -> None:
    from healthdq.engine.duckdb import DuckDBEngine

    engine = DuckDBEngine()
    try:
        assert redact_sql("t", engine) == redact_sql("t", "duckdb")
    finally:
        engine.close()


def test_alignment_reads_back_spans() -> None:
    spans = align("Lives at 14 Oak Road, York LS1 4AP.", "Lives at [ADDRESS] [POSTCODE].")
    assert spans is not None
    assert [(s.start, s.end, s.entity) for s in spans] == [(9, 26, "ADDRESS"), (27, 34, "POSTCODE")]


def test_generator_is_seeded_and_labels_are_exact() -> None:
    a, b = labelled_notes(20, seed=3), labelled_notes(20, seed=3)
    assert [n.text for n in a] == [n.text for n in b]
    for note in a:
        for span in note.spans:
            assert span.entity in ENTITY_TYPES
            assert note.text[span.start : span.end].strip() == note.text[span.start : span.end]


def test_precision_and_recall_on_labelled_notes() -> None:
    notes = labelled_notes(300, seed=11)
    scores = score(notes, sql_spans(notes))
    for entity in ("NHS_NUMBER", "POSTCODE", "PHONE", "EMAIL", "NI_NUMBER"):
        s = scores[entity]
        assert s.labelled > 20
        assert s.recall is not None and s.recall >= 0.95, (entity, s)
        assert s.precision is not None and s.precision >= 0.95, (entity, s)
