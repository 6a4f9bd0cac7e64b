"""A blind review's study is withheld from its reviewer's ordinary pages until they score it:
the study page, the reading page and the report API name the author (signer, events, history);
the review itself opens on the reading page, blind (quality.reading_order). In bulk for lists:
the reading page's priors of another study of the patient hide its report and signer.
Registered with the core (worklists.hooks) in QualityConfig.ready."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils.translation import gettext as _

from quality.models import OPEN_REVIEW_STATUSES, ReviewTask
from quality.reading_order import review_reading_url
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
    return _withheld(study_id=study.id, review_id=review_id)


def _withheld(*, study_id: int, review_id: int) -> Withheld:
    return Withheld(
        reason=_(
            "You are reviewing this report blind: until you have scored it, the study opens "
            "in your review, without its author's name."
        ),
        url=review_reading_url(study_id=study_id, review_id=review_id),
    )


def blind_reviews_withhold(
    *, user: AbstractBaseUser | AnonymousUser, studies: Sequence[Study]
) -> dict[int, Withheld]:
    """blind_review_withholds for many studies (the reading page's priors): one query for the
    signed finals among them, none when there is none."""
    finals = [study.id for study in studies if study.status == StudyStatus.FINAL]
    if not finals or not user.is_authenticated:
        return {}
    return {
        study_id: _withheld(study_id=study_id, review_id=review_id)
        for study_id, review_id in ReviewTask.objects.filter(
            study_id__in=finals,
            status__in=OPEN_REVIEW_STATUSES,
            blind_author=True,
            reviewer__user_id=user.pk,
        ).values_list("study_id", "id")
    }
