"""The console's surge API: the running and recent surges, start one, end one.

Coordinators only: the selector and the services refuse anyone else (403, by the one exception
handler, worklists.api_errors)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from worklists.actors import Actor
from worklists.console.surges import console_surges
from worklists.models import Surge, Worklist
from worklists.serializers import AwareDateTimeField
from worklists.services.surges import surge_end, surge_require_coordinator, surge_start


class SurgeOutSerializer(serializers.ModelSerializer[Surge]):
    worklist = serializers.CharField(
        source="worklist.code", allow_null=True, default=None, help_text="Null: every worklist."
    )
    tier_label = serializers.CharField(source="get_tier_display")
    started_by = serializers.CharField(source="started_by.get_username")
    ended_by = serializers.CharField(source="ended_by.get_username", allow_null=True, default=None)
    running = serializers.SerializerMethodField(
        help_text="Widening now: not ended, and its end time is ahead."
    )

    class Meta:
        model = Surge
        fields = [
            "id",
            "worklist",
            "tier",
            "tier_label",
            "reason",
            "started_by",
            "started_at",
            "ends_at",
            "ended_at",
            "ended_by",
            "end_reason",
            "running",
        ]

    def get_running(self, obj: Surge) -> bool:
        return obj.ended_at is None and obj.ends_at > self.context["now"]


class SurgesOutSerializer(serializers.Serializer):
    running = SurgeOutSerializer(many=True, help_text="The first to end first.")
    recent = SurgeOutSerializer(many=True, help_text="Ended in the last 12 hours, latest first.")


class SurgeInSerializer(serializers.Serializer):
    worklist = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Worklist.objects.all(),
        required=False,
        allow_null=True,
        help_text="The worklist's code; omitted or null: every worklist.",
    )
    tier = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="1: backup readers too; 2: every competent reader on shift; omitted or null: "
        "the next tier above the surges running for it.",
    )
    reason = serializers.CharField(
        allow_blank=True, trim_whitespace=False, max_length=300, help_text="Required: why."
    )
    ends_at = AwareDateTimeField(help_text="When it stops widening (with UTC offset).")


def _shape(surge: Surge) -> Any:
    return SurgeOutSerializer(surge, context={"now": timezone.now()}).data


class ConsoleSurgesApi(APIView):
    @extend_schema(
        operation_id="v1_console_surges",
        responses=SurgesOutSerializer,
        description="The surges running now and those ended in the last 12 hours. "
        "Coordinators only.",
    )
    def get(self, request: Request) -> Response:
        now = timezone.now()
        surges = console_surges(user=request.user, now=now)
        context = {"now": now}
        return Response(
            {
                "running": SurgeOutSerializer(surges.running, many=True, context=context).data,
                "recent": SurgeOutSerializer(surges.recent, many=True, context=context).data,
            }
        )

    @extend_schema(
        operation_id="v1_console_surge_start",
        request=SurgeInSerializer,
        responses={201: SurgeOutSerializer},
        description="Start a surge: until ends_at, the worklist's unread studies (every "
        "worklist's) may be read by the readers of the tier given, whatever their own "
        "escalation tier; a surge running for the same worklist is replaced. Needs a reason "
        "and an end time in the future, at most CONSOLE_SURGE_MAX_HOURS ahead (400 "
        "otherwise). Coordinators only (403).",
    )
    def post(self, request: Request) -> Response:
        # The role first: to anyone else the body's errors are nothing to say
        surge_require_coordinator(Actor.for_user(request.user))
        params = SurgeInSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        worklist = data.get("worklist")
        surge = surge_start(
            actor=Actor.for_user(request.user),
            worklist_id=worklist.id if worklist is not None else None,
            tier=data.get("tier"),
            reason=data["reason"],
            ends_at=data["ends_at"],
        )
        return Response(_shape(surge), status=status.HTTP_201_CREATED)


class ConsoleSurgeEndApi(APIView):
    @extend_schema(
        operation_id="v1_console_surge_end",
        request=None,
        responses={200: SurgeOutSerializer},
        description="End a surge now: the worklist's studies are routed at their own tier "
        "again. 409 if it has ended already. Coordinators only (403).",
    )
    def post(self, request: Request, surge_id: int) -> Response:
        surge = surge_end(actor=Actor.for_user(request.user), surge_id=surge_id)
        return Response(_shape(surge))
