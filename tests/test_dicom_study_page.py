"""The study page shows what the images say: counts, completeness, images without order,
patient mismatch and late instances."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dicom.metadata import parse_instance
from dicom.services.associations import SiteContext
from dicom.services.completion import study_images_complete
from dicom.services.instances import instance_receive
from tests import factories
from tests.dicom_support import instance, let_quiet_period_pass, new_uid
from worklists.models import Study

pytestmark = pytest.mark.django_db


def receive(site, ds) -> int:
    context = SiteContext(
        site_id=site.id, site_code=site.code, calling_ae_title="ALFAPACS", peer_address=""
    )
    return instance_receive(context=context, meta=parse_instance(ds)).study_id


@pytest.fixture
def page(client, owner):
    client.force_login(owner.user)

    def get(study_id: int):
        response = client.get(reverse("study", args=[study_id]))
        assert response.status_code == 200
        return response.content.decode()

    return get


def test_a_study_without_images_says_so(page, site_a):
    study = factories.StudyFactory(site=site_a)

    assert "No images received yet." in page(study.id)


def test_images_without_order_are_shown_with_their_counts_while_receiving(page, site_a):
    study_uid, series_uid = new_uid(), new_uid()
    for _ in range(2):
        study_id = receive(
            site_a,
            instance(study_uid=study_uid, series_uid=series_uid, accession="P1", patient_id="X1"),
        )

    html = page(study_id)

    assert 'data-images-state="receiving"' in html
    assert "data-images-without-order" in html
    assert "<span data-series-count>1</span> / <span data-instance-count>2</span>" in html
    assert "JFK IMAGING CENTER" in html
    assert 'data-late-count="0"' in html


def test_late_instances_are_listed_on_a_ready_study(page, site_a, general_worklist):
    study = factories.StudyFactory(site=site_a, accession_number="P2", study_instance_uid="")
    study_uid = new_uid()
    receive(site_a, instance(study_uid=study_uid, accession="P2", patient_id="Z1"))
    let_quiet_period_pass(study.id)
    study_images_complete(study_id=study.id)
    late = instance("MR_small.dcm", study_uid=study_uid, accession="P2", patient_id="Z1")
    receive(site_a, late)

    html = page(study.id)

    assert Study.objects.get(id=study.id).status == "READY"
    assert 'data-images-state="complete"' in html
    assert 'data-late-count="1"' in html
    assert late.SOPInstanceUID in html
    assert html.count("data-late-instance") == 1


def test_the_image_state_costs_the_page_at_most_three_queries(client, owner, site_a):
    client.force_login(owner.user)
    without = factories.StudyFactory(site=site_a, accession_number="P3")
    with_images = receive(site_a, instance(study_uid=new_uid(), accession="P4", patient_id="Y"))
    Study.objects.filter(id=with_images).update(patient=without.patient)
    client.get(reverse("study", args=[without.id]))  # warm the session and caches

    with CaptureQueriesContext(connection) as baseline:
        client.get(reverse("study", args=[without.id]))
    with CaptureQueriesContext(connection) as measured:
        client.get(reverse("study", args=[with_images]))

    assert len(measured) - len(baseline) <= 3
