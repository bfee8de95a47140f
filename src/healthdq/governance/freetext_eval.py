"""Precision, recall and F2 of free-text redaction against labelled notes (synth/notes.py).

Scoring, per entity type:
- recall: a labelled identifier is found when spans predicted with its type cover every one of
  its characters (a half-redacted NHS number still leaks);
- precision: a predicted span is right when it overlaps a labelled identifier of its type;
- F2 = 5PR / (4P + R), recall weighted above precision, as Presidio's evaluator reports it.

The built-in path is measured on what the engine returns: the notes go through `redact_sql` in
DuckDB and the predicted spans are read back by aligning the redacted text with the original
(a tag stands for one or more characters; the rest must match exactly).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from healthdq.governance.freetext import ENTITIES, ENTITY_TYPES, redact_sql
from healthdq.synth.notes import Note, Span

_TAG = re.compile(r"\[(" + "|".join(ENTITY_TYPES) + r")\]")


def _python(pattern: str) -> str:
    """An RE2/Java pattern in Python's syntax: a leading (?i) becomes a scoped group."""
    return f"(?i:{pattern[4:]})" if pattern.startswith("(?i)") else f"(?:{pattern})"


# What each tag may stand for, so that alignment is unambiguous ("[ADDRESS] [POSTCODE]").
_BODIES: dict[str, str] = {
    name: "|".join(_python(e.body) for e in ENTITIES if e.name == name) for name in ENTITY_TYPES
}


def align(original: str, redacted: str) -> list[Span] | None:
    """The spans of `original` that the tags of `redacted` replaced, or None if they do not
    align (the redacted text is not the original with some parts replaced by tags)."""
    pieces = _TAG.split(redacted)
    # split() alternates literal text and tag names: [lit, tag, lit, tag, ..., lit]
    tags = pieces[1::2]
    # First the quick reading (each tag as few characters as possible); if a tag's text is not
    # what its patterns can match, the slower reading where each tag must match them.
    match = None
    for bodies in ({}, _BODIES):
        pattern = "".join(
            re.escape(piece) if i % 2 == 0 else f"({bodies.get(piece, '.+?')})"
            for i, piece in enumerate(pieces)
        )
        match = re.fullmatch(pattern, original, flags=re.DOTALL)
        if match is not None and all(
            re.fullmatch(_BODIES[t], match.group(g + 1)) for g, t in enumerate(tags)
        ):
            break
    if match is None:
        return None
    return [Span(match.start(g + 1), match.end(g + 1), t) for g, t in enumerate(tags)]


def redact_notes(notes: Sequence[Note], batch: int = 5000) -> tuple[list[str], float]:
    """The notes redacted by `redact_sql` in DuckDB, and the seconds the query took."""
    import time

    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("CREATE TABLE notes (i INTEGER, note VARCHAR)")
        for start in range(0, len(notes), batch):
            rows = [(start + i, n.text) for i, n in enumerate(notes[start : start + batch])]
            con.executemany("INSERT INTO notes VALUES (?, ?)", rows)
        sql = f"SELECT {redact_sql('note', 'duckdb')} FROM notes ORDER BY i"
        started = time.perf_counter()
        redacted = [row[0] for row in con.execute(sql).fetchall()]
        seconds = time.perf_counter() - started
    finally:
        con.close()
    return redacted, seconds


def sql_spans(notes: Sequence[Note], redacted: Sequence[str] | None = None) -> list[list[Span]]:
    """Predicted spans of the built-in detector: the notes redacted by DuckDB, read back."""
    if redacted is None:
        redacted = redact_notes(notes)[0]
    out: list[list[Span]] = []
    for note, text in zip(notes, redacted, strict=True):
        spans = align(note.text, text)
        if spans is None:
            raise AssertionError("redacted text does not align with its note")
        out.append(spans)
    return out


@dataclass
class EntityScore:
    entity: str
    labelled: int
    predicted: int
    found: int  # labelled identifiers fully covered
    correct: int  # predicted spans overlapping a labelled one of their type
    touched: int = 0  # labelled identifiers overlapped (partly redacted) by their type

    @property
    def partial_recall(self) -> float | None:
        return self.touched / self.labelled if self.labelled else None

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.found / self.labelled if self.labelled else None

    @property
    def f2(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or (4 * p + r) == 0:
            return None
        return 5 * p * r / (4 * p + r)


def _covered(span: Span, predicted: Iterable[Span]) -> bool:
    chars = set(range(span.start, span.end))
    for p in predicted:
        if p.entity == span.entity:
            chars -= set(range(p.start, p.end))
    return not chars


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def score(
    notes: Sequence[Note],
    predicted: Sequence[Sequence[Span]],
    entities: Sequence[str] = ENTITY_TYPES,
) -> dict[str, EntityScore]:
    """Per-entity scores of `predicted` spans against the notes' labels."""
    scores = {e: EntityScore(e, 0, 0, 0, 0) for e in entities}
    for note, spans in zip(notes, predicted, strict=True):
        for gold in note.spans:
            if gold.entity in scores:
                s = scores[gold.entity]
                s.labelled += 1
                s.found += _covered(gold, spans)
                s.touched += any(p.entity == gold.entity and _overlaps(p, gold) for p in spans)
        for p in spans:
            if p.entity in scores:
                s = scores[p.entity]
                s.predicted += 1
                s.correct += any(g.entity == p.entity and _overlaps(g, p) for g in note.spans)
    return scores


def table(scores: dict[str, EntityScore]) -> str:
    """A Markdown table of the scores ("partly redacted": share of labelled identifiers that a
    redaction of their type overlaps at all, which recall, needing full cover, does not count)."""

    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    lines = [
        "| entity | labelled | predicted | precision | recall | F2 | partly redacted |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scores.values():
        lines.append(
            f"| {s.entity} | {s.labelled} | {s.predicted} | {fmt(s.precision)} | "
            f"{fmt(s.recall)} | {fmt(s.f2)} | {fmt(s.partial_recall)} |"
        )
    return "\n".join(lines)
