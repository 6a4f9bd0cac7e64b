"""Peer review's test data: signed final reports, made quickly (for the large samples) or
through the real signing service (for the hook), and a worklist with a policy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from quality.models import PeerReviewPolicy, ReviewTask
from quality.services.sampling import review_sample
from reports.models import ReportVersion, VersionKind
from reports.services.drafts import DraftInput
from reports.services.signing import report_sign
from tests import factories
from worklists.actors import Actor
from worklists.models import Radiologist, Site, Study, StudyStatus, Worklist
from worklists.services.studies import study_assign


def policy(worklist: Worklist, share: str = "10", **kwargs: object) -> PeerReviewPolicy:
    return PeerReviewPolicy.objects.create(
        worklist=worklist, share_percent=Decimal(share), **kwargs
    )


def final_version(
    author: Radiologist, *, site: Site, worklist: Worklist, signed_at: dt.datetime | None = None
) -> ReportVersion:
    """A FINAL study with its signed final report, written directly (no signing flow: the
    sampling reads only the version and its study)."""
    study = factories.ready_study(site, worklist, status=StudyStatus.FINAL)
    return ReportVersion.objects.create(
        study=study,
        number=1,
        kind=VersionKind.FINAL,
        sections=factories.report_sections(),
        signed_by=author,
        signer_name=author.display_name,
        signer_hpr=author.hpr_number,
        signed_at=signed_at or timezone.now(),
        password_confirmed=True,
        content_hash="0" * 64,
    )


def sign_through_the_service(author: Radiologist, *, site: Site, worklist: Worklist) -> Study:
    """A study read and signed final by ``author`` as a reader would: the real signing service,
    so its after-commit hook runs (the caller's test must let commits happen)."""
    study = factories.ready_study(site, worklist)
    study_assign(study_id=study.id, radiologist_id=author.id, actor=Actor.system("test"))
    report_sign(
        study_id=study.id,
        user=author.user,
        password=factories.PASSWORD,
        draft=DraftInput(sections=factories.report_sections(), base_revision=0),
    )
    study.refresh_from_db()
    return study


# The author's family name in the blind-review tests: a page that shows it has leaked the author.
AUTHOR = "Forfattersen"


def sampled_review(
    author: Radiologist,
    reviewer: Radiologist,
    *,
    site: Site,
    worklist: Worklist,
    **policy_options: object,
) -> ReviewTask:
    """``author``'s signed final, sampled (a policy of every final on ``worklist``) for a review
    that goes to ``reviewer``, the only other eligible colleague."""
    policy(worklist, share="100", **policy_options)
    made = review_sample(version_id=final_version(author, site=site, worklist=worklist).id)
    assert made is not None
    assert made.reviewer_id == reviewer.id
    return made


def blind_review(
    author: Radiologist, reviewer: Radiologist, *, site: Site, worklist: Worklist
) -> ReviewTask:
    """``author``'s signed final (their family name AUTHOR), sampled for a blind review that goes
    to ``reviewer``, the only other eligible colleague."""
    author.user.first_name, author.user.last_name = "Astrid", AUTHOR
    author.user.save()
    return sampled_review(author, reviewer, site=site, worklist=worklist, blind_author=True)


def client_of(user: object) -> Client:
    """A test client signed in as ``user``."""
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client
