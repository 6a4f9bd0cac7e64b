"""Who may write a study's report: the radiologist who holds it (its active assignment)."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.translation import gettext as _

from reports.services.errors import NotPermitted
from worklists.models import Assignment, Radiologist, Study


def lock_study(study_id: int) -> Study:
    """The study row, locked: the first lock every report service takes."""
    try:
        return Study.objects.select_for_update(of=("self",)).select_related("site").get(id=study_id)
    except Study.DoesNotExist as exc:
        raise NotPermitted(f"no study {study_id}") from exc


def require_holder(study: Study, user: AbstractBaseUser) -> Radiologist:
    assignment = (
        Assignment.objects.filter(study=study, ended_at__isnull=True)
        .select_related("radiologist__user")
        .first()
    )
    if assignment is None or assignment.radiologist.user_id != user.pk:
        raise NotPermitted(_("only the radiologist who holds this study may write its report"))
    return assignment.radiologist
