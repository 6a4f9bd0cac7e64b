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

from reports.demo.macros import PERSONAL, PERSONAL_OWNER, SHARED, MacroSpec
from reports.demo.priors import ABNORMAL, DEFAULT_PLAIN, PLAIN
from reports.demo.templates import TEMPLATES, WORKLIST_FALLBACKS, TemplateSpec
from reports.models import Macro, ReportTemplate, ReportVersion, VersionKind
from reports.selectors import starting_sections
from reports.services import content
from reports.services.macros import clean_macro_name
from worklists.demo.extensions import DemoContext
from worklists.models import Assignment, Radiologist, Study, StudyEvent, StudyStatus, Worklist

SEED = "reports-demo"
# Share of the demo's read studies whose report describes a finding (where the demo has one).
ABNORMAL_SHARE = 0.35


def seed_reports_demo(context: DemoContext) -> None:
    templates = ensure_templates(context.subspecialties)
    macros = ensure_macros(context)
    signed = sign_read_studies(context)
    context.stdout.write(
        f"Report templates: {templates}. Macros: {macros}. "
        f"Signed reports added to {signed} read studies."
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


def _report_sections(study: Study, rng: random.Random) -> list[dict[str, str]]:
    sections = starting_sections(study=study)
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
    at the moment the study became final."""
    studies = (
        Study.objects.filter(
            site__in=context.sites.values(), status=StudyStatus.FINAL, report_versions__isnull=True
        )
        .select_related("site")
        .order_by("id")
    )
    count = 0
    for study in studies:
        readers = Assignment.objects.filter(study=study).filter(
            Q(end_reason="signed") | Q(ended_at__isnull=True)
        )
        assignment = readers.select_related("radiologist__user").order_by("-assigned_at").first()
        final = (
            StudyEvent.objects.filter(study=study, to_status=StudyStatus.FINAL)
            .order_by("-at")
            .first()
        )
        if assignment is None or final is None:
            continue
        # Seeded per study: a study's demo report is the same on every machine.
        rng = random.Random(f"{SEED}-{study.site.code}-{study.accession_number}")  # noqa: S311
        sections = _report_sections(study, rng)
        _record_signed(
            study=study, radiologist=assignment.radiologist, sections=sections, at=final.at
        )
        count += 1
    return count


def _record_signed(
    *, study: Study, radiologist: Radiologist, sections: list[content.Section], at: dt.datetime
) -> ReportVersion:
    """The demo's history: a report as it was signed then (not delivered again now)."""
    return ReportVersion.objects.create(
        study=study,
        number=1,
        kind=VersionKind.FINAL,
        sections=sections,
        signed_by=radiologist,
        signer_name=radiologist.display_name,
        signer_hpr=radiologist.hpr_number,
        signed_at=at,
        password_confirmed=True,
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
            critical_category="",
        ),
    )
