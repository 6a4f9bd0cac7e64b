"""The core's extension points (worklists.hooks, worklists.services.pushes): the adapters plug
into them from their AppConfig.ready(), and the core works with what is registered."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from dicom.services import completion
from hl7_interface.admin import Hl7InboundMessageAdmin
from tests import factories
from worklists import hooks
from worklists.actors import Actor
from worklists.models import InboundMessage, Study
from worklists.services import pushes
from worklists.tasks import reader_fill_queue_task, route_study_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(client, owner):
    client.force_login(owner.user)

    def get(study_id: int) -> str:
        response = client.get(reverse("study", args=[study_id]))
        assert response.status_code == 200
        return response.content.decode()

    return get


@pytest.fixture
def extra_panel():
    """Register a panel for one test, and take it away again."""
    registered: list[str] = []

    def register(panel: hooks.StudyPanel) -> None:
        hooks.register_study_panel(panel)
        registered.append(panel.name)

    yield register
    for name in registered:
        hooks._panels.pop(name)


def test_the_adapters_register_their_study_page_panels_in_their_slots():
    before = [
        (p.name, p.render.__module__) for p in hooks.study_panels(hooks.PanelSlot.BEFORE_HISTORY)
    ]
    after = [
        (p.name, p.render.__module__) for p in hooks.study_panels(hooks.PanelSlot.AFTER_HISTORY)
    ]

    assert before == [("images", "dicom.panels")]
    assert after == [("report", "reports.panels"), ("double-reading", "reports.panels")]


def test_the_study_page_shows_the_panels_in_their_slots_around_the_history(
    page, site_a, extra_panel
):
    def before(*, request, study: Study) -> str:
        return format_html('<section data-test-panel="before">{}</section>', study.accession_number)

    def after(*, request, study: Study) -> str:
        return format_html('<section data-test-panel="after">{}</section>', study.accession_number)

    extra_panel(
        hooks.StudyPanel(name="test-after", slot=hooks.PanelSlot.AFTER_HISTORY, render=after)
    )
    extra_panel(
        hooks.StudyPanel(name="test-before", slot=hooks.PanelSlot.BEFORE_HISTORY, render=before)
    )
    study = factories.StudyFactory(site=site_a)

    html = page(study.id)

    history = html.index('id="study-history"')
    shown_before = html.index(
        f'<section data-test-panel="before">{study.accession_number}</section>'
    )
    shown_after = html.index(f'<section data-test-panel="after">{study.accession_number}</section>')
    assert html.index("data-images") < history  # the dicom panel, as before
    assert shown_before < history < shown_after
    assert html.index('aria-labelledby="report-versions-title"') < shown_after  # registration order


def test_a_panel_that_returns_plain_text_is_escaped_not_trusted(page, site_a, extra_panel):
    def careless(*, request, study: Study) -> str:
        return "<script>alert(1)</script>"

    extra_panel(
        hooks.StudyPanel(name="careless", slot=hooks.PanelSlot.AFTER_HISTORY, render=careless)
    )
    study = factories.StudyFactory(site=site_a)

    html = page(study.id)

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_dicom_is_the_registered_image_adapter_of_order_ingest():
    images = hooks.order_images()

    assert images.patient_mismatch_locked is completion.study_images_order_patient_mismatch_locked
    assert images.hold_for_mismatch_locked is completion.study_hold_for_order_mismatch_locked
    assert images.order_arrived_locked is completion.study_images_order_arrived_locked


def test_a_second_image_adapter_is_refused():
    other = hooks.OrderImages(
        patient_mismatch_locked=hooks.WITHOUT_IMAGES.patient_mismatch_locked,
        hold_for_mismatch_locked=hooks.WITHOUT_IMAGES.hold_for_mismatch_locked,
        order_arrived_locked=hooks.WITHOUT_IMAGES.order_arrived_locked,
    )

    with pytest.raises(RuntimeError, match="image adapter is registered already"):
        hooks.register_order_images(other)
    hooks.register_order_images(hooks.order_images())  # the same one again: allowed (ready twice)

    assert hooks.order_images().order_arrived_locked is completion.study_images_order_arrived_locked


def test_without_an_image_adapter_no_images_came_first(site_a, monkeypatch):
    monkeypatch.setattr(hooks, "_order_images", [])
    study = factories.StudyFactory(site=site_a)
    now = dt.datetime.now(dt.UTC)

    images = hooks.order_images()

    assert images.patient_mismatch_locked(study, at=now) == ""
    assert images.order_arrived_locked(study, actor=Actor.system("test"), at=now) is False


def test_the_worklists_app_installs_its_routing_tasks_for_the_pushes():
    installed = pushes._push_tasks()

    assert installed.route_study is route_study_task
    assert installed.fill_queue is reader_fill_queue_task


def test_a_push_without_installed_tasks_fails_inside_the_service_not_after_commit(monkeypatch):
    monkeypatch.setattr(pushes, "_installed", [])

    with pytest.raises(RuntimeError, match="no push tasks installed"):
        pushes.route_after_commit(1, trigger="test")


def test_the_inbound_messages_admin_is_the_hl7_interfaces_with_its_reprocess_action():
    model_admin = admin.site._registry[InboundMessage]

    assert type(model_admin) is Hl7InboundMessageAdmin
    assert model_admin.actions == ["reprocess"]
