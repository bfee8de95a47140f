"""The Presidio path (healthdq[presidio]): UK recognisers on, tags as the built-in detector's,
and a small precision/recall run (full run: bench/freetext_eval.py)."""

from __future__ import annotations

import pytest

from healthdq.governance.freetext_eval import score
from healthdq.synth.notes import labelled_notes

pytest.importorskip("presidio_analyzer")


def test_presidio_redacts_uk_identifiers() -> None:
    from healthdq.governance.presidio import redactor

    r = redactor()
    text = "NHS 943 476 5919, NI AB 12 34 56 C, email jo@example.com, Tel 020 7946 0958."
    out = r.redact(text)
    assert out is not None
    for tag in ("[NHS_NUMBER]", "[NI_NUMBER]", "[EMAIL]", "[PHONE]"):
        assert tag in out, out
    assert r.redact(None) is None


def test_presidio_scores_on_labelled_notes() -> None:
    from healthdq.governance.presidio import redactor

    r = redactor()
    notes = labelled_notes(40, seed=11)
    scores = score(notes, [r.spans(n.text) for n in notes])
    for entity in ("NHS_NUMBER", "EMAIL"):
        assert scores[entity].recall is not None and scores[entity].recall >= 0.95, scores[entity]
