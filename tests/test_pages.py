"""The server-rendered pages: login, the worklist and the study page."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from typing import cast

import pytest
from django.urls import reverse
from django.utils import timezone

from tests import factories
from worklists.actors import Actor
from worklists.models import AuditEvent, Study
from worklists.services.studies import study_mark_ready

pytestmark = pytest.mark.django_db


class _Tags(HTMLParser):
    """Every start tag of a page with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))


def tags(response, tag: str, **required: str) -> list[dict[str, str]]:
    """The attributes of every ``tag`` carrying all ``required`` attributes (``data_x`` is
    ``data-x``; the value ``"*"`` only asks for the attribute to be present)."""
    parser = _Tags()
    parser.feed(response.content.decode("utf-8"))
    wanted = {name.replace("_", "-"): value for name, value in required.items()}
    return [
        attrs
        for name, attrs in parser.tags
        if name == tag
        and all(
            key in attrs and (value == "*" or attrs[key] == value) for key, value in wanted.items()
        )
    ]


def study_rows(response) -> list[dict[str, str]]:
    return tags(response, "tr", data_study_id="*")


def row_ids(response) -> list[int]:
    return [int(row["data-study-id"]) for row in study_rows(response)]


def new_study(**kwargs) -> Study:
    return cast(Study, factories.StudyFactory(**kwargs))


def ready_study(*, ready_at: dt.datetime | None = None, **kwargs) -> Study:
    """A study made READY: classified into a worklist, with a deadline from its priority."""
    study = new_study(**kwargs)
    return study_mark_ready(study_id=study.id, actor=Actor.system("test"), at=ready_at)


@pytest.fixture
def neuro_rule(neuro):
    return factories.RuleFactory(worklist=neuro, modality="CT", body_part="HEAD")


@pytest.fixture
def login(client):
    def as_user(user) -> None:
        client.force_login(user)

    return as_user


def worklist(client, **params: str):
    return client.get(reverse("worklist"), params)


# --- login and logout ----------------------------------------------------------------------------


def test_login_page_renders_a_form_with_username_password_and_next(client):
    response = client.get(reverse("login"), {"next": "/worklist/"})

    assert response.status_code == 200
    assert tags(response, "form", method="post", action=reverse("login"))
    assert tags(response, "input", name="username")
    assert tags(response, "input", name="password", type="password")
    assert tags(response, "input", name="next", type="hidden", value="/worklist/")
    assert tags(response, "input", name="csrfmiddlewaretoken")


def test_anonymous_user_is_redirected_from_the_worklist_to_login(client):
    response = client.get(reverse("worklist"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={reverse('worklist')}"


def test_anonymous_user_is_redirected_from_a_study_page_to_login(client, site_a):
    study = ready_study(site=site_a)

    response = client.get(reverse("study", args=[study.id]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_logging_in_with_username_and_password_lands_on_the_worklist(client, owner):
    response = client.post(
        reverse("login"), {"username": "owner", "password": factories.PASSWORD}, follow=True
    )

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("worklist")
    assert response.wsgi_request.user == owner.user
    assert tags(response, "form", action=reverse("logout"), method="post")


def test_logging_in_honours_next(client, owner, site_a):
    study = ready_study(site=site_a)
    target = reverse("study", args=[study.id])

    response = client.post(
        reverse("login"), {"username": "owner", "password": factories.PASSWORD, "next": target}
    )

    assert response.status_code == 302
    assert response["Location"] == target


def test_a_wrong_password_shows_an_error_and_keeps_the_user_anonymous(client, owner):
    response = client.post(reverse("login"), {"username": "owner", "password": "wrong"})

    assert response.status_code == 200
    assert tags(response, "div", role="alert")
    assert not response.wsgi_request.user.is_authenticated


def test_logout_is_a_post_that_ends_the_session(client, login, owner):
    login(owner.user)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get(reverse("worklist")).status_code == 302


# --- the frame -----------------------------------------------------------------------------------


def test_the_header_links_admin_only_for_staff(client, login, owner):
    login(owner.user)
    assert not tags(worklist(client), "a", href=reverse("admin:index"))

    owner.user.is_staff = True
    owner.user.save(update_fields=["is_staff"])
    response = worklist(client)

    assert tags(response, "a", href=reverse("admin:index"))
    assert tags(response, "a", href=reverse("api-docs"))
    assert "Teleradiologi" in response.content.decode("utf-8")


def test_the_stylesheet_is_served(client):
    response = client.get("/static/css/app.css")

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"/*")


# --- the worklist page ---------------------------------------------------------------------------


def test_worklist_shows_a_tab_per_subspecialty_with_its_unread_count(
    client, login, owner, site_a, neuro, neuro_rule, general_worklist
):
    ready_study(site=site_a)
    ready_study(site=site_a)
    ready_study(site=site_a, modality="US", body_part="ABDOMEN")
    login(owner.user)

    response = worklist(client)

    assert response.status_code == 200
    counts = {tab["data-tab"]: tab["data-unread"] for tab in tags(response, "a", data_tab="*")}
    assert counts == {"neuro": "2", general_worklist.code: "1"}
    body = response.content.decode("utf-8")
    assert "Nevroradiologi" in body
    assert general_worklist.name in body


def test_worklist_opens_on_the_first_tab_with_unread_studies(
    client, login, owner, site_a, neuro, neuro_rule
):
    study = ready_study(site=site_a)
    login(owner.user)

    response = worklist(client)

    assert response.context["tab"] == "neuro"
    assert tags(response, "a", data_tab="neuro", **{"aria-current": "page"})
    assert row_ids(response) == [study.id]


def test_worklist_lists_the_active_tabs_studies_by_deadline(
    client, login, owner, site_a, neuro, neuro_rule
):
    routine = ready_study(site=site_a, priority="ROUTINE")
    stat = ready_study(site=site_a, priority="STAT")
    urgent = ready_study(site=site_a, priority="URGENT")
    unclassified = ready_study(site=site_a, modality="US", body_part="ABDOMEN")
    login(owner.user)

    response = worklist(client, tab="neuro")

    assert row_ids(response) == [stat.id, urgent.id, routine.id]
    assert unclassified.id not in row_ids(response)
    assert [row["data-priority"] for row in study_rows(response)] == ["STAT", "URGENT", "ROUTINE"]


def test_worklist_rows_link_to_the_study_page_and_show_the_patient(
    client, login, owner, site_a, neuro, neuro_rule
):
    patient = factories.PatientFactory(
        family_name="Ødegård", given_name="Åse", sex="F", birth_date=dt.date(1970, 5, 17)
    )
    study = ready_study(site=site_a, patient=patient, procedure_text="MR caput med kontrast")
    login(owner.user)

    response = worklist(client, tab="neuro")

    body = response.content.decode("utf-8")
    assert tags(response, "a", href=reverse("study", args=[study.id]))
    assert "MR caput med kontrast" in body
    assert "Ødegård, Åse" in body
    assert "17.05.1970" in body


def test_overdue_and_at_risk_rows_are_marked(client, login, owner, site_a, neuro, neuro_rule):
    now = timezone.now()
    overdue = ready_study(site=site_a, priority="STAT", ready_at=now - dt.timedelta(hours=2))
    at_risk = ready_study(site=site_a, priority="STAT", ready_at=now - dt.timedelta(minutes=50))
    on_time = ready_study(site=site_a, priority="ROUTINE", ready_at=now)
    login(owner.user)

    response = worklist(client, tab="neuro")

    risks = {int(row["data-study-id"]): row["data-risk"] for row in study_rows(response)}
    assert risks == {overdue.id: "overdue", at_risk.id: "at_risk", on_time.id: "ok"}
    (overdue_row,) = tags(response, "tr", data_study_id=str(overdue.id))
    assert "risk-overdue" in overdue_row["class"]
    assert "overdue by" in response.content.decode("utf-8")


def test_a_radiologist_of_another_site_does_not_see_site_a_studies(
    client, login, outsider, site_a, site_b, neuro, neuro_rule
):
    theirs = ready_study(site=site_b)
    not_theirs = ready_study(site=site_a)
    login(outsider.user)

    response = worklist(client, tab="neuro")

    assert row_ids(response) == [theirs.id]
    assert tags(response, "a", data_tab="neuro", data_unread="1")
    assert not tags(response, "option", value=site_a.code)
    assert not AuditEvent.objects.filter(object_id=str(not_theirs.id)).exists()


def test_a_radiologist_of_another_site_gets_404_on_a_site_a_study_page(
    client, login, outsider, site_a
):
    study = ready_study(site=site_a)
    login(outsider.user)

    response = client.get(reverse("study", args=[study.id]))

    assert response.status_code == 404
    # Nothing was shown; the attempt is on record.
    assert list(
        AuditEvent.objects.filter(object_id=str(study.id)).values_list("action", flat=True)
    ) == ["study.refused"]


def test_the_coordinator_sees_every_site(client, coordinator, site_a, site_b, neuro, neuro_rule):
    a = ready_study(site=site_a)
    b = ready_study(site=site_b)
    client.force_login(coordinator)

    response = worklist(client, tab="neuro")

    assert set(row_ids(response)) == {a.id, b.id}


def test_the_site_filter_narrows_the_list_and_tabs_keep_the_filters(
    client, login, coordinator, site_a, site_b, neuro, neuro_rule, general_worklist
):
    a = ready_study(site=site_a)
    ready_study(site=site_b)
    client.force_login(coordinator)

    response = worklist(client, tab="neuro", site=site_a.code, modality="CT")

    assert row_ids(response) == [a.id]
    assert tags(response, "option", value=site_a.code, selected="*")
    assert tags(response, "option", value="CT", selected="*")
    (general_tab,) = tags(response, "a", data_tab=general_worklist.code)
    assert general_tab["href"] == f"?tab={general_worklist.code}&site={site_a.code}&modality=CT"


def test_the_general_tab_marks_unclassified_studies_and_offers_the_filter(
    client, login, owner, site_a, general_worklist
):
    study = ready_study(site=site_a, modality="US", body_part="ABDOMEN")
    assert study.is_unclassified
    login(owner.user)

    response = worklist(client, tab=general_worklist.code)

    (row,) = study_rows(response)
    assert row["data-study-id"] == str(study.id)
    assert row["data-unclassified"] == "true"
    assert tags(response, "span", **{"class": "badge badge--unclassified"})
    assert tags(response, "input", type="checkbox", name="unclassified")


def test_the_unclassified_filter_is_offered_only_on_the_general_tab(client, login, owner, neuro):
    login(owner.user)

    assert not tags(worklist(client, tab="neuro"), "input", name="unclassified")


def test_an_empty_worklist_says_so(client, login, owner, neuro):
    login(owner.user)

    response = worklist(client, tab="neuro")

    assert study_rows(response) == []
    assert "No unread studies in Nevroradiologi" in response.content.decode("utf-8")


def test_the_next_page_link_continues_the_list(
    client, login, owner, site_a, neuro, neuro_rule, settings
):
    settings.STUDIES_PAGE_SIZE = 2
    now = timezone.now()
    studies = [
        ready_study(site=site_a, priority="STAT", ready_at=now - dt.timedelta(minutes=n))
        for n in range(3)
    ]
    by_deadline = [s.id for s in sorted(studies, key=lambda s: (s.deadline, s.id))]
    login(owner.user)

    first = worklist(client, tab="neuro")
    (next_link,) = tags(first, "a", rel="next")
    second = client.get(reverse("worklist") + next_link["href"])

    assert row_ids(first) == by_deadline[:2]
    assert row_ids(second) == by_deadline[2:]
    assert not tags(second, "a", rel="next")


def test_the_worklist_page_loads_htmx_from_static_and_the_live_update_script(client, login, owner):
    login(owner.user)

    response = worklist(client)

    assert tags(response, "script", src="/static/vendor/htmx/htmx.min.js")
    assert tags(response, "script", src="/static/js/live.js")


def test_the_worklist_page_audits_each_listed_study(
    client, login, owner, site_a, neuro, neuro_rule
):
    study = ready_study(site=site_a)
    login(owner.user)

    worklist(client, tab="neuro")

    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.STUDY_LIST, actor=owner.user, object_id=str(study.id)
    ).exists()


# --- the study page ------------------------------------------------------------------------------


def test_the_study_page_shows_a_norwegian_name_intact(client, login, owner, site_a):
    patient = factories.PatientFactory(family_name="Ødegård", given_name="Åse", sex="F")
    study = ready_study(site=site_a, patient=patient)
    login(owner.user)

    response = client.get(reverse("study", args=[study.id]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "Ødegård, Åse" in response.content.decode("utf-8")


def test_the_study_page_shows_the_study_details(client, login, owner, site_a, neuro, neuro_rule):
    study = ready_study(
        site=site_a,
        clinical_question="Akutt hodepine, blødning?",
        referring_physician="Dr. Bjørnstad",
    )
    login(owner.user)

    response = client.get(reverse("study", args=[study.id]))

    body = response.content.decode("utf-8")
    identifier = study.patient.identifiers.get()
    for text in (
        site_a.name,
        study.accession_number,
        study.study_instance_uid,
        study.procedure_code,
        study.procedure_text,
        "Nevroradiologi",
        "Akutt hodepine, blødning?",
        "Dr. Bjørnstad",
        identifier.value,
        "system:test",
    ):
        assert text in body
    assert response.context["risk"] == "ok"
    assert "Refresh" not in body


def test_the_study_page_writes_a_view_audit_event(client, login, owner, site_a):
    study = ready_study(site=site_a)
    login(owner.user)

    client.get(reverse("study", args=[study.id]))

    event = AuditEvent.objects.get(action="study.view", actor=owner.user)
    assert event.object_type == "study"
    assert event.object_id == str(study.id)
    assert event.patient_id == study.patient_id
    assert event.site_id == site_a.id
    assert event.channel == "web"


def test_the_viewer_link_carries_the_study_instance_uid(client, login, owner, site_a):
    study = ready_study(site=site_a)
    login(owner.user)

    response = client.get(reverse("study", args=[study.id]))

    (link,) = tags(response, "a", data_viewer_link="*")
    assert study.study_instance_uid in link["href"]
    assert link["target"] == "_blank"
    assert "noopener" in link["rel"]


def test_no_viewer_link_when_the_site_has_no_viewer(client, login, owner, site_a):
    site_a.viewer_url_template = ""
    site_a.save(update_fields=["viewer_url_template"])
    study = ready_study(site=site_a)
    login(owner.user)

    response = client.get(reverse("study", args=[study.id]))

    assert response.status_code == 200
    assert not tags(response, "a", data_viewer_link="*")


def test_the_study_page_shows_the_overdue_deadline(client, login, owner, site_a):
    study = ready_study(
        site=site_a, priority="STAT", ready_at=timezone.now() - dt.timedelta(hours=3)
    )
    login(owner.user)

    response = client.get(reverse("study", args=[study.id]))

    assert tags(response, "dd", data_risk="overdue")


def test_the_study_page_shows_the_active_assignment(client, login, owner, site_a):
    from worklists.services.studies import study_assign

    study = ready_study(site=site_a)
    owner.user.first_name, owner.user.last_name = "Ola", "Grønli"
    owner.user.save(update_fields=["first_name", "last_name"])
    study_assign(study_id=study.id, radiologist_id=owner.id, actor=Actor.system("test"))
    login(owner.user)

    response = client.get(reverse("study", args=[study.id]))

    assert "Ola Grønli" in response.content.decode("utf-8")


def test_priors_list_only_studies_at_sites_the_user_may_see(client, login, owner, site_a, site_b):
    patient = factories.PatientFactory()
    current = ready_study(site=site_a, patient=patient)
    prior_here = new_study(
        site=site_a, patient=patient, ordered_at=timezone.now() - dt.timedelta(days=400)
    )
    prior_elsewhere = new_study(
        site=site_b, patient=patient, ordered_at=timezone.now() - dt.timedelta(days=200)
    )
    login(owner.user)

    response = client.get(reverse("study", args=[current.id]))

    assert tags(response, "a", href=reverse("study", args=[prior_here.id]))
    assert not tags(response, "a", href=reverse("study", args=[prior_elsewhere.id]))
