"""A blind review's study is withheld from its reviewer's ordinary pages until they score it:
the study page, the reading page and the report API name the author (signer, events, history).
Registered with the core (worklists.hooks) in QualityConfig.ready."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.urls import reverse
from django.utils.translation import gettext as _

from quality.models import OPEN_REVIEW_STATUSES, ReviewTask
from worklists.hooks import Withheld
from worklists.models import Study, StudyStatus


def blind_review_withholds(
    *, user: AbstractBaseUser | AnonymousUser, study: Study
) -> Withheld | None:
    """The reviewer's open blind review of ``study``, if any: read it there. Only a signed final
    is reviewed, so any other study costs no query."""
    if study.status != StudyStatus.FINAL or not user.is_authenticated:
        return None
    review_id = (
        ReviewTask.objects.filter(
            study_id=study.id,
            status__in=OPEN_REVIEW_STATUSES,
            blind_author=True,
            reviewer__user_id=user.pk,
        )
        .values_list("id", flat=True)
        .first()
    )
    if review_id is None:
        return None
    return Withheld(
        reason=_(
            "You are reviewing this report blind: until you have scored it, the study opens "
            "in your review, without its author's name."
        ),
        url=reverse("review", args=[review_id]),
    )
