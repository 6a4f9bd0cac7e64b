"""Dead-lettered deliveries on the coordinator's console: the list (with the last error) and the
re-send. A console panel registered in Hl7InterfaceConfig.ready (worklists.hooks); the re-send
posts to this app's own view (hl7_interface.views).

Coordinators only; the messages shown are those of studies in the coordinator's scope
(worklists.access.studies_visible_to), and showing them audits the studies as listed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from hl7_interface.delivery import DEAD_LETTER_ALERT
from hl7_interface.models import OutboundMessage, OutboundStatus
from hl7_interface.outbox import outbox_resend
from worklists import live
from worklists.access import AnyUser, studies_visible_to
from worklists.actors import Actor
from worklists.errors import Conflict, NotFound
from worklists.models import AuditEvent, CoordinatorAlert
from worklists.services.alerts import alert_resolve, require_coordinator
from worklists.services.audit import AccessContext, audit_study_reads

RESENT_EVENT = "delivery.resent"  # the live event: the study's deliveries changed
SHOWN = 20


class DeliveryNotFound(NotFound):
    """No such outbound message, or not of a study the coordinator may see."""


class DeliveryNotDead(Conflict):
    """Only a dead-lettered delivery is re-sent from the console (it is waiting or delivered)."""


@dataclass(frozen=True, slots=True)
class DeadLetters:
    messages: list[OutboundMessage]
    count: int


def dead_letters(*, user: AnyUser, limit: int = SHOWN) -> DeadLetters:
    """Dead-lettered deliveries of the coordinator's studies, the latest failure first."""
    require_coordinator(user)
    dead = OutboundMessage.objects.filter(
        status=OutboundStatus.DEAD, study__in=studies_visible_to(user)
    )
    shown = list(
        dead.select_related("study__site", "site")
        .defer("content", "ack_message")
        .order_by("-last_attempt_at", "-id")[:limit]
    )
    return DeadLetters(messages=shown, count=len(shown) if len(shown) < limit else dead.count())


def dead_letter_resend(*, message_id: int, user: AnyUser) -> OutboundMessage:
    """Send a dead-lettered delivery again from a fresh set of attempts (the outbox's worker
    sends it; the periodic drain if no worker is told). The dead-letter alert of its study
    closes, with who re-sent it, once none of the study's deliveries is dead any more; a new
    one is raised if the delivery dies again. The consoles hear of it after commit."""
    require_coordinator(user)
    actor = Actor.for_user(user)
    with transaction.atomic():
        message = (
            OutboundMessage.objects.select_for_update()
            .filter(id=message_id, study__in=studies_visible_to(user))
            .first()
        )
        if message is None:
            raise DeliveryNotFound(_("No such delivery."))
        if message.status != OutboundStatus.DEAD:
            raise DeliveryNotDead(
                _("This delivery is not dead-lettered: it is %(status)s.")
                % {"status": message.get_status_display().lower()}
            )
        resent = outbox_resend(message_id=message.id, actor=actor)
        still_dead = OutboundMessage.objects.filter(
            study_id=message.study_id, status=OutboundStatus.DEAD
        ).exists()
        if not still_dead:
            for alert_id in CoordinatorAlert.objects.filter(
                kind=DEAD_LETTER_ALERT, study_id=message.study_id, resolved_at__isnull=True
            ).values_list("id", flat=True):
                alert_resolve(
                    alert_id=alert_id,
                    actor=actor,
                    resolution=f"re-sent (outbound message {message.id}) by {actor.label}",
                )
        live.broadcast_after_commit(
            study_id=message.study_id, site_id=message.site_id, event=RESENT_EVENT
        )
    return resent


def dead_letters_panel(*, request: HttpRequest, now: dt.datetime) -> str:
    """The console's panel: the coordinator's dead letters with their last error and a re-send."""
    found = dead_letters(user=request.user)
    audit_study_reads(
        context=AccessContext.from_request(request, channel="web"),
        studies=[m.study for m in found.messages],
        action=AuditEvent.Action.STUDY_LIST,
    )
    return render_to_string(
        "hl7_interface/_dead_letters_panel.html",
        {"dead": found, "now": now},
        request=request,
    )
