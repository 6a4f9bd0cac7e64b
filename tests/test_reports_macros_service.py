"""Macro services: a reader keeps their own macros, which nobody else sees or changes; shared
macros belong to a worklist and are kept by the coordinators; names are one lowercase word,
unique per owner and per worklist."""

from __future__ import annotations

import pytest

from reports.macro_selectors import macros_for_study, macros_visible_to
from reports.models import Macro
from reports.services.errors import NotPermitted, ReportInvalid
from reports.services.macros import (
    MacroInput,
    MacroNotFound,
    macro_create,
    macro_delete,
    macro_update,
)
from tests import factories

pytestmark = pytest.mark.django_db


def personal(radiologist, name: str = "normal", text: str = "Normale forhold.") -> Macro:
    return macro_create(user=radiologist.user, data=MacroInput(name=name, text=text))


def shared(coordinator, worklist, name: str = "normct", text: str = "Normal CT caput.") -> Macro:
    return macro_create(
        user=coordinator, data=MacroInput(name=name, text=text), worklist_id=worklist.id
    )


@pytest.fixture
def msk(db):
    return factories.WorklistFactory(code="msk", name="Muskel og skjelett")


def test_a_radiologist_creates_a_personal_macro_with_a_clean_lowercase_name(owner):
    macro = personal(owner, name="  .Normal ", text="Ingen patologi.\r\nNormal undersøkelse.")

    assert macro.owner == owner
    assert macro.worklist is None
    assert macro.name == "normal"
    assert macro.text == "Ingen patologi.\nNormal undersøkelse."
    assert Macro.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "give the macro a name"),
        ("to ord", "one word"),
        ("-start", "one word"),
        ("x" * 31, "at most 30"),
    ],
)
def test_a_bad_name_is_refused_with_a_reason_on_the_name(owner, name, message):
    with pytest.raises(ReportInvalid, match=message) as refused:
        personal(owner, name=name)

    assert refused.value.field == "name"
    assert not Macro.objects.exists()


def test_norwegian_letters_are_allowed_in_names(owner):
    assert personal(owner, name="Blødning").name == "blødning"


def test_an_empty_text_is_refused(owner):
    with pytest.raises(ReportInvalid, match="write the text") as refused:
        personal(owner, text="  \n ")

    assert refused.value.field == "text"


def test_a_name_is_unique_per_owner_but_two_readers_may_use_the_same(owner, other_radiologist):
    personal(owner, name="normal")

    with pytest.raises(ReportInvalid, match="you already have a macro named 'normal'"):
        personal(owner, name="NORMAL")
    personal(other_radiologist, name="normal")

    assert Macro.objects.filter(name="normal").count() == 2


def test_renaming_onto_another_of_ones_own_names_is_refused(owner):
    personal(owner, name="normal")
    second = personal(owner, name="annen")

    with pytest.raises(ReportInvalid, match="already have"):
        macro_update(user=owner.user, macro_id=second.id, data=MacroInput(name="normal", text="x"))
    second.refresh_from_db()
    assert second.name == "annen"


def test_a_name_is_unique_per_worklist_and_may_repeat_in_another(coordinator, neuro, msk):
    shared(coordinator, neuro, name="norm")

    with pytest.raises(ReportInvalid, match="this worklist already has"):
        shared(coordinator, neuro, name="norm")
    shared(coordinator, msk, name="norm")

    assert Macro.objects.filter(name="norm").count() == 2


def test_only_coordinators_create_shared_macros(owner, neuro):
    with pytest.raises(NotPermitted, match="coordinators"):
        macro_create(user=owner.user, data=MacroInput(name="norm", text="x"), worklist_id=neuro.id)

    assert not Macro.objects.exists()


def test_someone_who_is_not_a_radiologist_has_no_personal_macros(site_user):
    with pytest.raises(NotPermitted, match="radiologists"):
        macro_create(user=site_user, data=MacroInput(name="norm", text="x"))


def test_a_shared_macro_needs_an_existing_worklist(coordinator):
    with pytest.raises(ReportInvalid, match="no such worklist"):
        macro_create(user=coordinator, data=MacroInput(name="norm", text="x"), worklist_id=999)


def test_the_owner_edits_and_deletes_their_macro(owner):
    macro = personal(owner)

    updated = macro_update(
        user=owner.user,
        macro_id=macro.id,
        data=MacroInput(name="norm", text="Ny tekst.", description="Kort"),
    )
    assert (updated.name, updated.text, updated.description) == ("norm", "Ny tekst.", "Kort")
    assert updated.updated_at >= macro.updated_at

    macro_delete(user=owner.user, macro_id=macro.id)
    assert not Macro.objects.exists()


def test_another_radiologist_can_neither_see_nor_change_my_macro(owner, other_radiologist):
    macro = personal(owner, text="Min tekst.")

    with pytest.raises(MacroNotFound):
        macro_update(
            user=other_radiologist.user, macro_id=macro.id, data=MacroInput(name="x", text="y")
        )
    with pytest.raises(MacroNotFound):
        macro_delete(user=other_radiologist.user, macro_id=macro.id)

    macro.refresh_from_db()
    assert (macro.name, macro.text) == ("normal", "Min tekst.")
    assert macro not in macros_visible_to(user=other_radiologist.user)


def test_a_coordinator_cannot_change_a_readers_personal_macro(owner, coordinator):
    macro = personal(owner)

    with pytest.raises(MacroNotFound):
        macro_delete(user=coordinator, macro_id=macro.id)

    assert Macro.objects.filter(pk=macro.pk).exists()


def test_a_reader_may_not_change_a_shared_macro_but_a_coordinator_may(owner, coordinator, neuro):
    macro = shared(coordinator, neuro)

    with pytest.raises(NotPermitted, match="coordinators"):
        macro_update(user=owner.user, macro_id=macro.id, data=MacroInput(name="x", text="y"))
    with pytest.raises(NotPermitted):
        macro_delete(user=owner.user, macro_id=macro.id)
    macro_update(user=coordinator, macro_id=macro.id, data=MacroInput(name="x", text="y"))

    macro.refresh_from_db()
    assert (macro.name, macro.text, macro.worklist) == ("x", "y", neuro)


def test_a_study_offers_my_macros_and_its_worklists_shared_ones_only(
    owner, other_radiologist, coordinator, site_a, neuro, msk
):
    mine = personal(owner, name="mine")
    personal(other_radiologist, name="theirs")
    neuro_macro = shared(coordinator, neuro, name="normct")
    shared(coordinator, msk, name="normkne")
    study = factories.StudyFactory(site=site_a, worklist=neuro)

    assert macros_for_study(user=owner.user, study=study) == [mine, neuro_macro]
    assert [m.name for m in macros_for_study(user=other_radiologist.user, study=study)] == [
        "normct",
        "theirs",
    ]


def test_my_macro_comes_before_a_shared_one_of_the_same_name(owner, coordinator, site_a, neuro):
    shared_one = shared(coordinator, neuro, name="normct", text="Felles.")
    mine = personal(owner, name="normct", text="Min.")
    study = factories.StudyFactory(site=site_a, worklist=neuro)

    assert macros_for_study(user=owner.user, study=study) == [mine, shared_one]


def test_outside_a_study_a_reader_sees_the_shared_macros_of_their_worklists_only(
    owner, coordinator, neuro, msk
):
    neuro_macro = shared(coordinator, neuro, name="normct")
    msk_macro = shared(coordinator, msk, name="normkne")

    assert macros_visible_to(user=owner.user) == [neuro_macro]
    assert set(macros_visible_to(user=coordinator)) == {neuro_macro, msk_macro}
