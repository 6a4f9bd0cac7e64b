"""GET /api/v1/console/outlook: the capacity outlook (docs/capacity-outlook.md). Coordinators
only: the selector refuses anyone else (403 through the one exception handler)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from worklists.console.outlook import OUTLOOK_HOURS, capacity_outlook


class OutlookInSerializer(serializers.Serializer):
    hours = serializers.ChoiceField(
        choices=OUTLOOK_HOURS, default=24, help_text="24 (the next day) or 168 (the next week)."
    )


class OutlookHourOutSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField(help_text="In the deployment's time zone.")
    capacity = serializers.FloatField(help_text="Work units the roster can read in the hour.")
    inflow = serializers.FloatField(help_text="Work units expected to arrive in the hour.")
    waiting_at_start = serializers.FloatField()
    done = serializers.FloatField()
    waiting_at_end = serializers.FloatField()
    is_short = serializers.BooleanField(help_text="Work is left waiting at the hour's end.")


class OutlookWorklistOutSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    backlog = serializers.FloatField(help_text="Work units unread now.")
    short_hours = serializers.IntegerField()
    first_short_at = serializers.DateTimeField(allow_null=True)
    hours = OutlookHourOutSerializer(many=True)


class OutlookOutSerializer(serializers.Serializer):
    now = serializers.DateTimeField()
    zone = serializers.CharField()
    history_weeks = serializers.IntegerField(
        help_text="The expected inflow is the mean of the same weekday and hour over this many "
        "weeks."
    )
    worklists = OutlookWorklistOutSerializer(many=True)


class ConsoleOutlookApi(APIView):
    @extend_schema(
        operation_id="v1_console_outlook",
        parameters=[OutlookInSerializer],
        responses=OutlookOutSerializer,
        description="For the next 24 hours or 7 days, per worklist and hour: the reading "
        "capacity on the roster (work units per hour from shift targets), the expected inflow "
        "(the same weekday and hour over the last weeks), and the backlog carried hour to hour; "
        "short hours leave work waiting. Coordinators only.",
    )
    def get(self, request: Request) -> Response:
        params = OutlookInSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        view = capacity_outlook(user=request.user, hours=int(params.validated_data["hours"]))
        return Response(OutlookOutSerializer(view).data)
