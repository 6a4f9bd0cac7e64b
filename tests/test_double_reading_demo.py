"""seed_demo's double reading: screening mammography in the mamma worklist is read twice
(rad20 the consensus group); of the demo's unread screening studies some stand at their second
read and their arbitration, read through the services, and nothing went to a RIS."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from hl7_interface.models import OutboundMessage
from reports.double_reading_selectors import pending_stage
from reports.models import (
    AgreementRule,
    DoubleRead,
    DoubleReadingPolicy,
    DoubleReadStage,
    IndependentRead,
)
from worklists.models import ReadRestriction, Study

pytestmark = pytest.mark.django_db


def test_the_demo_reads_screening_mammograms_twice_and_stages_some(general_worklist):
    out = StringIO()
    call_command("seed_demo", "--studies", "400", stdout=out)

    policy = DoubleReadingPolicy.objects.get(worklist__code="mamma")
    assert (policy.is_active, policy.procedure_codes) == (True, "GGA0SC")
    assert policy.agreement_rule == AgreementRule.ANY_SCORE_2  # the programme's rule
    assert [r.user.username for r in policy.consensus_readers.all()] == ["rad20"]
    cases = list(DoubleRead.objects.all())
    assert {case.stage for case in cases} == {
        DoubleReadStage.SECOND_READ,
        DoubleReadStage.ARBITRATION,
    }
    for case in cases:
        readers = [r.radiologist_id for r in case.reads.all()]
        assert len(readers) == len(set(readers))
        assert pending_stage(study=case.study) == case.stage
        assert ReadRestriction.objects.filter(study=case.study).exists()
    assert not OutboundMessage.objects.filter(study__double_read__isnull=False).exists()
    assert "Double reading: screening mammography (GGA0SC) is read twice" in out.getvalue()
    unread = Study.objects.filter(procedure_code="GGA0SC", status="READY", double_read__isnull=True)
    assert all(pending_stage(study=s) == "FIRST_READ" for s in unread)

    reads = IndependentRead.objects.count()
    call_command("seed_demo", stdout=StringIO())

    assert IndependentRead.objects.count() == reads  # staged once
