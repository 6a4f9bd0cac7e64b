"""Peer-review API: parse input, call one service or selector, shape output.

Reviewers list and read the reviews assigned to them, coordinators every review in their
scope; reads are audited as study and report reads; a review outside the caller's sight is a
404, never a 403.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from quality import selectors
from quality.models import ReviewStatus
from quality.serializers import (
    CancelInSerializer,
    FiguresFilterSerializer,
    FiguresOutSerializer,
    ReassignInSerializer,
    ReviewDetailOutSerializer,
    ReviewerChoiceSerializer,
    ReviewOutSerializer,
    ScoreInSerializer,
)
from quality.services.errors import NotACoordinator, ReviewNotFound, ReviewStateConflict
from quality.services.reassignment import review_reassign
from quality.services.scoring import review_cancel, review_score
from reports.services.audit import audit_report_reads
from worklists.errors import InvalidInput
from worklists.models import AuditEvent, Worklist
from worklists.services.audit import AccessContext, audit_study_reads

LIST_LIMIT = 200


class ReviewsApi(APIView):
    """My review tasks (a coordinator: every review in scope), the nearest deadline first."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=ReviewStatus.values, description="Only these.")
        ],
        responses=ReviewOutSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        viewer = selectors.viewer_of(request.user)
        tasks = selectors.reviews_visible_to(viewer)
        wanted = request.query_params.get("status", "")
        if wanted:
            if wanted not in ReviewStatus.values:
                raise InvalidInput(
                    f"status must be one of {', '.join(ReviewStatus.values)}", field="status"
                )
            tasks = tasks.filter(status=wanted)
        shown = list(tasks.order_by("deadline", "id")[:LIST_LIMIT])
        audit_study_reads(
            context=AccessContext.from_request(request, channel="api"),
            studies=[task.study for task in shown],
            action=AuditEvent.Action.STUDY_LIST,
        )
        return Response(ReviewOutSerializer(shown, many=True, context={"viewer": viewer}).data)


class ReviewApi(APIView):
    """One review with the signed report under review (the author hidden when blinded)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ReviewDetailOutSerializer)
    def get(self, request: Request, review_id: int) -> Response:
        viewer = selectors.viewer_of(request.user)
        task = selectors.review_get(viewer=viewer, task_id=review_id)
        if task is None:
            raise ReviewNotFound("No such review.")
        context = AccessContext.from_request(request, channel="api")
        audit_study_reads(
            context=context, studies=[task.study], action=AuditEvent.Action.STUDY_VIEW
        )
        audit_report_reads(context=context, studies=[task.study])
        return Response(ReviewDetailOutSerializer(task, context={"viewer": viewer}).data)


class ReviewScoreApi(APIView):
    """Score the review assigned to me: RADPEER 1, 2a, 2b, 3a or 3b, with a comment for any
    discrepancy. 2b and 3b alert the coordinators and tell the author. Nothing goes to the RIS."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=ScoreInSerializer, responses={200: ReviewOutSerializer})
    def post(self, request: Request, review_id: int) -> Response:
        serializer = ScoreInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = review_score(
            task_id=review_id,
            user=request.user,
            score=serializer.validated_data["score"],
            comment=serializer.validated_data["comment"],
        )
        return _answer(request, task.id)


class ReviewCancelApi(APIView):
    """A coordinator withdraws an open review, with the reason (kept on its event)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=CancelInSerializer, responses={200: ReviewOutSerializer})
    def post(self, request: Request, review_id: int) -> Response:
        serializer = CancelInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = review_cancel(
            task_id=review_id, user=request.user, reason=serializer.validated_data["reason"]
        )
        return _answer(request, task.id)


class ReviewReviewersApi(APIView):
    """The reviewers a coordinator may reassign an open review to (routing's rule: never the
    author nor a reader whose read went into the final), fewest open reviews first, the present
    reviewer left out. 403: not a coordinator; 404: no such review in scope; 409: closed."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ReviewerChoiceSerializer(many=True))
    def get(self, request: Request, review_id: int) -> Response:
        viewer = selectors.viewer_of(request.user)
        if not viewer.coordinator:
            raise NotACoordinator("Only coordinators reassign reviews.")
        task = selectors.review_get(viewer=viewer, task_id=review_id)
        if task is None:
            raise ReviewNotFound("No such review.")
        if selectors.is_own_open_review(task, viewer):
            raise NotACoordinator("You hold this review: another coordinator reassigns it.")
        control = selectors.reassign_control(task, viewer, now=timezone.now())
        if control is None:
            raise ReviewStateConflict(f"This review is {task.status}: it cannot be reassigned.")
        return Response(ReviewerChoiceSerializer(control.choices, many=True).data)


class ReviewReassignApi(APIView):
    """A coordinator gives an open review to another reviewer, with a reason (kept on its
    event): one routing could choose (active, competent in the worklist, credentialed for the
    study's site today), never the author nor a reader whose read went into the final. 403:
    not a coordinator; 404: no such review in scope; 409: closed, or the reviewer not
    eligible."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=ReassignInSerializer, responses={200: ReviewOutSerializer})
    def post(self, request: Request, review_id: int) -> Response:
        serializer = ReassignInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = review_reassign(
            task_id=review_id,
            user=request.user,
            reviewer_id=serializer.validated_data["reviewer_id"],
            reason=serializer.validated_data["reason"],
        )
        return _answer(request, task.id)


def _answer(request: Request, task_id: int) -> Response:
    """A changed review as the caller may see it; its study's identifiers are a read, audited."""
    viewer = selectors.viewer_of(request.user)
    shown = selectors.review_get(viewer=viewer, task_id=task_id)
    if shown is None:  # never: the service just changed it for this caller
        raise ReviewNotFound("No such review.")
    audit_study_reads(
        context=AccessContext.from_request(request, channel="api"),
        studies=[shown.study],
        action=AuditEvent.Action.STUDY_LIST,
    )
    return Response(ReviewOutSerializer(shown, context={"viewer": viewer}).data)


def local_midnight(day: dt.date) -> dt.datetime:
    """The start of ``day`` on the platform's clock."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


class ReviewFiguresApi(APIView):
    """Peer-review scores per reader (the author of the reviewed report) and per worklist: a
    reader sees their own, a coordinator every reader in scope."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[FiguresFilterSerializer], responses=FiguresOutSerializer)
    def get(self, request: Request) -> Response:
        query = FiguresFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        worklist_id = None
        if code := data.get("worklist"):
            worklist_id = Worklist.objects.filter(code=code).values_list("id", flat=True).first()
            if worklist_id is None:
                raise InvalidInput("no worklist has this code", field="worklist")
        figures = selectors.review_figures(
            viewer=selectors.viewer_of(request.user),
            since=local_midnight(data["since"]) if "since" in data else None,
            until=local_midnight(data["until"]) if "until" in data else None,
            worklist_id=worklist_id,
        )
        return Response(FiguresOutSerializer(figures).data)
