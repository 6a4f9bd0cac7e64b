"""What double reading shares with the normal signing (reports.services.signing): the
structured result, and the arbitration's final report. Apart from double_reading.py, which
builds on the signing services, so that the signing can call these without a cycle."""

from __future__ import annotations

import dataclasses

from django.utils.translation import gettext as _

from reports.models import (
    AgreementRule,
    DoubleRead,
    DoubleReadStage,
    IndependentRead,
    ReportVersion,
)
from reports.services import content
from reports.services.errors import ReportInvalid
from worklists.actors import Actor
from worklists.models import Radiologist, Study
from worklists.services.transitions import record_event

SCORES = range(1, 6)

# The final report's section that names the double reading's readers and their results.
DOUBLE_READING_SECTION = "double_reading"


@dataclasses.dataclass(frozen=True, slots=True)
class ScreeningResult:
    """The Norwegian screening programme's result: interpretation score 1-5 per breast
    (1 normal ... 5 highly suspicious of malignancy) and the recall decision."""

    score_right: int
    score_left: int
    recall: bool

    def cleaned(self) -> ScreeningResult:
        for field in ("score_right", "score_left"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value not in SCORES:
                raise ReportInvalid(_("a score is a whole number from 1 to 5"), field=field)
        if not isinstance(self.recall, bool):
            raise ReportInvalid(_("say whether the woman is recalled"), field="recall")
        return self


def results_agree(rule: str, first: ScreeningResult, second: ScreeningResult) -> bool:
    """Whether two independent results agree by ``rule`` (AgreementRule), so that they end
    with a joint final; if not, the study goes to arbitration (consensus)."""
    if rule == AgreementRule.ANY_SCORE_2:
        # The Norwegian programme: any score of 2 or more (by either reader, either breast)
        # goes to consensus; so does a recall however scored. Only two normal reads agree.
        return all(
            r.score_right == 1 and r.score_left == 1 and not r.recall for r in (first, second)
        )
    if rule == AgreementRule.RECALL_AND_SCORES:
        return first == second
    return first.recall == second.recall


def joint_result(first: ScreeningResult, second: ScreeningResult) -> ScreeningResult:
    """The joint final's result of two agreeing reads: the higher score per breast (the
    rules let agreeing reads differ in their scores: the recall rule), recalled if either
    recalls."""
    return ScreeningResult(
        score_right=max(first.score_right, second.score_right),
        score_left=max(first.score_left, second.score_left),
        recall=first.recall or second.recall,
    )


def read_result(read: IndependentRead) -> ScreeningResult:
    return ScreeningResult(
        score_right=read.score_right, score_left=read.score_left, recall=read.recall
    )


def result_text(result: ScreeningResult) -> str:
    """The result as the report states it (report text to the RIS: English, as the rest of
    the delivered report's fixed text)."""
    recall = "recall" if result.recall else "no recall"
    return f"score right {result.score_right}, left {result.score_left}, {recall}"


def arbitration_sections(
    *, case: DoubleRead, sections: list[content.Section], arbitrator_name: str
) -> list[content.Section]:
    """The arbitrator's final report: their text, then a section naming the two readers, their
    results, and the arbitration."""
    lines = [
        f"Read independently by {r.signer_name} ({r.signed_at:%d.%m.%Y %H:%M} UTC): "
        f"{result_text(read_result(r))}."
        for r in case.reads.order_by("number")
    ]
    lines.append(f"The reads disagreed; arbitrated by {arbitrator_name}.")
    kept = [s for s in sections if s["key"] != DOUBLE_READING_SECTION]
    return [
        *kept,
        {"key": DOUBLE_READING_SECTION, "title": "Double reading", "text": "\n".join(lines)},
    ]


def arbitration_signed_locked(
    *, study: Study, version: ReportVersion, radiologist: Radiologist, actor: Actor
) -> DoubleRead | None:
    """The arbitrator signed the final report (reports.services.signing, in its transaction,
    the study locked): the double reading is over. None: the study was not in arbitration."""
    case = (
        DoubleRead.objects.select_for_update()
        .filter(study=study, stage=DoubleReadStage.ARBITRATION)
        .first()
    )
    if case is None:
        return None
    case.stage = DoubleReadStage.ARBITRATED
    case.completed_at = version.signed_at
    case.final_version = version
    case.arbitrator = radiologist
    case.save(update_fields=["stage", "completed_at", "final_version", "arbitrator"])
    record_event(
        study=study,
        actor=actor,
        at=version.signed_at,
        reason="double reading: arbitration signed as the final report",
        data={
            "double_reading": DoubleReadStage.ARBITRATED,
            "radiologist_id": radiologist.id,
            "report_version_id": version.id,
        },
    )
    return case
