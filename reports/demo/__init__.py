"""The reports side of ``manage.py seed_demo``: report templates for the demo's procedures,
shared and personal macros, and the signed reports of the demo's read studies (so that the
priors on the reading page have text).

Registered as a demo step in ReportsConfig.ready(); the core's demo never names this app.
Rerunnable: templates and the demo macros are brought back to their demo state, and only
studies without a report get one. A signed report is never deleted, so a ``--reset`` keeps
the read studies (as it keeps any study with an issued report).
"""

from __future__ import annotations

import datetime as dt
import random

from django.db.models import Q

from hl7_interface.outbox import outbox_record_delivered_history
from reports.demo.history import (
    critical_category,
    record_critical_findings,
    record_returned_referrals,
)
from reports.demo.macros import PERSONAL, PERSONAL_OWNER, SHARED, MacroSpec
from reports.demo.priors import ABNORMAL, DEFAULT_PLAIN, PLAIN
from reports.demo.templates import TEMPLATES, WORKLIST_FALLBACKS, TemplateSpec
from reports.models import Macro, ReportTemplate, ReportVersion, VersionKind
from reports.selectors import sections_from_template, template_for_study, template_sections
from reports.services import content
from reports.services.delivery import report_delivery_of
from reports.services.macros import clean_macro_name
from worklists.demo.extensions import DemoContext
from worklists.models import Assignment, Radiologist, Study, StudyEvent, StudyStatus, Worklist

SEED = "reports-demo"
# Share of the demo's read studies whose report describes a finding (where the demo has one).
ABNORMAL_SHARE = 0.35
# How long after signing the site's RIS acknowledged a demo report.
DELIVERY_DELAY = dt.timedelta(seconds=4)


def seed_reports_demo(context: DemoContext) -> None:
    templates = ensure_templates(context.subspecialties)
    macros = ensure_macros(context)
    signed = sign_read_studies(context)
    returned = record_returned_referrals(context)
    context.stdout.write(
        f"Report templates: {templates}. Macros: {macros}. "
        f"Signed reports added to {signed} read studies; {returned} returned referrals recorded."
    )


def _ensure_template(
    spec: TemplateSpec, *, procedure_code: str, worklist: Worklist | None
) -> ReportTemplate:
    template = (
        ReportTemplate.objects.filter(
            procedure_code=procedure_code, modality=spec.modality, worklist=worklist
        )
        .order_by("id")
        .first()
    )
    if template is None:
        template = ReportTemplate(
            procedure_code=procedure_code, modality=spec.modality, worklist=worklist
        )
    template.name = spec.name
    template.is_active = True
    template.save()
    template.sections.all().delete()
    for position, (key, title, text) in enumerate(spec.sections, start=1):
        template.sections.create(position=position, key=key, title=title, default_text=text)
    return template


def ensure_templates(subspecialties: dict[str, Worklist]) -> int:
    count = 0
    for spec in (*TEMPLATES, *WORKLIST_FALLBACKS):
        if spec.worklist:
            _ensure_template(spec, procedure_code="", worklist=subspecialties[spec.worklist])
            count += 1
        for code in spec.procedure_codes:
            _ensure_template(spec, procedure_code=code, worklist=None)
            count += 1
    return count


def _ensure_macro(spec: MacroSpec, *, now: dt.datetime, **scope: object) -> None:
    name, description, text = spec
    name = clean_macro_name(name)
    Macro.objects.update_or_create(
        name=name,
        **scope,
        defaults={"text": text, "description": description, "updated_at": now},
        create_defaults={
            "text": text,
            "description": description,
            "created_at": now,
            "updated_at": now,
        },
    )


def ensure_macros(context: DemoContext) -> int:
    count = 0
    for code, specs in SHARED.items():
        worklist = context.subspecialties[code]
        for spec in specs:
            _ensure_macro(spec, now=context.now, worklist=worklist)
            count += 1
    owner = Radiologist.objects.get(user__username=PERSONAL_OWNER)
    for spec in PERSONAL:
        _ensure_macro(spec, now=context.now, owner=owner)
        count += 1
    return count


class _TemplateCache:
    """The starting sections per template choice, read once for a whole seed."""

    def __init__(self) -> None:
        self.sections: dict[tuple[str, str, int | None], list[dict[str, str]]] = {}

    def starting_sections(self, study: Study) -> list[dict[str, str]]:
        key = (study.procedure_code, study.modality, study.worklist_id)
        if key not in self.sections:
            self.sections[key] = template_sections(template_for_study(study=study))
        return sections_from_template(self.sections[key], study=study)


def _report_sections(
    study: Study, rng: random.Random, templates: _TemplateCache
) -> list[dict[str, str]]:
    sections = templates.starting_sections(study)
    by_key = {section["key"]: section for section in sections}
    variants = ABNORMAL.get(study.procedure_code, ())
    chosen: tuple[str, ...] | None = None
    if variants and rng.random() < ABNORMAL_SHARE:
        chosen = rng.choice(variants)
    elif "findings" not in by_key or not by_key["findings"]["text"]:
        chosen = PLAIN.get(study.modality, DEFAULT_PLAIN)
    if chosen is not None:
        for key, text in zip(("findings", "conclusion", "birads"), chosen, strict=False):
            if key in by_key:
                by_key[key]["text"] = text
    if "technique" in by_key and not by_key["technique"]["text"]:
        by_key["technique"]["text"] = f"{study.procedure_text}."
    return content.clean_sections([s for s in sections if s["text"].strip()])


def sign_read_studies(context: DemoContext) -> int:
    """A final report for every read (FINAL) demo study that has none, signed by its reader
    at the moment the study became final. In a fixed few queries per thousand studies, so that
    months of demo history (``seed_demo --history-days``) sign in seconds."""
    studies = list(
        Study.objects.filter(
            site__in=context.sites.values(), status=StudyStatus.FINAL, report_versions__isnull=True
        )
        .select_related("site")
        .order_by("id")
    )
    count = 0
    templates = _TemplateCache()
    for chunk_start in range(0, len(studies), 1000):
        chunk = studies[chunk_start : chunk_start + 1000]
        ids = [s.id for s in chunk]
        signer: dict[int, Radiologist] = {}
        signed = Assignment.objects.filter(study_id__in=ids).filter(
            Q(end_reason="signed") | Q(ended_at__isnull=True)
        )
        for assignment in signed.select_related("radiologist__user").order_by("assigned_at"):
            signer[assignment.study_id] = assignment.radiologist  # the latest wins
        final_at: dict[int, dt.datetime] = {}
        for study_id, at in (
            StudyEvent.objects.filter(study_id__in=ids, to_status=StudyStatus.FINAL)
            .order_by("at")
            .values_list("study_id", "at")
        ):
            final_at[study_id] = at
        versions: list[ReportVersion] = []
        for study in chunk:
            radiologist = signer.get(study.id)
            signed_at = final_at.get(study.id)
            if radiologist is None or signed_at is None:
                continue
            # Seeded per study: a study's demo report is the same on every machine.
            rng = random.Random(f"{SEED}-{study.site.code}-{study.accession_number}")  # noqa: S311
            sections = _report_sections(study, rng, templates)
            category = critical_category(study, rng)
            versions.append(
                _signed_version(
                    study=study,
                    radiologist=radiologist,
                    sections=sections,
                    at=signed_at,
                    critical_category=category,
                )
            )
        ReportVersion.objects.bulk_create(versions, batch_size=500)
        record_critical_findings([v for v in versions if v.critical_category], signer)
        # Delivered to the site's RIS seconds after signing (its ACK came back): the site
        # portal shows each history report as received, and nothing is sent again now.
        outbox_record_delivered_history(
            [
                (
                    v.study.site_id,
                    v.study_id,
                    report_delivery_of(v, "F"),
                    v.signed_at + DELIVERY_DELAY,
                )
                for v in versions
            ]
        )
        count += len(versions)
    return count


def _signed_version(
    *,
    study: Study,
    radiologist: Radiologist,
    sections: list[content.Section],
    at: dt.datetime,
    critical_category: str = "",
) -> ReportVersion:
    """The demo's history: a report as it was signed then (not delivered again now)."""
    return ReportVersion(
        study=study,
        number=1,
        kind=VersionKind.FINAL,
        sections=sections,
        signed_by=radiologist,
        signer_name=radiologist.display_name,
        signer_hpr=radiologist.hpr_number,
        signed_at=at,
        password_confirmed=True,
        critical_category=critical_category,
        content_hash=content.content_hash(
            study_id=study.id,
            accession_number=study.accession_number,
            site_code=study.site.code,
            number=1,
            kind=VersionKind.FINAL,
            sections=sections,
            reason="",
            signer_hpr=radiologist.hpr_number,
            signed_at=at,
            critical_category=critical_category,
        ),
    )
