"""Effective-dated classification of an institution: every reclassification is a new entry
valid from its date, so a past quarter is judged with the class it had then."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from alliance_shared.contracts.vocabulary import AllianceRole, Ownership, PartyOrgStatus, ReportingLevel
from alliance_shared.errors import Invalid, NotFound

CLASSIFYING = ("ownership", "party_org_status", "reporting_level", "alliance_role", "sector")


@dataclass(frozen=True)
class Classification:
    ownership: Ownership
    party_org_status: PartyOrgStatus
    reporting_level: ReportingLevel
    alliance_role: AllianceRole = AllianceRole.MEMBER
    sector: str = ""

    def to_dict(self) -> dict[str, str]:
        return {k: str(getattr(self, k)) for k in CLASSIFYING}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Classification:
        return cls(
            ownership=Ownership(data["ownership"]),
            party_org_status=PartyOrgStatus(data["party_org_status"]),
            reporting_level=ReportingLevel(data["reporting_level"]),
            alliance_role=AllianceRole(data.get("alliance_role") or AllianceRole.MEMBER),
            sector=str(data.get("sector") or ""),
        )

    def changed(self, **changes: Any) -> Classification:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class Period:
    """One entry of the history: `classification` valid from `effective_from` until the next entry."""

    effective_from: date
    classification: Classification


class ClassificationHistory:
    """The ordered entries of one institution's classification."""

    def __init__(self, periods: Sequence[Period]) -> None:
        if not periods:
            raise ValueError("a classification history has at least one entry")
        self.periods = sorted(periods, key=lambda p: p.effective_from)

    @property
    def current(self) -> Period:
        return self.periods[-1]

    def as_of(self, day: date) -> Classification:
        """The class valid on `day`; `NotFound` before the institution was registered."""
        valid = [p for p in self.periods if p.effective_from <= day]
        if not valid:
            raise NotFound(
                "该日期机构尚未登记 / the institution was not registered on that date", field="as_of"
            )
        return valid[-1].classification

    def reclassify(self, new: Classification, effective_from: date) -> ClassificationHistory:
        """A history with `new` valid from `effective_from`. History is never rewritten: the date
        may not precede the current entry (the same date replaces it — a same-day correction)."""
        if effective_from < self.current.effective_from:
            raise Invalid(
                "生效日期不能早于当前分类的生效日期 / effective_from may not precede "
                f"the current classification ({self.current.effective_from.isoformat()})",
                field="effective_from",
            )
        kept = [p for p in self.periods if p.effective_from < effective_from]
        return ClassificationHistory([*kept, Period(effective_from, new)])

    def to_list(self) -> list[dict[str, Any]]:
        return [
            {"effective_from": p.effective_from.isoformat(), **p.classification.to_dict()}
            for p in self.periods
        ]

    @classmethod
    def from_list(cls, rows: Sequence[Mapping[str, Any]]) -> ClassificationHistory:
        return cls(
            [Period(date.fromisoformat(r["effective_from"]), Classification.from_dict(r)) for r in rows]
        )
