from datetime import date

import pytest
from alliance_registry.domain.classification import Classification, ClassificationHistory, Period
from alliance_shared.contracts.vocabulary import Ownership, PartyOrgStatus, ReportingLevel
from alliance_shared.errors import Invalid, NotFound

pytestmark = pytest.mark.unit

PRIVATE_L1 = Classification(Ownership.PRIVATE, PartyOrgStatus.NOT_ESTABLISHED_CAPABLE, ReportingLevel.L1)


def history() -> ClassificationHistory:
    return ClassificationHistory([Period(date(2026, 1, 1), PRIVATE_L1)])


def test_a_reclassification_leaves_the_previous_quarter_with_its_old_class():
    later = history().reclassify(
        PRIVATE_L1.changed(ownership=Ownership.STATE_OWNED, reporting_level=ReportingLevel.L3),
        date(2026, 7, 1),
    )
    assert later.as_of(date(2026, 6, 30)) == PRIVATE_L1
    assert later.as_of(date(2026, 7, 1)).ownership is Ownership.STATE_OWNED
    assert later.as_of(date(2027, 1, 1)).reporting_level is ReportingLevel.L3
    assert len(later.periods) == 2


def test_a_date_before_registration_has_no_class():
    with pytest.raises(NotFound) as err:
        history().as_of(date(2025, 12, 31))
    assert err.value.field == "as_of"


def test_history_cannot_be_rewritten_before_the_current_entry():
    later = history().reclassify(PRIVATE_L1.changed(sector="bank"), date(2026, 7, 1))
    with pytest.raises(Invalid) as err:
        later.reclassify(PRIVATE_L1, date(2026, 3, 1))
    assert err.value.field == "effective_from"


def test_a_same_day_reclassification_replaces_that_days_entry():
    once = history().reclassify(PRIVATE_L1.changed(sector="bank"), date(2026, 7, 1))
    twice = once.reclassify(PRIVATE_L1.changed(sector="insurance"), date(2026, 7, 1))
    assert [p.classification.sector for p in twice.periods] == ["", "insurance"]


def test_the_history_round_trips_through_its_stored_form():
    later = history().reclassify(
        PRIVATE_L1.changed(party_org_status=PartyOrgStatus.ESTABLISHED_COMPLETE), date(2026, 4, 1)
    )
    again = ClassificationHistory.from_list(later.to_list())
    assert again.to_list() == later.to_list()
    assert again.current.classification.party_org_status is PartyOrgStatus.ESTABLISHED_COMPLETE
