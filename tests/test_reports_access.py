"""Who may read and write a report, and that every read of a report is audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from reports import selectors
from reports.models import ReportDraft, ReportVersion
from reports.serializers import DraftOutSerializer, ReportOutSerializer
from tests import factories
from worklists.models import AuditEvent, Radiologist, Site, SiteMembership, Study
from worklists.services.audit import AccessContext

pytestmark = pytest.mark.django_db

SECTIONS = {"sections": factories.report_sections(), "revision": 0}


def report_views(user=None) -> list[AuditEvent]:
    qs = AuditEvent.objects.filter(action="report.view")
    return list(qs.filter(actor=user) if user is not None else qs)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("api-report-preliminary", {}),
        ("api-report-sign", {"password": factories.PASSWORD}),
        ("api-study-reject", {"reason": "DUPLICATE"}),
    ],
)
def test_a_reader_who_does_not_hold_the_study_may_not_write(
    name, body, owner, other_radiologist, coordinator, site_user, site_a, client_for
):
    study = factories.held_study(owner, site=site_a)
    client_for(owner.user).put(reverse("api-report", args=[study.id]), SECTIONS, format="json")

    for user in (other_radiologist.user, coordinator, site_user):
        response = client_for(user).post(reverse(name, args=[study.id]), body, format="json")
        assert response.status_code == 403, (user, response.content)
    assert not ReportVersion.objects.exists()


def test_only_the_holder_saves_the_draft(
    owner, other_radiologist, coordinator, site_user, site_a, client_for
):
    study = factories.held_study(owner, site=site_a)

    for user in (other_radiologist.user, coordinator, site_user):
        response = client_for(user).put(
            reverse("api-report", args=[study.id]), SECTIONS, format="json"
        )
        assert response.status_code == 403
    assert not ReportDraft.objects.exists()


def test_a_reader_of_another_site_does_not_learn_the_study_exists(
    owner, outsider, site_a, client_for
):
    study = factories.held_study(owner, site=site_a)

    client = client_for(outsider.user)
    assert client.get(reverse("api-report", args=[study.id])).status_code == 404
    assert client.put(reverse("api-report", args=[study.id]), SECTIONS).status_code == 404
    assert (
        client.post(reverse("api-study-reject", args=[study.id]), {"reason": "DUPLICATE"})
    ).status_code == 404
    assert report_views(outsider.user) == []


def test_anonymous_callers_are_refused(owner, site_a, api_client):
    study = factories.held_study(owner, site=site_a)

    assert api_client.get(reverse("api-report", args=[study.id])).status_code == 401


def test_a_coordinator_and_the_site_may_read_and_each_read_is_audited(
    owner, coordinator, site_user, site_a, client_for
):
    study = factories.held_study(owner, site=site_a)
    client_for(owner.user).put(reverse("api-report", args=[study.id]), SECTIONS, format="json")

    for user in (coordinator, site_user, owner.user):
        response = client_for(user).get(reverse("api-report", args=[study.id]))
        assert response.status_code == 200
        assert response.json()["draft"]["revision"] == 1
        draft_text = response.json()["draft"]["sections"]
        assert (draft_text is None) is (user == site_user)
        assert response.json()["may_write"] is (user == owner.user)
        (event,) = report_views(user)
        assert (event.object_type, event.object_id) == ("report", str(study.id))
        assert event.patient_id == study.patient_id
        assert event.site_id == site_a.id
        assert event.channel == "api"


def test_the_study_page_shows_every_version_and_audits_the_read(owner, site_a, client_for, client):
    study = factories.held_study(owner, site=site_a)
    api = client_for(owner.user)
    api.put(reverse("api-report", args=[study.id]), SECTIONS, format="json")
    api.post(reverse("api-report-preliminary", args=[study.id]), {}, format="json")
    api.post(reverse("api-report-sign", args=[study.id]), {"password": factories.PASSWORD})
    api.post(
        reverse("api-report-addenda", args=[study.id]),
        {"password": factories.PASSWORD, "kind": "ADDENDUM", "reason": "r", "text": "Tillegg."},
    )
    client.force_login(owner.user)

    response = client.get(reverse("study", args=[study.id]))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-version="1" data-kind="PRELIMINARY"' in page
    assert 'data-version="2" data-kind="FINAL"' in page
    assert 'data-version="3" data-kind="ADDENDUM"' in page
    assert "Tillegg." in page
    (event,) = report_views(owner.user)
    assert event.channel == "web"


def test_the_report_selector_audits_a_shown_report_and_not_an_empty_one(owner, site_a, client_for):
    """The study page's report panel reads through report_state_read: the selector, not the
    template, writes the audit row."""
    study = factories.held_study(owner, site=site_a)
    context = AccessContext(user_id=owner.user.pk, actor_label="reader", channel="web")

    assert not selectors.report_state_read(study=study, context=context).has_content
    assert report_views() == []

    api = client_for(owner.user)
    api.put(reverse("api-report", args=[study.id]), SECTIONS, format="json")
    api.post(reverse("api-report-sign", args=[study.id]), {"password": factories.PASSWORD})
    state = selectors.report_state_read(study=study, context=context)

    assert state.has_content
    (event,) = report_views(owner.user)
    assert (event.channel, event.object_type, event.object_id) == ("web", "report", str(study.id))


def test_the_admin_audits_a_report_version_view(owner, site_a, client_for, admin_client):
    study = factories.held_study(owner, site=site_a)
    api = client_for(owner.user)
    api.put(reverse("api-report", args=[study.id]), SECTIONS, format="json")
    api.post(reverse("api-report-sign", args=[study.id]), {"password": factories.PASSWORD})
    version = ReportVersion.objects.get(study=study)

    response = admin_client.get(reverse("admin:reports_reportversion_change", args=[version.id]))

    assert response.status_code == 200
    assert [e.channel for e in report_views()] == ["admin"]


def test_a_site_integration_token_cannot_read_or_write_reports(owner, site_a, site_a_client):
    study = factories.held_study(owner, site=site_a)

    assert site_a_client.get(reverse("api-report", args=[study.id])).status_code == 403
    refused = site_a_client.put(reverse("api-report", args=[study.id]), SECTIONS, format="json")
    assert refused.status_code == 403
    assert not ReportDraft.objects.exists()
    assert report_views() == []


def test_reading_a_report_costs_the_same_queries_however_many_versions_it_has(
    owner, site_a, client_for, django_assert_num_queries, django_assert_max_num_queries
):
    def signed_with_addenda(addenda: int):
        study = factories.held_study(owner, site=site_a)
        api = client_for(owner.user)
        api.put(reverse("api-report", args=[study.id]), SECTIONS, format="json")
        api.post(
            reverse("api-report-sign", args=[study.id]),
            {"password": factories.PASSWORD, "critical_category": "YELLOW"},
            format="json",
        )
        for n in range(addenda):
            api.post(
                reverse("api-report-addenda", args=[study.id]),
                {
                    "password": factories.PASSWORD,
                    "kind": "ADDENDUM",
                    "reason": f"r{n}",
                    "text": f"Tillegg {n}.",
                    "critical_category": "YELLOW",
                },
                format="json",
            )
        return study

    one, five = signed_with_addenda(0), signed_with_addenda(4)
    reader = client_for(owner.user)
    reader.get(reverse("api-report", args=[one.id]))  # warm the session and content types

    with django_assert_max_num_queries(15) as few:
        reader.get(reverse("api-report", args=[one.id]))
    with django_assert_num_queries(len(few.captured_queries)):
        response = reader.get(reverse("api-report", args=[five.id]))
    assert len(response.json()["versions"]) == 5


def _draft_under_a_signed_critical_report(owner: Radiologist, site: Site) -> Study:
    """A FINAL study with an open critical finding signed by ``owner``, and an unsigned draft
    row beside it: whatever the state, its text must only reach those who may read drafts."""
    study = factories.held_study(owner, site=site)
    api = APIClient()
    api.force_authenticate(user=owner.user)
    api.put(reverse("api-report", args=[study.id]), SECTIONS, format="json")
    signed = api.post(
        reverse("api-report-sign", args=[study.id]),
        {"password": factories.PASSWORD, "critical_category": "RED"},
        format="json",
    )
    assert signed.status_code == 201, signed.content
    now = timezone.now()
    ReportDraft.objects.create(
        study=study,
        sections=factories.report_sections(findings="Usignert utkast."),
        author=owner.user,
        author_name="Owner",
        created_at=now,
        updated_at=now,
    )
    return study


def _communication() -> dict[str, Any]:
    return {
        "communicated_to": "Dr. Berg, LIS Alfa",
        "method": "PHONE",
        "communicated_at": timezone.now().isoformat(),
        "read_back_confirmed": False,
    }


def test_draft_text_is_hidden_when_the_serializer_is_given_no_context(owner, site_a) -> None:
    study = factories.held_study(owner, site=site_a)
    now = timezone.now()
    draft = ReportDraft.objects.create(
        study=study,
        sections=factories.report_sections(findings="Usignert utkast."),
        author=owner.user,
        author_name="Owner",
        created_at=now,
        updated_at=now,
    )
    state = selectors.report_state(study=study)

    assert DraftOutSerializer(draft).data["sections"] is None
    assert ReportOutSerializer(state).data["draft"]["sections"] is None
    shown = ReportOutSerializer(state, context={"draft_text": True}).data
    assert shown["draft"]["sections"][2]["text"] == "Usignert utkast."


def test_a_signer_no_longer_an_active_radiologist_does_not_get_draft_text_from_communicating(
    owner: Radiologist,
    site_a: Site,
    client_for: Callable[[AbstractBaseUser], APIClient],
) -> None:
    study = _draft_under_a_signed_critical_report(owner, site_a)
    # Now working for the site only: still sees its studies, no longer reads drafts.
    SiteMembership.objects.create(user=owner.user, site=site_a)
    Radiologist.objects.filter(id=owner.id).update(is_active=False)

    response = client_for(owner.user).post(
        reverse("api-critical-communications", args=[study.id]), _communication(), format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["draft"]["revision"] == 1
    assert response.json()["draft"]["sections"] is None
    assert "Usignert utkast." not in response.content.decode()


def test_a_coordinator_recording_a_communication_gets_the_draft_as_on_a_read(
    owner: Radiologist,
    coordinator: AbstractBaseUser,
    site_a: Site,
    client_for: Callable[[AbstractBaseUser], APIClient],
) -> None:
    study = _draft_under_a_signed_critical_report(owner, site_a)
    client = client_for(coordinator)

    response = client.post(
        reverse("api-critical-communications", args=[study.id]), _communication(), format="json"
    )

    assert response.status_code == 201, response.content
    read = client.get(reverse("api-report", args=[study.id])).json()
    assert response.json()["draft"] == read["draft"]
    assert response.json()["draft"]["sections"][2]["text"] == "Usignert utkast."
    assert response.json()["may_write"] is False


def test_the_holder_saving_the_draft_gets_its_text_back(
    owner: Radiologist, site_a: Site, client_for: Callable[[AbstractBaseUser], APIClient]
) -> None:
    study = factories.held_study(owner, site=site_a)

    response = client_for(owner.user).put(
        reverse("api-report", args=[study.id]), SECTIONS, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["sections"] == SECTIONS["sections"]
