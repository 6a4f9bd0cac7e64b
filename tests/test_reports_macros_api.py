"""Macro API: /api/v1/studies/<id>/macros lists what the reader may insert on that study;
/api/v1/macros and /api/v1/macros/<id> keep the caller's own. Personas: the owner, another
radiologist at the same site, a radiologist of another site, a site user, a coordinator."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reports.models import Macro
from reports.services.macros import MacroInput, macro_create
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(site_a, neuro):
    return factories.StudyFactory(site=site_a, worklist=neuro)


@pytest.fixture
def mine(owner):
    return macro_create(
        user=owner.user, data=MacroInput(name="kontroll", text="Kontroll om 3 mnd.")
    )


@pytest.fixture
def neuro_shared(coordinator, neuro):
    return macro_create(
        user=coordinator,
        data=MacroInput(name="normct", text="Normal CT caput.", description="Normal"),
        worklist_id=neuro.id,
    )


def study_macros(client, study):
    return client.get(reverse("api-study-macros", args=[study.id]))


def test_the_owner_gets_their_own_and_the_worklists_shared_macros_for_a_study(
    owner, study, mine, neuro_shared, client_for
):
    response = study_macros(client_for(owner.user), study)

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": mine.id,
            "name": "kontroll",
            "text": "Kontroll om 3 mnd.",
            "description": "",
            "scope": "personal",
            "worklist": None,
            "editable": True,
        },
        {
            "id": neuro_shared.id,
            "name": "normct",
            "text": "Normal CT caput.",
            "description": "Normal",
            "scope": "shared",
            "worklist": "neuro",
            "editable": False,
        },
    ]


def test_another_radiologist_gets_the_shared_macros_but_not_mine(
    other_radiologist, study, mine, neuro_shared, client_for
):
    response = study_macros(client_for(other_radiologist.user), study)

    assert response.status_code == 200
    assert [m["name"] for m in response.json()] == ["normct"]


def test_a_radiologist_of_another_site_gets_404_for_the_study(
    outsider, study, mine, neuro_shared, client_for
):
    response = study_macros(client_for(outsider.user), study)

    assert response.status_code == 404
    assert "normct" not in response.content.decode()


def test_anonymous_callers_are_refused(api_client, study):
    assert study_macros(api_client, study).status_code in (401, 403)
    assert api_client.get(reverse("api-macros")).status_code in (401, 403)


def test_the_owner_creates_a_personal_macro(owner, client_for):
    response = client_for(owner.user).post(
        reverse("api-macros"), {"name": "Normal", "text": "Ingen patologi."}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["name"] == "normal"
    assert response.json()["scope"] == "personal"
    assert Macro.objects.get().owner == owner


def test_a_duplicate_name_gets_400_with_the_reason_on_the_name(owner, mine, client_for):
    response = client_for(owner.user).post(
        reverse("api-macros"), {"name": "kontroll", "text": "Noe annet."}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"errors": {"name": ["you already have a macro named 'kontroll'"]}}
    assert Macro.objects.count() == 1


def test_a_malformed_body_gets_400_field_errors(owner, client_for):
    response = client_for(owner.user).post(reverse("api-macros"), {"name": "x"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"errors": {"text": ["This field is required."]}}
    assert not Macro.objects.exists()


def test_a_reader_may_not_create_a_shared_macro(owner, neuro, client_for):
    response = client_for(owner.user).post(
        reverse("api-macros"), {"name": "norm", "text": "x", "worklist": "neuro"}, format="json"
    )

    assert response.status_code == 403
    assert not Macro.objects.exists()


def test_a_coordinator_creates_a_shared_macro_by_worklist_code(coordinator, neuro, client_for):
    response = client_for(coordinator).post(
        reverse("api-macros"), {"name": "norm", "text": "x", "worklist": "neuro"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["scope"] == "shared"
    assert Macro.objects.get().worklist == neuro


def test_the_list_holds_my_macros_and_my_worklists_shared_ones(
    owner, other_radiologist, mine, neuro_shared, client_for
):
    assert [m["name"] for m in client_for(owner.user).get(reverse("api-macros")).json()] == [
        "kontroll",
        "normct",
    ]
    theirs = client_for(other_radiologist.user).get(reverse("api-macros")).json()
    assert [m["name"] for m in theirs] == ["normct"]


def test_the_owner_patches_and_deletes_their_macro(owner, mine, client_for):
    client = client_for(owner.user)

    patched = client.patch(
        reverse("api-macro", args=[mine.id]), {"text": "Kontroll om 6 mnd."}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "kontroll"
    mine.refresh_from_db()
    assert mine.text == "Kontroll om 6 mnd."

    assert client.delete(reverse("api-macro", args=[mine.id])).status_code == 204
    assert not Macro.objects.filter(pk=mine.pk).exists()


@pytest.mark.parametrize("persona", ["other_radiologist", "outsider"])
def test_my_macro_does_not_exist_for_another_radiologist(persona, request, mine, client_for):
    client = client_for(request.getfixturevalue(persona).user)
    url = reverse("api-macro", args=[mine.id])

    assert client.get(url).status_code == 404
    assert client.put(url, {"name": "x", "text": "y"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404
    mine.refresh_from_db()
    assert (mine.name, mine.text) == ("kontroll", "Kontroll om 3 mnd.")


def test_a_reader_sees_a_shared_macro_but_may_not_change_it(owner, neuro_shared, client_for):
    client = client_for(owner.user)
    url = reverse("api-macro", args=[neuro_shared.id])

    assert client.get(url).json()["editable"] is False
    refused = client.patch(url, {"text": "Endret."}, format="json")
    assert refused.status_code == 403
    assert refused.json() == {
        "errors": {"non_field_errors": ["shared macros are kept by the coordinators"]}
    }
    assert client.delete(url).status_code == 403
    neuro_shared.refresh_from_db()
    assert neuro_shared.text == "Normal CT caput."


def test_a_site_user_sees_no_macros_and_cannot_create_one(site_user, neuro_shared, client_for):
    client = client_for(site_user)

    assert client.get(reverse("api-macros")).json() == []
    assert client.get(reverse("api-macro", args=[neuro_shared.id])).status_code == 404
    response = client.post(reverse("api-macros"), {"name": "x", "text": "y"}, format="json")
    assert response.status_code == 403


def test_the_macro_endpoints_are_in_the_openapi_schema(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    assert "/api/v1/studies/{study_id}/macros" in schema["paths"]
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/macros"])
    assert {"get", "put", "patch", "delete"} <= set(schema["paths"]["/api/v1/macros/{macro_id}"])
    assert "MacroOut" in schema["components"]["schemas"]
