"""Double reading: two independent, blind reads of a study, and an arbitration read when they
disagree (docs/double-reading.md).

A study of a worklist with an active DoubleReadingPolicy is read as usual (routed, claimed,
written), but its reader signs an *independent read* (the report text and a structured result)
instead of the final report. The first signed read sends the study back to routing for a second
reader: never the first, and not from the first reader's site when the policy says so
(worklists' read restrictions). The second signed read is compared with the first by the
policy's rule: agreement ends the study with one joint FINAL report (the existing version, the
one outbox row to the RIS); disagreement routes an arbitration read to a third reader (from the
consensus group if the policy names one), who sees both reads and signs the FINAL through the
normal signing (reports.services.signing calls arbitration_signed_locked). Independent reads are
never delivered. Every step is a StudyEvent; each read becomes READY with its own deadline, so
escalation works per read.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from reports import double_reading_selectors as dr_selectors
from reports.hooks import final_signed_after_commit
from reports.models import (
    AgreementRule,
    DoubleRead,
    DoubleReadStage,
    IndependentRead,
    ReportDraft,
    ReportVersion,
    VersionKind,
)
from reports.services import content
from reports.services.arbitration import (
    DOUBLE_READING_SECTION,
    ScreeningResult,
    joint_result,
    read_result,
    result_text,
    results_agree,
)
from reports.services.delivery import report_delivery_enqueue
from reports.services.drafts import DraftInput
from reports.services.errors import NotPermitted, ReportInvalid, ReportStateConflict
from reports.services.holding import lock_study, require_holder
from reports.services.signing import create_version, draft_to_issue, signing_password_check
from worklists.actors import Actor
from worklists.models import PRIORITY_RANK, Radiologist, SiteMembership, Study, StudyStatus
from worklists.services import studies as lifecycle
from worklists.services.pushes import fill_queue_after_commit, route_after_commit
from worklists.services.read_restrictions import read_restrictions_set_locked
from worklists.services.transitions import end_active_assignment, record_event, record_transition


def _restart_clock(study: Study, case: DoubleRead, now: dt.datetime) -> None:
    """The next read is READY from now with its own deadline (the policy's as kept with the
    double read, else as long as the first read had), at tier 0 and the priority's place in
    the reading order: escalation judges each read on its own."""
    span: dt.timedelta | None = None
    if case.read_deadline_hours:
        span = dt.timedelta(hours=case.read_deadline_hours)
    elif study.deadline is not None and study.ready_at is not None:
        span = max(study.deadline - study.ready_at, dt.timedelta(minutes=1))
    study.ready_at = now
    study.deadline = now + span if span is not None else None
    study.escalation_tier = 0
    if study.routing_rank != 0:  # STAT and critical keep the top of the reading order
        study.routing_rank = {str(p): r for p, r in PRIORITY_RANK.items()}.get(study.priority, 3)


def _sites_of(radiologist_ids: list[int]) -> list[int]:
    return sorted(
        set(
            SiteMembership.objects.filter(user__radiologist__id__in=radiologist_ids).values_list(
                "site_id", flat=True
            )
        )
    )


def readers_of(case: DoubleRead) -> list[int]:
    """Everyone who wrote any of the signed reads: their signers and whoever wrote a draft of
    one (released, then finished by another), and the signer of any report version of the
    study. They are kept off every later read: each read is independent of those before."""
    ids = {read.radiologist_id for read in case.reads.all()}
    ids.update(
        IndependentRead.draft_authors.through.objects.filter(
            independentread__double_read=case
        ).values_list("radiologist_id", flat=True)
    )
    ids.update(
        ReportVersion.objects.filter(study_id=case.study_id).values_list("signed_by_id", flat=True)
    )
    return sorted(ids)


def _draft_authors(current: ReportDraft, signer: Radiologist) -> list[int]:
    """The readers besides ``signer`` who saved the draft that becomes their read."""
    user_ids = [uid for uid in current.author_ids if uid != signer.user_id]
    if not user_ids:
        return []
    return list(Radiologist.objects.filter(user_id__in=user_ids).values_list("id", flat=True))


def _to_next_read(
    *,
    study: Study,
    case: DoubleRead,
    radiologist: Radiologist,
    actor: Actor,
    now: dt.datetime,
    reason: str,
    step: str,
) -> None:
    """The signed read's study goes back to routing for the next read (second or arbitration)
    with its readers kept off it, and is pushed once this commits."""
    # Only what the double read kept when it started counts: an edited policy (another
    # consensus group, the site choice switched) changes no reading under way.
    readers = readers_of(case)
    if step == DoubleReadStage.SECOND_READ:
        sites = _sites_of(readers) if case.second_reader_other_site else []
        reserved: list[int] = []
    else:
        sites = []
        reserved = [
            r
            for r in case.consensus_readers.order_by("id").values_list("id", flat=True)
            if r not in readers
        ]
    _restart_clock(study, case, now)
    record_transition(
        study=study,
        to_status=StudyStatus.READY,
        actor=actor,
        at=now,
        reason=reason,
        data={
            "double_reading": step,
            "radiologist_id": radiologist.id,
            "excluded_radiologist_ids": readers,
            "excluded_site_ids": sites,
            "reserved_for_ids": reserved,
            "deadline": study.deadline.isoformat() if study.deadline else None,
        },
        extra_fields=("ready_at", "deadline", "escalation_tier", "routing_rank"),
    )
    end_active_assignment(study, at=now, end_reason="independent read signed")
    read_restrictions_set_locked(
        study=study,
        excluded_reader_ids=readers,
        excluded_site_ids=sites,
        reserved_for_ids=reserved,
        reason=f"double reading: {step.lower().replace('_', ' ')}",
        at=now,
    )
    route_after_commit(study.id, trigger=f"double_reading.{step.lower()}")
    fill_queue_after_commit(radiologist.id, trigger="study.done")


def joint_sections(*, first: IndependentRead, second: IndependentRead) -> list[content.Section]:
    """The joint final report of two agreeing reads, so that nothing either reader wrote is
    lost: each section once where both wrote it alike (or one left it empty), else each
    reader's text under their name; then a section naming both readers, their results and
    the joint result (the higher score per breast). Report text to the RIS: English, as the
    rest of the delivered report's fixed text."""
    ours = {s["key"]: s for s in first.sections}
    theirs = {s["key"]: s for s in second.sections}
    keys = [*theirs, *(key for key in ours if key not in theirs)]
    sections: list[content.Section] = []
    for key in keys:
        if key == DOUBLE_READING_SECTION:
            continue
        one = (ours.get(key) or {}).get("text", "").strip()
        two = (theirs.get(key) or {}).get("text", "").strip()
        if one == two or not one:
            text = two
        elif not two:
            text = one
        else:
            text = f"{first.signer_name}:\n{one}\n\n{second.signer_name}:\n{two}"
        if text:
            title = (theirs.get(key) or ours[key])["title"]
            sections.append({"key": key, "title": title, "text": text})
    lines = [
        f"Read independently by {r.signer_name} ({r.signed_at:%d.%m.%Y %H:%M} UTC): "
        f"{result_text(read_result(r))}."
        for r in (first, second)
    ]
    joint = joint_result(read_result(first), read_result(second))
    lines.append(
        f"The reads agree. Joint result (the higher score per breast): {result_text(joint)}."
    )
    return [
        *sections,
        {"key": DOUBLE_READING_SECTION, "title": "Double reading", "text": "\n".join(lines)},
    ]


def independent_read_sign(
    *,
    study_id: int,
    user: AbstractBaseUser,
    password: str,
    result: ScreeningResult,
    draft: DraftInput | None = None,
) -> IndependentRead:
    """Sign the holder's read of a double-read study as an independent read with its result
    (the password re-entered, as for a final report). The first read sends the study on to a
    second reader; the second ends it with a joint final (agreement) or sends it on to
    arbitration (disagreement)."""
    result = result.cleaned()
    signing_password_check(user=user, password=password, study_id=study_id)
    return _sign_read(study_id=study_id, user=user, result=result, draft=draft)


@transaction.atomic
def _sign_read(
    *, study_id: int, user: AbstractBaseUser, result: ScreeningResult, draft: DraftInput | None
) -> IndependentRead:
    study = lock_study(study_id)
    radiologist = require_holder(study, user)
    actor = Actor.for_user(user)
    if study.status not in (StudyStatus.ASSIGNED, StudyStatus.IN_PROGRESS):
        raise ReportStateConflict(
            _("a study that is %(status)s cannot be signed")
            % {"status": study.get_status_display().lower()}
        )
    case = DoubleRead.objects.select_for_update().filter(study=study).first()
    policy = None
    if case is None:
        policy = dr_selectors.active_policy(study=study)
        if policy is None:
            raise ReportStateConflict(
                _("this study is read once: sign its report, there is no independent read")
            )
        number = 1
    elif case.stage == DoubleReadStage.SECOND_READ:
        number = 2
        if radiologist.id in readers_of(case):
            raise NotPermitted(
                _("you wrote the first read of this study: the second read is another reader's")
            )
    else:
        raise ReportStateConflict(
            _("both independent reads are signed: the arbitration is signed as the final report")
        )
    current = draft_to_issue(study, radiologist, actor, user=user, draft=draft, verb="signing")
    study = lock_study(study_id)  # as it is now: opening it for reading moved it on
    sections = content.clean_sections(current.sections)
    if not content.has_text(sections):
        raise ReportInvalid(_("the report is empty: write it before signing it"), field="sections")
    now = timezone.now()
    if case is None:
        assert policy is not None  # (for mypy: the first read found its policy above)
        # What the policy decides is kept with the double read: from here on only that counts.
        case = DoubleRead.objects.create(
            study=study,
            policy=policy,
            agreement_rule=policy.agreement_rule,
            second_reader_other_site=policy.second_reader_other_site,
            result_scale=policy.result_scale,
            read_deadline_hours=policy.read_deadline_hours,
            stage=DoubleReadStage.SECOND_READ,
            started_at=now,
        )
        case.consensus_readers.set(policy.consensus_readers.all())
    read = IndependentRead.objects.create(
        double_read=case,
        number=number,
        radiologist=radiologist,
        signer_name=radiologist.display_name,
        signer_hpr=radiologist.hpr_number,
        sections=sections,
        score_right=result.score_right,
        score_left=result.score_left,
        recall=result.recall,
        signed_at=now,
        deadline=study.deadline,
        content_hash=content.content_hash(
            study_id=study.id,
            accession_number=study.accession_number,
            site_code=study.site.code,
            number=number,
            kind=f"INDEPENDENT_READ_{number}",
            sections=sections,
            reason=result_text(result),
            signer_hpr=radiologist.hpr_number,
            signed_at=now,
            critical_category="",
        ),
    )
    read.draft_authors.set(_draft_authors(current, radiologist))
    current.delete()  # the draft was this read: the next reader starts blind
    if number == 1:
        _to_next_read(
            study=study,
            case=case,
            radiologist=radiologist,
            actor=actor,
            now=now,
            reason="double reading: first read signed; the second read is routed",
            step=DoubleReadStage.SECOND_READ,
        )
        return read
    first = case.reads.get(number=1)
    if results_agree(case.agreement_rule, read_result(first), result):
        _finish_agreed(study=study, case=case, first=first, second=read, actor=actor, now=now)
    else:
        case.stage = DoubleReadStage.ARBITRATION
        case.save(update_fields=["stage"])
        _to_next_read(
            study=study,
            case=case,
            radiologist=radiologist,
            actor=actor,
            now=now,
            reason=(
                "double reading: a score of 2 or more; the consensus read is routed"
                if case.agreement_rule == AgreementRule.ANY_SCORE_2
                else "double reading: the reads disagree; the arbitration is routed"
            ),
            step=DoubleReadStage.ARBITRATION,
        )
    return read


def _finish_agreed(
    *,
    study: Study,
    case: DoubleRead,
    first: IndependentRead,
    second: IndependentRead,
    actor: Actor,
    now: dt.datetime,
) -> ReportVersion:
    """Agreement: one joint FINAL report, signed by the second reader (whose password was just
    confirmed), both readers named in it; delivered once, as every final is."""
    version = create_version(
        study=study,
        radiologist=second.radiologist,
        kind=VersionKind.FINAL,
        sections=joint_sections(first=first, second=second),
        password_confirmed=True,
        signed_at=now,
    )
    record_event(
        study=study,
        actor=actor,
        at=now,
        reason="double reading: the reads agree; joint final report",
        data={
            "double_reading": DoubleReadStage.AGREED,
            "radiologist_ids": [first.radiologist_id, second.radiologist_id],
            "report_version_id": version.id,
        },
    )
    lifecycle.study_finalize(study_id=study.id, radiologist_id=second.radiologist_id, actor=actor)
    case.stage = DoubleReadStage.AGREED
    case.completed_at = now
    case.final_version = version
    case.save(update_fields=["stage", "completed_at", "final_version"])
    report_delivery_enqueue(version=version, result_status="F")
    # the study's first final, as the normal signing's: what listens (peer review) is told
    final_signed_after_commit(study_id=study.id, version_id=version.id)
    return version


__all__ = [
    "ScreeningResult",
    "independent_read_sign",
    "joint_sections",
    "results_agree",
]
