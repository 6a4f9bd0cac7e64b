"""Double reading in the demo (``seed_demo``): screening mammography (GGA0SC) in the mamma
worklist is read twice, with an arbitration when the reads disagree (rad20 the consensus
group). Of the demo's unread screening studies, two stand at their second read and two at
their arbitration (read through the double-reading services with the demo password); the rest
wait for their first read.

No study is staged as done (agreed, arbitrated): its final would be delivered to the demo RIS
at seeding time, where the demo's read studies are history, signed at their FINAL event and
never delivered. Signing the staged reads in `make run` shows those stages.

Rerunnable: the policy is brought back to its demo state; studies are staged once (while no
demo study is double read).
"""

from __future__ import annotations

import datetime as dt
import random

from django.db.models import Q
from django.utils import timezone

from reports.demo.priors import ABNORMAL, PLAIN
from reports.models import AgreementRule, DoubleRead, DoubleReadingPolicy
from reports.services.arbitration import ScreeningResult
from reports.services.double_reading import independent_read_sign
from reports.services.drafts import DraftInput
from worklists.actors import Actor
from worklists.demo.data import DEMO_PASSWORD, SEED
from worklists.demo.extensions import DemoContext
from worklists.models import (
    Competence,
    Credential,
    Radiologist,
    Shift,
    Study,
    StudyStatus,
)
from worklists.services.studies import study_assign

SCREENING = "GGA0SC"
# The mamma readers (rad07 Kristin Aasland, rad08 Tone Hjelmeland) read first and second; the
# demo makes rad20 (Astrid Hårstad) read mammography too, as the consensus group's arbitrator.
ARBITRATOR = "rad20"
NORMAL = ScreeningResult(score_right=1, score_left=1, recall=False)
SUSPICIOUS = ScreeningResult(score_right=1, score_left=4, recall=True)
STAGED = {"second read": 2, "arbitration": 2}


def seed_double_reading_demo(context: DemoContext) -> None:
    mamma = context.subspecialties.get("mamma")
    if mamma is None:
        return
    arbitrator = _ensure_arbitrator(context)
    policy, _created = DoubleReadingPolicy.objects.update_or_create(
        worklist=mamma,
        defaults={
            "is_active": True,
            "procedure_codes": SCREENING,
            # the programme's rule: any score of 2 or more goes to consensus
            "agreement_rule": AgreementRule.ANY_SCORE_2,
            "second_reader_other_site": False,
            # each further read as long as the first had: the site's contract
            "read_deadline_hours": None,
        },
    )
    policy.consensus_readers.set([arbitrator] if arbitrator else [])
    if DoubleRead.objects.filter(study__site__in=context.sites.values()).exists():
        context.stdout.write("Double reading: the demo's screening studies are staged already.")
        return
    readers = [
        reader
        for reader in Radiologist.objects.filter(competences__worklist=mamma, is_active=True)
        .exclude(user__username=ARBITRATOR)
        .select_related("user")
        .order_by("user__username")
        .distinct()
        if "MG" in reader.modalities  # (a JSON list: SQLite has no lookup into it)
    ][:2]
    if len(readers) < 2 or arbitrator is None:
        return
    _credential_like(arbitrator, readers, context)
    staged = _stage(context, readers=readers, arbitrator=arbitrator)
    context.stdout.write(
        "Double reading: screening mammography (GGA0SC) is read twice; staged "
        + (", ".join(f"{count} at {stage}" for stage, count in staged.items()) or "none")
        + "."
    )


def _ensure_arbitrator(context: DemoContext) -> Radiologist | None:
    """rad20 reads mammography too (primary in mamma, on shift for it): the third reader."""
    arbitrator = Radiologist.objects.filter(user__username=ARBITRATOR).first()
    mamma = context.subspecialties["mamma"]
    if arbitrator is None:
        return None
    if "MG" not in arbitrator.modalities:
        arbitrator.modalities = [*arbitrator.modalities, "MG"]
        arbitrator.save(update_fields=["modalities"])
    Competence.objects.get_or_create(radiologist=arbitrator, worklist=mamma)
    for shift in Shift.objects.filter(radiologist=arbitrator, ends_at__gt=context.now):
        shift.worklists.add(mamma)
    return arbitrator


def _credential_like(
    arbitrator: Radiologist, readers: list[Radiologist], context: DemoContext
) -> None:
    """The arbitrator may read wherever both mammography readers may (else the demo's
    arbitrations would wait at those sites for want of a third reader)."""
    today = timezone.localdate(context.now)
    shared = set.intersection(
        *(set(reader.credentials.values_list("site_id", flat=True)) for reader in readers)
    )
    for site_id in shared:
        Credential.objects.get_or_create(
            radiologist=arbitrator,
            site_id=site_id,
            defaults={"valid_from": today - dt.timedelta(days=365)},
        )


def _text(result: ScreeningResult, rng: random.Random) -> DraftInput:
    if result.recall:
        findings, conclusion, *_ = rng.choice(ABNORMAL.get(SCREENING, (PLAIN["MG"],)))
    else:
        findings, conclusion, *_ = PLAIN["MG"]
    sections = [
        {"key": "technique", "title": "Teknikk", "text": "Mammografi screening, to projeksjoner."},
        {"key": "findings", "title": "Funn", "text": findings},
        {"key": "conclusion", "title": "Konklusjon", "text": conclusion},
    ]
    return DraftInput(sections=sections, base_revision=0)


def _read(study: Study, reader: Radiologist, result: ScreeningResult, rng: random.Random) -> None:
    """``reader`` reads the READY study and signs an independent read."""
    study_assign(study_id=study.id, radiologist_id=reader.id, actor=Actor.system("demo"))
    independent_read_sign(
        study_id=study.id,
        user=reader.user,
        password=DEMO_PASSWORD,
        result=result,
        draft=_text(result, rng),
    )


def _stage(
    context: DemoContext, *, readers: list[Radiologist], arbitrator: Radiologist
) -> dict[str, int]:
    """Read some of the demo's unread, unassigned screening studies once or twice."""
    rng = random.Random(f"{SEED}-double-reading")  # noqa: S311
    first, second = readers
    # Only studies of sites all three readers hold a valid credential for.
    today = timezone.localdate(context.now)
    valid = Credential.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=today),
        valid_from__lte=today,
        revoked_at__isnull=True,
    )
    site_ids = {site.id for site in context.sites.values()}
    for reader in (first, second, arbitrator):
        site_ids &= set(valid.filter(radiologist=reader).values_list("site_id", flat=True))
    waiting = list(
        Study.objects.filter(
            site_id__in=site_ids,
            procedure_code=SCREENING,
            status=StudyStatus.READY,
            worklist__code="mamma",
        ).order_by("id")
    )
    staged: dict[str, int] = {}
    # alternately, so that even a small demo has a study in each stage
    for index, study in enumerate(waiting[: sum(STAGED.values())]):
        stage = list(STAGED)[index % len(STAGED)]
        _read(study, first, NORMAL, rng)
        if stage == "arbitration":
            _read(study, second, SUSPICIOUS, rng)
        staged[stage] = staged.get(stage, 0) + 1
    return staged
