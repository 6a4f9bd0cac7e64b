"""Reads of macros: which a reader may use on a study, and which they may see and keep."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from reports.models import Macro
from worklists.access import AnyUser, is_coordinator, radiologist_of
from worklists.models import Study, Worklist


def macros_for_study(*, user: AnyUser, study: Study) -> list[Macro]:
    """The caller's personal macros and those shared in the study's worklist (a study the
    caller has already been allowed to see). Sorted by name, a personal macro before a shared
    one of the same name: the first match is the one the editor expands."""
    scope = Q(owner__user_id=user.pk, owner__is_active=True) if user.pk is not None else Q()
    if study.worklist_id is not None:
        scope |= Q(worklist_id=study.worklist_id)
    if not scope:
        return []
    macros = Macro.objects.filter(scope).select_related("owner", "worklist")
    return sorted(macros, key=lambda m: (m.name, m.owner_id is None, m.id))


def personal_macros(*, user: AnyUser) -> QuerySet[Macro]:
    if user.pk is None:
        return Macro.objects.none()
    return Macro.objects.filter(owner__user_id=user.pk).select_related("owner").order_by("name")


def shared_worklists_visible_to(*, user: AnyUser) -> QuerySet[Worklist]:
    """The worklists whose shared macros ``user`` sees outside a study: every one for a
    coordinator, those a radiologist is competent in (primary or backup) for a reader."""
    if is_coordinator(user):
        return Worklist.objects.all()
    radiologist = radiologist_of(user)
    if radiologist is None:
        return Worklist.objects.none()
    return Worklist.objects.filter(competences__radiologist=radiologist).distinct()


def shared_macros_visible_to(*, user: AnyUser) -> QuerySet[Macro]:
    return (
        Macro.objects.filter(worklist__in=shared_worklists_visible_to(user=user))
        .select_related("worklist")
        .order_by("worklist__display_order", "worklist__name", "name")
    )


def macros_visible_to(*, user: AnyUser) -> list[Macro]:
    """Everything ``user`` may list outside a study: their own, then the shared ones."""
    return [*personal_macros(user=user), *shared_macros_visible_to(user=user)]


def macro_visible_to(*, user: AnyUser, macro_id: int) -> Macro | None:
    for macro in Macro.objects.filter(pk=macro_id).select_related("owner", "worklist"):
        if macro.owner is not None:
            return macro if macro.owner.user_id == user.pk else None
        worklists = shared_worklists_visible_to(user=user)
        if macro.worklist_id is not None and worklists.filter(pk=macro.worklist_id).exists():
            return macro
    return None
