"""From the report API to the site's RIS over a real MLLP socket: what the reader signs is what
the RIS receives (OBR-25 P, F, C; the reader in OBR-32), and a returned referral arrives as an
order cancellation (ORC-1 OC) with the coded reason in ORC-16 and the comment in NTE."""

from __future__ import annotations

import pytest
from django.urls import reverse

from demo_ris.receiver import ResultReceiver
from hl7_interface.codec import parse
from hl7_interface.delivery import outbox_drain
from hl7_interface.models import SiteHl7Config
from reports.models import RejectionReason
from tests import factories
from tests.hl7_support import hl7_site

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURES = (hl7_site,)


@pytest.fixture
def ris(hl7_site):
    with ResultReceiver() as receiver:
        SiteHl7Config.objects.filter(site=hl7_site).update(
            ris_host=receiver.host, ris_port=receiver.port
        )
        yield receiver


def report_text(message) -> list[str]:
    return [obx.text(5) for obx in message.all("OBX")]


def write_and_issue(client, study, path: str, **body) -> None:
    response = client.post(reverse(path, args=[study.id]), body, format="json")
    assert response.status_code == 201, response.content


def test_preliminary_final_and_addendum_reach_the_ris_as_p_f_and_c(
    owner, hl7_site, ris, client_for
):
    study = factories.held_study(owner, site=hl7_site)
    client = client_for(owner.user)
    client.put(
        reverse("api-report", args=[study.id]),
        {
            "sections": factories.report_sections(findings="Foreløpig ingen blødning."),
            "revision": 0,
        },
        format="json",
    )
    write_and_issue(client, study, "api-report-preliminary")
    write_and_issue(
        client,
        study,
        "api-report-sign",
        password=factories.PASSWORD,
        sections=factories.report_sections(findings="Ingen blødning. Ingen fraktur."),
        revision=1,
    )
    write_and_issue(
        client,
        study,
        "api-report-addenda",
        password=factories.PASSWORD,
        kind="ADDENDUM",
        reason="Sammenlignet med tidligere",
        text="Uendret siden forrige undersøkelse.",
    )

    delivered = outbox_drain()

    assert sorted(delivered.values()) == ["DELIVERED"] * 3
    messages = [parse(r.raw) for r in ris.wait_for(3)]
    assert [m.msh.raw(9) for m in messages] == ["ORU^R01^ORU_R01"] * 3
    assert [m.first("OBR").text(25) for m in messages] == ["P", "F", "C"]
    assert "Foreløpig ingen blødning." in report_text(messages[0])
    assert "Ingen blødning. Ingen fraktur." in report_text(messages[1])
    assert "Uendret siden forrige undersøkelse." in report_text(messages[2])
    for message in messages:
        assert message.first("OBR").text(18) == study.accession_number
        assert message.first("OBR").raw(32).startswith(owner.hpr_number)

    seen = client.get(reverse("api-report", args=[study.id])).json()
    assert [d["status"] for v in seen["versions"] for d in v["deliveries"]] == [
        "DELIVERED",
        "DELIVERED",
        "DELIVERED",
    ]


@pytest.mark.parametrize("reason", RejectionReason.values)
def test_a_returned_referral_reaches_the_ris_as_oc_with_its_coded_reason(
    reason, owner, hl7_site, ris, client_for
):
    study = factories.held_study(owner, site=hl7_site)

    response = client_for(owner.user).post(
        reverse("api-study-reject", args=[study.id]),
        {"reason": reason, "comment": "Se nasjonal veileder."},
        format="json",
    )
    assert response.status_code == 201

    assert list(outbox_drain().values()) == ["DELIVERED"]
    (received,) = ris.wait_for(1)
    message = parse(received.raw)
    orc = message.first("ORC")
    assert orc.text(1) == "OC"
    assert orc.raw(16) == f"{reason}^{RejectionReason(reason).label}^L"
    assert [nte.text(3) for nte in message.all("NTE")] == ["Se nasjonal veileder."]
    assert message.first("OBR").text(18) == study.accession_number
