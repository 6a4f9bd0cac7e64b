"""REST API views: parse input, call one service or selector, shape output."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from teleradiology.client_address import client_address
from worklists import selectors
from worklists.access import (
    radiologist_of,
    studies_of_sites,
    visible_site_ids,
)
from worklists.actors import Actor
from worklists.api_errors import invalid_data
from worklists.authentication import IsSiteIntegration
from worklists.errors import UnreadableBody
from worklists.models import (
    Assignment,
    AuditEvent,
    SiteApiToken,
    Study,
)
from worklists.serializers import (
    AiFindingInSerializer,
    AiFindingOutSerializer,
    AssignInSerializer,
    AssignmentOutSerializer,
    ClaimedOutSerializer,
    MeOutSerializer,
    OrderInSerializer,
    OrderOutSerializer,
    ReleaseInSerializer,
    RoutingDecisionOutSerializer,
    StudyDetailOutSerializer,
    StudyListFilterSerializer,
    StudyOutSerializer,
    StudyPageSerializer,
    StudyStatusOutSerializer,
    WorklistOutSerializer,
)
from worklists.services.ai_findings import FindingInput, ai_finding_report
from worklists.services.audit import (
    AccessContext,
    audit_refused_read,
    audit_study_reads,
    study_read,
)
from worklists.services.claims import (
    reading_order_next,
    study_claim,
    study_coordinator_assign,
    study_release,
)
from worklists.services.orders import OrderInput, OrderOutcome, order_receive


class OrdersApi(APIView):
    """A site's RIS creates, updates or cancels an order. Stored raw first, then applied
    (worklists.services.orders.order_receive); a refusal names the stored message."""

    permission_classes = [IsSiteIntegration]

    @extend_schema(
        request=OrderInSerializer, responses={200: OrderOutSerializer, 201: OrderOutSerializer}
    )
    def post(self, request: Request) -> Response:
        token = request.auth
        assert isinstance(token, SiteApiToken)

        def read() -> OrderInput:
            try:
                data = request.data
            except (ParseError, UnsupportedMediaType) as exc:
                raise UnreadableBody(exc) from exc
            serializer = OrderInSerializer(data=data)
            if not serializer.is_valid():
                raise invalid_data(serializer.errors)
            return serializer.to_order()

        receipt = order_receive(
            site_id=token.site.id,
            site_code=token.site.code,
            raw=request.body,
            peer=client_address(request) or "",
            content_type=request.content_type or "",
            read=read,
        )
        result = receipt.result
        study = result.study
        body = OrderOutSerializer(
            {
                "outcome": result.outcome.value,
                "changed_fields": result.changed_fields,
                "study_id": study.id,
                "status": study.status,
                "worklist": study.worklist.code if study.worklist_id and study.worklist else None,
                "deadline": study.deadline,
            }
        ).data
        created = result.outcome is OrderOutcome.CREATED
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class StudyListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="v1_studies_list",
        parameters=[StudyListFilterSerializer],
        responses=StudyPageSerializer,
        description="Studies the caller may see, ordered by deadline; follow `next` for more.",
    )
    def get(self, request: Request) -> Response:
        params = StudyListFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        filters = {
            k: v for k, v in params.validated_data.items() if k in selectors.STUDY_LIST_FILTERS
        }
        cursor = None
        if token := params.validated_data.get("cursor"):
            cursor = selectors.Cursor.decode(token)
        page_size = params.validated_data.get("page_size", settings.STUDIES_PAGE_SIZE)
        site_ids = visible_site_ids(request.user)
        rows, next_cursor = selectors.study_list(
            user=request.user,
            filters=filters,
            cursor=cursor,
            page_size=page_size,
            visible=studies_of_sites(site_ids),
        )
        selectors.with_visible_identifiers(rows, site_ids)
        audit_study_reads(
            context=AccessContext.from_request(request, channel="api"),
            studies=rows,
            action=AuditEvent.Action.STUDY_LIST,
        )
        next_url = None
        if next_cursor is not None:
            query = request.query_params.copy()
            query["cursor"] = next_cursor.encode()
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        context = {"now": timezone.now()}
        return Response(
            {"next": next_url, "results": StudyOutSerializer(rows, many=True, context=context).data}
        )


class StudyDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=StudyDetailOutSerializer)
    def get(self, request: Request, study_id: int) -> Response:
        site_ids = visible_site_ids(request.user)
        try:
            study = selectors.study_get(
                user=request.user, study_id=study_id, visible=studies_of_sites(site_ids)
            )
        except Study.DoesNotExist:
            audit_refused_read(
                context=AccessContext.from_request(request, channel="api"), study_id=study_id
            )
            return Response({"detail": "No such study."}, status=status.HTTP_404_NOT_FOUND)
        selectors.with_visible_identifiers([study], site_ids)
        audit_study_reads(
            context=AccessContext.from_request(request, channel="api"),
            studies=[study],
            action=AuditEvent.Action.STUDY_VIEW,
        )
        context = {"assignment": selectors.study_active_assignment(study=study)}
        return Response(StudyDetailOutSerializer(study, context=context).data)


class WorklistListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("site", str, description="Only this site's studies")],
        responses=WorklistOutSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        summaries = selectors.worklist_summaries(
            user=request.user, site_code=request.query_params.get("site", "")
        )
        return Response(WorklistOutSerializer(summaries, many=True).data)


class MeApi(APIView):
    """Who the caller is: what a client shows after signing in, and checks its token with.

    Only the authentication's own statements: the benchmark's floor for an authenticated call.
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeOutSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        name = user.get_full_name() if isinstance(user, AbstractUser) else ""
        body = {"id": user.pk, "username": user.get_username(), "name": name}
        return Response(MeOutSerializer(body).data)


# Routing: read next, claim, release, coordinator assignment, AI findings.


def _error(message: str, code: int, field: str = "non_field_errors") -> Response:
    return Response({"errors": {field: [message]}}, status=code)


def _not_found() -> Response:
    return Response({"detail": "No such study."}, status=status.HTTP_404_NOT_FOUND)


def reading_url(study_id: int) -> str:
    return reverse("reading", kwargs={"study_id": study_id})


class WorklistNextApi(APIView):
    """ "Read next": the server picks the best study this radiologist may read and claims it."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: ClaimedOutSerializer, 204: None})
    def post(self, request: Request) -> Response:
        radiologist = radiologist_of(request.user)
        if radiologist is None:
            return _error("only radiologists read studies", status.HTTP_403_FORBIDDEN)
        site_ids = visible_site_ids(request.user)
        answer = reading_order_next(
            user=request.user,
            radiologist_id=radiologist.id,
            site_ids=site_ids,
            actor=Actor.for_user(request.user),
        )
        if answer is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        task, claimed = answer.task, answer.claimed
        if task is not None:
            study_id = task.study.id
        else:
            assert claimed is not None  # an answer is a task or a claim
            study_id = claimed.study_id
        study = study_read(
            context=AccessContext.from_request(request, channel="api"),
            study_id=study_id,
            site_ids=site_ids,
            action=AuditEvent.Action.STUDY_VIEW,
        )
        if study is None:  # never: their credentials scope what read next gives
            raise Study.DoesNotExist(
                f"study {study_id} given by read next not visible to its reader"
            )
        body = _CLAIMED_OUT.to_representation(
            {
                "study": study,
                "bundled_study_ids": claimed.study_ids[1:] if claimed is not None else [],
                "reading_url": answer.url,
                "from_queue": claimed.from_queue if claimed is not None else True,
                "task": (
                    {
                        "kind": task.kind,
                        "id": task.id,
                        "label": task.label,
                        "deadline": task.deadline,
                    }
                    if task is not None
                    else None
                ),
            }
        )
        return Response(body)


# One instance for every answer: a serializer instance builds its fields (deep copies of the
# declared ones, nested serializers' too) on first use, which cost read next more than a round
# trip; to_representation keeps nothing of a call, so one instance serves every request (its
# deadline risk is judged at the moment of each answer: no "now" in its context).
_CLAIMED_OUT = ClaimedOutSerializer()


def _assignment_body(assignment: Assignment) -> dict[str, object]:
    return AssignmentOutSerializer(
        {
            "study_id": assignment.study_id,
            "radiologist_id": assignment.radiologist_id,
            "kind": assignment.kind,
            "assigned_at": assignment.assigned_at,
            "reason": assignment.reason,
        }
    ).data


class StudyClaimApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: AssignmentOutSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        radiologist = radiologist_of(request.user)
        if radiologist is None:
            return _error("only radiologists claim studies", status.HTTP_403_FORBIDDEN)
        if not selectors.study_visible(user=request.user, study_id=study_id):
            return _not_found()
        assignment = study_claim(
            study_id=study_id, radiologist_id=radiologist.id, actor=Actor.for_user(request.user)
        )
        return Response(_assignment_body(assignment))


class StudyReleaseApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=ReleaseInSerializer, responses={200: StudyStatusOutSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        radiologist = radiologist_of(request.user)
        if radiologist is None:
            return _error("only the radiologist holding a study releases it", 403)
        if not selectors.study_visible(user=request.user, study_id=study_id):
            return _not_found()
        params = ReleaseInSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        study = study_release(
            study_id=study_id,
            radiologist_id=radiologist.id,
            actor=Actor.for_user(request.user),
            reason=params.validated_data["reason"],
        )
        return Response(StudyStatusOutSerializer(study).data)


class StudyAssignApi(APIView):
    """Coordinators assign or reassign a study, always with a reason (the service checks the
    role: study_coordinator_assign)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=AssignInSerializer, responses={200: AssignmentOutSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        params = AssignInSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        assignment = study_coordinator_assign(
            study_id=study_id,
            radiologist_id=params.validated_data["radiologist_id"],
            actor=Actor.for_user(request.user),
            reason=params.validated_data["reason"],
        )
        return Response(_assignment_body(assignment))


class StudyRoutingApi(APIView):
    """Why a study went where it went: its routing decisions, newest first (coordinators)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=RoutingDecisionOutSerializer(many=True))
    def get(self, request: Request, study_id: int) -> Response:
        decisions = selectors.study_routing_decisions(
            user=request.user, study_id=study_id, limit=50
        )
        return Response(RoutingDecisionOutSerializer(decisions, many=True).data)


class StudyAiFindingsApi(APIView):
    """An AI service reports a finding, with the token of the study's site."""

    permission_classes = [IsSiteIntegration]

    @extend_schema(
        request=AiFindingInSerializer,
        responses={200: AiFindingOutSerializer, 201: AiFindingOutSerializer},
    )
    def post(self, request: Request, study_id: int) -> Response:
        token = request.auth
        assert isinstance(token, SiteApiToken)
        if not Study.objects.filter(id=study_id, site_id=token.site_id).exists():
            return _not_found()
        params = AiFindingInSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        finding, created = ai_finding_report(
            study_id=study_id,
            finding=FindingInput(
                code=data["code"],
                description=data["description"],
                confidence=data["confidence"],
                source=data["source"],
                external_id=data["external_id"],
                reported_at=data.get("reported_at") or timezone.now(),
            ),
            actor=Actor(user_id=None, label=f"ai:{data['source']}"[:150]),
        )
        return Response(
            AiFindingOutSerializer(finding).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
