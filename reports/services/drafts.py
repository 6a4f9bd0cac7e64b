"""The draft a reader is writing: saved as they type, kept with the study (not the reader), so
it survives a lapsed claim, a reassignment and a closed browser.

The service locks the study row first (the one fixed lock order: study, then report rows).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from reports.models import ReportDraft
from reports.selectors import WRITABLE_STATUSES, template_for_study
from reports.services import content
from reports.services.errors import DraftConflict, ReportStateConflict
from reports.services.holding import lock_study, require_holder
from worklists.actors import Actor
from worklists.models import Radiologist, Study, StudyStatus
from worklists.services import studies as lifecycle
from worklists.services.claims import claim_touch


@dataclasses.dataclass(frozen=True, slots=True)
class DraftInput:
    """Sections to save before issuing, and the draft revision they were written on."""

    sections: list[Any]
    base_revision: int


def open_for_reading(study: Study, radiologist: Radiologist, actor: Actor) -> Study:
    """An ASSIGNED study becomes IN_PROGRESS at the reader's first write."""
    if study.status == StudyStatus.ASSIGNED:
        return lifecycle.study_start_reading(
            study_id=study.id, radiologist_id=radiologist.id, actor=actor
        )
    return study


def draft_save_locked(
    *, study: Study, user: AbstractBaseUser, sections: list[Any], base_revision: int
) -> ReportDraft:
    cleaned = content.clean_sections(sections)
    now = timezone.now()
    draft = ReportDraft.objects.filter(study=study).first()
    current = draft.revision if draft is not None else 0
    if base_revision != current:
        raise DraftConflict(
            _(
                "the draft was saved elsewhere since revision %(base)d (now revision "
                "%(current)d); reload it before saving"
            )
            % {"base": base_revision, "current": current},
            current_revision=current,
        )
    name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    author_name = (name or user.get_username())[:150]
    if draft is None:
        return ReportDraft.objects.create(
            study=study,
            template=template_for_study(study=study),
            sections=cleaned,
            revision=1,
            author_id=user.pk,
            author_name=author_name,
            author_ids=[user.pk],
            created_at=now,
            updated_at=now,
        )
    draft.sections = cleaned
    draft.revision = current + 1
    draft.author_id = user.pk
    draft.author_name = author_name
    if user.pk not in draft.author_ids:  # a draft released and continued by another reader
        draft.author_ids = [*draft.author_ids, user.pk]
    draft.updated_at = now
    draft.save(
        update_fields=["sections", "revision", "author", "author_name", "author_ids", "updated_at"]
    )
    return draft


@transaction.atomic
def report_draft_save(
    *, study_id: int, user: AbstractBaseUser, sections: list[Any], base_revision: int
) -> ReportDraft:
    """Autosave: replace the draft's sections if it is still at ``base_revision``."""
    study = lock_study(study_id)
    radiologist = require_holder(study, user)
    if study.status not in WRITABLE_STATUSES:
        raise ReportStateConflict(
            _("the report of a study that is %(status)s cannot be drafted")
            % {"status": study.get_status_display().lower()}
        )
    open_for_reading(study, radiologist, Actor.for_user(user))
    draft = draft_save_locked(
        study=study, user=user, sections=sections, base_revision=base_revision
    )
    # Writing is activity: the reader's claim must not expire while they type.
    claim_touch(study_id=study.id, radiologist_id=radiologist.id)
    return draft
