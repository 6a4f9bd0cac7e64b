"""The console's dead-lettered deliveries over REST: the list with each one's last error, and
the re-send. Coordinators only (the services refuse anyone else: 403); a message of a study
outside the caller's scope is not found (404); one not dead-lettered is a conflict (409)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hl7_interface.dead_letters import dead_letter_resend, dead_letters
from hl7_interface.models import OutboundMessage
from worklists.models import AuditEvent
from worklists.services.audit import AccessContext, audit_study_reads

LISTED = 200


class OutboundDeliveryOutSerializer(serializers.ModelSerializer[OutboundMessage]):
    study_id = serializers.IntegerField()
    accession_number = serializers.CharField(source="study.accession_number")
    site = serializers.CharField(source="site.code")

    class Meta:
        model = OutboundMessage
        fields = (
            "id",
            "study_id",
            "accession_number",
            "site",
            "kind",
            "result_status",
            "status",
            "attempts",
            "last_error",
            "last_attempt_at",
            "ack_code",
        )


class DeadLettersOutSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="All dead-lettered deliveries in your scope.")
    messages = OutboundDeliveryOutSerializer(many=True, help_text="The latest failures first.")


class DeadLettersApi(APIView):
    @extend_schema(
        operation_id="v1_deliveries_dead",
        responses=DeadLettersOutSerializer,
        description="Deliveries to a site's RIS that failed every attempt (dead-lettered), the "
        "latest failure first, with the RIS's last error. Coordinators only.",
    )
    def get(self, request: Request) -> Response:
        found = dead_letters(user=request.user, limit=LISTED)
        audit_study_reads(
            context=AccessContext.from_request(request, channel="api"),
            studies=[m.study for m in found.messages],
            action=AuditEvent.Action.STUDY_LIST,
        )
        return Response(DeadLettersOutSerializer(found).data)


class DeliveryResendApi(APIView):
    @extend_schema(
        operation_id="v1_delivery_resend",
        request=None,
        responses={200: OutboundDeliveryOutSerializer},
        description="Send a dead-lettered delivery again from a fresh set of attempts; its "
        "study's dead-letter alert closes once none of its deliveries is dead. 409 if it is "
        "not dead-lettered (waiting, or delivered). Coordinators only.",
    )
    def post(self, request: Request, message_id: int) -> Response:
        message = dead_letter_resend(message_id=message_id, user=request.user)
        audit_study_reads(  # the answer names the study (accession number, site)
            context=AccessContext.from_request(request, channel="api"),
            studies=[message.study],
            action=AuditEvent.Action.STUDY_LIST,
        )
        return Response(OutboundDeliveryOutSerializer(message).data)
