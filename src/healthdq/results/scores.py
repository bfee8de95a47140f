"""Typed scores of a run: the DQMI-style score and the Kahn overview (docs/scoring.md).

Filled by `healthdq.scoring`; every renderer reads these models and nothing else, so there is one
shape of scores. A score never rises when rules error: an errored rule zeroes its data item, and
when fewer than MIN_COVERAGE_PCT % of the rules or data items ran the score is `insufficient`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field

# Below this share of rules or of data items that ran (%), the DQMI is reported as
# "insufficient" rather than headlined: a score from the few items that ran says little about
# the data (a pack on unmapped data once headlined 99.9 with 43 of 46 rules in error).
MIN_COVERAGE_PCT = 80.0

DqmiState = Literal["scored", "insufficient", "not_scored"]


def _pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 2)


class Ran(BaseModel):
    """How much of the assessment ran: rules not in `error`, data items with no rule in error."""

    rules_total: int = 0
    rules_ran: int = 0
    items_total: int = 0
    items_ran: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rules_pct(self) -> float | None:
        return _pct(self.rules_ran, self.rules_total)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def items_pct(self) -> float | None:
        return _pct(self.items_ran, self.items_total)

    @property
    def pct(self) -> float | None:
        """The lower of the two shares (None when there is nothing to run)."""
        shares = [p for p in (self.rules_pct, self.items_pct) if p is not None]
        return min(shares) if shares else None


class Dimensions(BaseModel):
    """The four DQMI dimensions, 0-100 (None where no rule measured them)."""

    coverage: float | None = None
    completeness: float | None = None
    validity: float | None = None
    default: float | None = None


class Item(BaseModel):
    """One data item (table, column) and its DQMI measures, 0-100."""

    table: str
    column: str
    coverage: float
    completeness: float | None = None
    validity: float | None = None
    default: float | None = None
    defaults_in_excess: float = 0.0
    score: float
    rules: list[str] = Field(default_factory=list)
    errored: list[str] = Field(default_factory=list)  # rules in error: the item scores 0


class TableScore(BaseModel):
    score: float | None = None
    dimensions: Dimensions = Field(default_factory=Dimensions)
    items: int = 0
    ran: Ran = Field(default_factory=Ran)


class Excluded(BaseModel):
    """A rule left out of the score, and why (not applicable, several columns, no measure)."""

    rule_id: str
    reason: str


class Dqmi(BaseModel):
    """The DQMI-style score of a run.

    `score` is computed whatever the state (errored rules count as 0), so it is never higher
    than if those rules had run; `state` says whether it may be headlined.
    """

    method: str
    state: DqmiState
    score: float | None = None
    min_coverage_pct: float = MIN_COVERAGE_PCT
    ran: Ran = Field(default_factory=Ran)
    dimensions: Dimensions = Field(default_factory=Dimensions)
    tables: dict[str, TableScore] = Field(default_factory=dict)
    items: list[Item] = Field(default_factory=list)
    excluded: list[Excluded] = Field(default_factory=list)

    @property
    def insufficient(self) -> bool:
        return self.state == "insufficient"

    @property
    def headline(self) -> float | None:
        """The score to headline: None unless the state is `scored`."""
        return self.score if self.state == "scored" else None


class KahnCounts(BaseModel):
    passed: int = 0
    failed: int = 0
    not_applicable: int = 0
    error: int = 0
    total: int = 0
    pct_passed: float | None = None  # passed / (passed + failed), as OHDSI DQD


class KahnRow(BaseModel):
    verification: KahnCounts = Field(default_factory=KahnCounts)
    validation: KahnCounts = Field(default_factory=KahnCounts)
    total: KahnCounts = Field(default_factory=KahnCounts)


class KahnOverview(BaseModel):
    """Rule counts per Kahn category x context, laid out as the OHDSI DQD overview."""

    categories: dict[str, KahnRow] = Field(default_factory=dict)
    contexts: dict[str, KahnCounts] = Field(default_factory=dict)
    total: KahnCounts = Field(default_factory=KahnCounts)
    uncategorised: KahnCounts = Field(default_factory=KahnCounts)


class GroupScore(BaseModel):
    """One group's line in a league table (e.g. one provider), worst first by `rank`."""

    group: str | None
    score: float | None = None
    rows: int | None = None
    items: int = 0
    rules_scored: int = 0
    rules_failed: int = 0
    rules_errored: int = 0
    suppressed_rules: int = 0
    rank: int | None = None


class Scores(BaseModel):
    dqmi: Dqmi | None = None
    kahn: KahnOverview | None = None
