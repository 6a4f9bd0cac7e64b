"""Reference data: brought back to its demo state on every run."""

from __future__ import annotations

from decimal import Decimal

from worklists.demo.data import PRIORITY_ORDER, RULES, SITES, SUBSPECIALTIES
from worklists.models import ClassificationRule, DeadlineContract, Site, Worklist


def ensure_sites() -> dict[str, Site]:
    sites: dict[str, Site] = {}
    for spec in SITES:
        site, _ = Site.objects.update_or_create(
            code=spec.code,
            defaults={
                "name": spec.name,
                "kind": spec.kind,
                "time_zone": "Europe/Oslo",
                "hl7_sending_facility": spec.facility,
                "dicom_ae_title": f"{spec.facility}_PACS"[:16],
                "viewer_url_template": (
                    f"https://pacs.{spec.code}.example/viewer"
                    "?StudyInstanceUIDs={study_instance_uid}"
                ),
                "is_active": True,
            },
        )
        for priority, minutes in zip(PRIORITY_ORDER, spec.turnaround, strict=True):
            DeadlineContract.objects.update_or_create(
                site=site, priority=priority, defaults={"turnaround_minutes": minutes}
            )
        sites[spec.code] = site
    return sites


def ensure_subspecialties() -> dict[str, Worklist]:
    result = {"general": Worklist.objects.get(is_general=True)}
    for code, name, order in SUBSPECIALTIES:
        result[code], _ = Worklist.objects.update_or_create(
            code=code, defaults={"name": name, "display_order": order}
        )
    return result


def ensure_rules(subspecialties: dict[str, Worklist]) -> None:
    for number, spec in enumerate(RULES, start=1):
        ClassificationRule.objects.update_or_create(
            name=spec.name,
            defaults={
                "position": number * 10,
                "is_active": True,
                "worklist": subspecialties[spec.worklist],
                "work_units": Decimal(spec.work_units),
                "modality": spec.modality,
                "description_pattern": spec.description_pattern,
                "max_age_years": spec.max_age_years,
            },
        )
