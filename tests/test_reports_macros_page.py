"""The reader's own macro page (/macros/): list, create, edit and delete without the admin;
a reader changes only their own, coordinators keep the shared ones."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reports.models import Macro
from reports.services.macros import MacroInput, macro_create
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(owner):
    return macro_create(user=owner.user, data=MacroInput(name="kontroll", text="Kontroll."))


@pytest.fixture
def theirs(other_radiologist):
    return macro_create(
        user=other_radiologist.user, data=MacroInput(name="hemmelig", text="Deres tekst.")
    )


@pytest.fixture
def neuro_shared(coordinator, neuro):
    return macro_create(
        user=coordinator, data=MacroInput(name="normct", text="Normal CT."), worklist_id=neuro.id
    )


def test_the_page_lists_my_macros_and_my_worklists_shared_ones_not_others(
    client, owner, mine, theirs, neuro_shared
):
    client.force_login(owner.user)

    page = client.get(reverse("macros"))

    assert page.status_code == 200
    html = page.content.decode()
    assert ".kontroll" in html
    assert ".normct" in html
    assert "hemmelig" not in html
    assert reverse("macro-edit", args=[mine.id]) in html
    assert reverse("macro-edit", args=[neuro_shared.id]) not in html


def test_a_reader_creates_a_macro_from_the_page(client, owner):
    client.force_login(owner.user)

    response = client.post(
        reverse("macro-new"), {"name": "Normal", "text": "Ingen patologi.", "description": ""}
    )

    assert response.status_code == 302
    macro = Macro.objects.get()
    assert (macro.name, macro.owner) == ("normal", owner)


def test_a_refused_macro_is_shown_again_with_the_reason(client, owner, mine):
    client.force_login(owner.user)

    response = client.post(reverse("macro-new"), {"name": "kontroll", "text": "Annen tekst."})

    assert response.status_code == 400
    html = response.content.decode()
    assert "you already have a macro named" in html
    assert "Annen tekst." in html
    assert Macro.objects.count() == 1


def test_a_reader_has_no_worklist_choice_but_a_coordinator_has(client, owner, coordinator, neuro):
    client.force_login(owner.user)
    assert 'name="worklist"' not in client.get(reverse("macro-new")).content.decode()

    client.force_login(coordinator)
    assert 'name="worklist"' in client.get(reverse("macro-new")).content.decode()
    response = client.post(
        reverse("macro-new"), {"name": "norm", "text": "x", "worklist": str(neuro.id)}
    )
    assert response.status_code == 302
    assert Macro.objects.get().worklist == neuro


def test_the_owner_edits_and_deletes_their_macro(client, owner, mine):
    client.force_login(owner.user)

    edited = client.post(
        reverse("macro-edit", args=[mine.id]), {"name": "kontroll", "text": "Ny tekst."}
    )
    assert edited.status_code == 302
    mine.refresh_from_db()
    assert mine.text == "Ny tekst."

    assert client.post(reverse("macro-delete", args=[mine.id])).status_code == 302
    assert not Macro.objects.exists()


def test_another_radiologists_macro_is_not_found(client, owner, theirs):
    client.force_login(owner.user)

    assert client.get(reverse("macro-edit", args=[theirs.id])).status_code == 404
    assert client.post(
        reverse("macro-edit", args=[theirs.id]), {"name": "x", "text": "y"}
    ).status_code == (404)
    assert client.post(reverse("macro-delete", args=[theirs.id])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.text == "Deres tekst."


def test_a_reader_cannot_delete_a_shared_macro(client, owner, neuro_shared):
    client.force_login(owner.user)

    response = client.post(reverse("macro-delete", args=[neuro_shared.id]), follow=True)

    assert "shared macros are kept by the coordinators" in response.content.decode()
    assert Macro.objects.filter(pk=neuro_shared.pk).exists()


def test_the_page_needs_a_login(client, db):
    response = client.get(reverse("macros"))

    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_the_reading_page_includes_the_macro_bar_for_the_holder_only(
    client, owner, other_radiologist, site_a
):
    study = factories.held_study(owner, site=site_a)

    client.force_login(owner.user)
    html = client.get(reverse("reading", args=[study.id])).content.decode()
    assert "data-macro-picker" in html
    assert reverse("api-study-macros", args=[study.id]) in html
    assert "reports/macros.js" in html

    client.force_login(other_radiologist.user)
    assert (
        "data-macro-picker" not in client.get(reverse("reading", args=[study.id])).content.decode()
    )


def _nav_links_to_macros(html: str) -> bool:
    nav = html.split('<nav class="main-nav"', 1)[1].split("</nav>", 1)[0]
    return f'href="{reverse("macros")}"' in nav


def test_readers_and_coordinators_find_the_macro_page_in_the_menu_site_users_do_not(
    client, owner, coordinator, site_user
):
    for user, expected in ((owner.user, True), (coordinator, True), (site_user, False)):
        client.force_login(user)
        page = client.get(reverse("worklist"))
        assert page.status_code == 200
        assert _nav_links_to_macros(page.content.decode()) is expected, user
