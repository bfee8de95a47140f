"""Small-number suppression (NHS statistical disclosure control) of by-group breakdowns.

A non-zero violating count below the contract's `small_number` (default 7) in one group could
identify patients: its count and % are hidden and the row marked `suppressed`. The pipeline
applies this before group scores are computed, so no score is derived from a hidden figure.
"""

from __future__ import annotations

from healthdq.results import RunResult


def suppress_small_numbers(result: RunResult, small_number: int) -> RunResult:
    """Hide group counts in 1..small_number-1; returns the same result."""
    for breakdown in result.groups:
        for row in breakdown.rows:
            v = row.violating_rows
            if v is not None and 0 < v < small_number:
                row.violating_rows = None
                row.pct_violating = None
                row.suppressed = True
    return result
