"""The console's REST API: backlog, load board and alerts (read), acknowledge and snooze.

Coordinators only: the selectors and services refuse anyone else (403).
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from worklists.console import selectors
from worklists.console.candidates import study_candidates
from worklists.console.serializers import (
    AlertOutSerializer,
    AlertsOutSerializer,
    BacklogOutSerializer,
    CandidatesOutSerializer,
    ReaderLoadOutSerializer,
    SnoozeInSerializer,
)
from worklists.models import AuditEvent, Study
from worklists.services.alerts import alert_acknowledge, alert_snooze
from worklists.services.audit import AccessContext, audit_study_reads


def _audit(request: Request, studies: list[Study]) -> None:
    audit_study_reads(
        context=AccessContext.from_request(request, channel="api"),
        studies=studies,
        action=AuditEvent.Action.STUDY_LIST,
    )


class ConsoleBacklogApi(APIView):
    @extend_schema(
        operation_id="v1_console_backlog",
        responses=BacklogOutSerializer,
        description="Unread studies per worklist and per site (count, work units, oldest, at "
        "risk, overdue), and the studies at risk, least time left first. Coordinators only.",
    )
    def get(self, request: Request) -> Response:
        now = timezone.now()
        summary = selectors.backlog(user=request.user, now=now)
        at_risk = selectors.studies_at_risk(user=request.user, now=now)
        _audit(request, [row.study for row in at_risk])
        return Response(
            BacklogOutSerializer(
                {
                    "total": summary.total,
                    "worklists": summary.worklists,
                    "sites": summary.sites,
                    "at_risk": at_risk,
                }
            ).data
        )


class ConsoleLoadApi(APIView):
    @extend_schema(
        operation_id="v1_console_load",
        responses=ReaderLoadOutSerializer(many=True),
        description="Readers on shift now and next, and readers off shift who still hold "
        "studies: queue, work units done this shift against target, the study open, idle "
        "since, competences and sites. Coordinators only.",
    )
    def get(self, request: Request) -> Response:
        board = selectors.load_board(user=request.user)
        _audit(request, [r.open_study for r in board if r.open_study is not None])
        return Response(ReaderLoadOutSerializer(board, many=True).data)


class ConsoleAlertsApi(APIView):
    @extend_schema(
        operation_id="v1_console_alerts",
        responses=AlertsOutSerializer,
        description="Open alerts, one per study and kind, most urgent first; and the snoozed "
        "ones. Coordinators only.",
    )
    def get(self, request: Request) -> Response:
        now = timezone.now()
        open_ = selectors.open_alerts(user=request.user, now=now)
        snoozed = selectors.snoozed_alerts(user=request.user, now=now)
        _audit(request, [a.study for a in (*open_, *snoozed) if a.study is not None])
        return Response(AlertsOutSerializer({"open": open_, "snoozed": snoozed}).data)


class ConsoleAlertAcknowledgeApi(APIView):
    @extend_schema(
        operation_id="v1_console_alert_acknowledge",
        request=None,
        responses={200: AlertOutSerializer},
        description="Acknowledge an open alert: it closes (by you, now) and leaves every "
        "coordinator's list. 409 if it was already closed.",
    )
    def post(self, request: Request, alert_id: int) -> Response:
        # Refusals are domain errors, answered by the one exception handler (403, 404, 409).
        selectors.alert_get(user=request.user, alert_id=alert_id)
        alert = alert_acknowledge(alert_id=alert_id, user=request.user)
        return Response(AlertOutSerializer(alert).data)


class ConsoleAlertSnoozeApi(APIView):
    @extend_schema(
        operation_id="v1_console_alert_snooze",
        request=SnoozeInSerializer,
        responses={200: AlertOutSerializer},
        description="Take an open alert off every coordinator's list until a time; it comes "
        "back by itself then.",
    )
    def post(self, request: Request, alert_id: int) -> Response:
        params = SnoozeInSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        now = timezone.now()
        data = params.validated_data
        until = data.get("until") or now + dt.timedelta(minutes=data["minutes"])
        selectors.alert_get(user=request.user, alert_id=alert_id)
        alert = alert_snooze(alert_id=alert_id, user=request.user, until=until, now=now)
        return Response(AlertOutSerializer(alert).data)


class StudyCandidatesApi(APIView):
    @extend_schema(
        operation_id="v1_study_candidates",
        responses=CandidatesOutSerializer,
        description="Whom a coordinator may assign the study to: every active reader "
        "credentialed for its site, judged by the routing rules at the study's escalation tier "
        "(or a running surge's, if higher), with the load board's figures; eligible first, "
        "least loaded first, then the excluded "
        "with the rule that excludes them (choosing one is an override, recorded with the "
        "reason). Assign with POST /api/v1/studies/{id}/assign. Coordinators only.",
    )
    def get(self, request: Request, study_id: int) -> Response:
        chooser = study_candidates(user=request.user, study_id=study_id)
        audit_study_reads(
            context=AccessContext.from_request(request, channel="api"),
            studies=[chooser.study],
            action=AuditEvent.Action.STUDY_VIEW,
        )
        return Response(CandidatesOutSerializer(chooser).data)
