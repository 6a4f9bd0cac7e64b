"""Delivering the outbox to each site's RIS over MLLP, with retries held in the database.

A delivery is claimed in a short transaction (``SKIP LOCKED``: drainers never wait for each
other), sent with no transaction or lock open, and its outcome recorded by compare-and-set on the
attempt number, so a claim that outlived its lease cannot overwrite a newer attempt. The claim
itself moves ``next_attempt_at`` forward by a lease: a worker that dies mid-send leaves a row that
is simply due again later. Per study, rows go out in the order they were written: a correction
is never sent while the final it corrects is undelivered.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import zoneinfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hl7_interface.claims import Claim, outbox_claim, retry_delay
from hl7_interface.codec import Hl7Error, parse
from hl7_interface.models import (
    Charset,
    OutboundKind,
    OutboundMessage,
    OutboundStatus,
    SiteHl7Config,
)
from hl7_interface.ris_messages import Destination, OrderData, PatientData, order_return, oru_r01
from hl7_interface.sending import Outcome, Prepared, send_all
from hl7_interface.services import identity
from worklists.models import InboundMessage, PatientIdentifier, Study
from worklists.services.alerts import alert_raise

logger = logging.getLogger(__name__)

DEAD_LETTER_ALERT = "hl7.dead_letter"


def _patient_data(study: Study) -> PatientData:
    """The patient as the receiving site knows them: its own record of the demographics, and
    the national numbers with its own record numbers (never another hospital's)."""
    patient = study.patient
    own = {PatientIdentifier.NATIONAL_AUTHORITY, study.site.code}
    identifiers = tuple(
        (i.kind, i.value)
        for i in sorted(patient.identifiers.all(), key=lambda i: (i.kind, i.id))
        if i.authority in own
    )
    shown = study.shown_patient
    return PatientData(
        identifiers=identifiers,
        family_name=shown.family_name,
        given_name=shown.given_name,
        birth_date=shown.birth_date,
        sex=shown.sex,
    )


def _order_numbers(raw: bytes | None) -> tuple[str, str]:
    """Placer and filler order numbers read from the study's order message (ORC-2/ORC-3, else
    OBR-2/OBR-3), for a study ordered before they were kept on the study itself."""
    if raw is None:
        return "", ""
    try:
        message = parse(raw, default_charset="8859/1")
    except Hl7Error:
        return "", ""
    placer = filler = ""
    for orc in message.all("ORC"):
        placer = placer or orc.component(2)
        filler = filler or orc.component(3)
    obr = message.first("OBR")
    if obr is not None:
        placer = placer or obr.component(2)
        filler = filler or obr.component(3)
    return placer, filler


@dataclasses.dataclass(slots=True)
class _Batch:
    """Everything needed to build a batch of claimed messages, loaded in a few queries."""

    rows: dict[int, OutboundMessage]
    studies: dict[int, Study]
    configs: dict[int, SiteHl7Config]
    # study id -> the latest applied HL7 order message, for studies without their own numbers
    orders: dict[int, bytes]

    @classmethod
    def load(cls, claims: list[Claim]) -> _Batch:
        rows = OutboundMessage.objects.in_bulk([c.id for c in claims])
        study_ids = {c.study_id for c in claims}
        studies = (
            Study.objects.select_related("site", "patient")
            .prefetch_related("patient__identifiers")
            .in_bulk(study_ids)
        )
        configs = {
            c.site_id: c
            for c in SiteHl7Config.objects.filter(site_id__in={c.site_id for c in claims})
        }
        orders: dict[int, bytes] = {}
        unnumbered = [
            s.id for s in studies.values() if not (s.placer_order_number or s.filler_order_number)
        ]
        applied = (
            InboundMessage.objects.filter(
                study_id__in=unnumbered,
                channel=InboundMessage.Channel.HL7,
                status=InboundMessage.Status.APPLIED,
            )
            .order_by("id")
            .values_list("study_id", "raw")
        )
        for study_id, raw in applied:
            orders[study_id] = bytes(raw)  # later rows win: the latest order message
        return cls(rows=rows, studies=studies, configs=configs, orders=orders)


def _prepare(claim: Claim, batch: _Batch, *, at: dt.datetime) -> Prepared:
    row = batch.rows[claim.id]
    study = batch.studies[row.study_id]
    config = batch.configs.get(study.site_id)
    destination = Destination(
        receiving_application=config.receiving_application if config else "",
        receiving_facility=(config.receiving_facility if config else "")
        or study.site.hl7_sending_facility,
        charset=config.default_charset if config else Charset.UTF8,
        zone=zoneinfo.ZoneInfo(study.site.time_zone),
        site_authority=study.site.hl7_sending_facility or study.site.code,
    )
    placer, filler = study.placer_order_number, study.filler_order_number
    if not (placer or filler):
        placer, filler = _order_numbers(batch.orders.get(study.id))
    order = OrderData(
        # The accession number stands in for a number the RIS never sent.
        placer_order_number=placer or study.accession_number,
        filler_order_number=filler or study.accession_number,
        accession_number=study.accession_number,
        procedure_code=study.procedure_code,
        procedure_text=study.procedure_text,
        procedure_coding_system=study.procedure_coding_system,
        modality=study.modality,
        observed_at=study.ready_at or study.ordered_at,
        study_instance_uid=study.study_instance_uid,
    )
    # One control id per row: a RIS that saw an earlier attempt recognises the repeat.
    control_id = f"TR{row.id}"
    content = row.content
    assert isinstance(content, dict)
    if row.kind == OutboundKind.REPORT:
        payload = oru_r01(
            identity=identity(),
            destination=destination,
            patient=_patient_data(study),
            order=order,
            report=content,
            control_id=control_id,
            at=at,
        )
    else:
        payload = order_return(
            identity=identity(),
            destination=destination,
            patient=_patient_data(study),
            order=order,
            rejection=content,
            control_id=control_id,
            at=at,
        )
    host = config.ris_host if config else ""
    port = config.ris_port if config else None
    return Prepared(claim=claim, host=host, port=port, control_id=control_id, payload=payload)


def _record(claim: Claim, outcome: Outcome) -> str:
    """Store one attempt's outcome; returns the row's new status."""
    now = timezone.now()
    current = OutboundMessage.objects.filter(
        id=claim.id, attempts=claim.attempt, status=OutboundStatus.PENDING
    )
    ack = {"ack_code": outcome.ack_code, "ack_message": outcome.ack_message}
    if outcome.delivered:
        current.update(
            status=OutboundStatus.DELIVERED,
            delivered_at=now,
            next_attempt_at=None,
            last_error="",
            **ack,
        )
        return OutboundStatus.DELIVERED
    if claim.attempt >= settings.HL7_MAX_ATTEMPTS:
        with transaction.atomic():
            updated = current.update(
                status=OutboundStatus.DEAD, next_attempt_at=None, last_error=outcome.error, **ack
            )
            if updated:
                alert_raise(
                    kind=DEAD_LETTER_ALERT,
                    study_id=claim.study_id,
                    site_id=claim.site_id,
                    message=f"Result delivery to the site's RIS failed {claim.attempt} times: "
                    f"{outcome.error}",
                    data={"outbound_message_id": claim.id},
                    at=now,
                )
        return OutboundStatus.DEAD
    current.update(
        next_attempt_at=now + retry_delay(claim.attempt), last_error=outcome.error, **ack
    )
    return OutboundStatus.PENDING


def deliver_claims(claims: list[Claim]) -> dict[int, str]:
    """Build, send and record the claimed deliveries; returns each row's new status."""
    now = timezone.now()
    prepared: list[Prepared] = []
    statuses: dict[int, str] = {}
    batch = _Batch.load(claims)
    for claim in claims:
        try:
            prepared.append(_prepare(claim, batch, at=now))
        except Exception as exc:
            logger.exception("outbound message %s could not be built", claim.id)
            statuses[claim.id] = _record(claim, Outcome(False, f"cannot build: {exc!r}"))
    results = send_all(prepared)
    delivered = [(claim, outcome) for claim, outcome in results if outcome.delivered]
    statuses.update(_record_delivered(delivered))
    for claim, outcome in results:
        if not outcome.delivered:
            statuses[claim.id] = _record(claim, outcome)
    return statuses


def _record_delivered(results: list[tuple[Claim, Outcome]]) -> dict[int, str]:
    """Mark a batch delivered, each row with the ACK its RIS sent, in one transaction (one
    commit for the batch). Compare-and-set on the attempt, as in ``_record``."""
    if not results:
        return {}
    now = timezone.now()
    with transaction.atomic():
        for claim, outcome in results:
            OutboundMessage.objects.filter(
                id=claim.id, attempts=claim.attempt, status=OutboundStatus.PENDING
            ).update(
                status=OutboundStatus.DELIVERED,
                delivered_at=now,
                next_attempt_at=None,
                last_error="",
                ack_code=outcome.ack_code,
                ack_message=outcome.ack_message,
            )
    return {claim.id: OutboundStatus.DELIVERED for claim, _outcome in results}


def outbox_deliver(*, message_id: int) -> dict[int, str]:
    """Deliver one row now if it is due, then whatever its study owes next."""
    statuses: dict[int, str] = {}
    claims = outbox_claim(limit=1, ids=[message_id])
    while claims:
        statuses.update(deliver_claims(claims))
        if statuses.get(claims[0].id) != OutboundStatus.DELIVERED:
            break
        claims = outbox_claim(limit=1, study_id=claims[0].study_id)
    return statuses


def outbox_drain(*, batch: int | None = None, rounds: int = 50) -> dict[int, str]:
    """Deliver everything due, a batch at a time (a later row of a study follows in the next)."""
    statuses: dict[int, str] = {}
    for _round in range(rounds):
        claims = outbox_claim(limit=batch or settings.HL7_DRAIN_BATCH)
        if not claims:
            break
        statuses.update(deliver_claims(claims))
    return statuses
