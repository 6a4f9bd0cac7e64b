"""Report API: parse input, call one service or selector, shape output.

Only the radiologist who holds a study writes its report; anyone who may see the study (a
coordinator, a site user, a credentialed reader) may read it, and every read is audited.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports import double_reading_selectors as dr_selectors
from reports import selectors
from reports.serializers import (
    AddendumInSerializer,
    CommunicationInSerializer,
    DraftInSerializer,
    DraftOutSerializer,
    OptionalDraftInSerializer,
    RejectInSerializer,
    RejectionCountOutSerializer,
    RejectionFilterSerializer,
    RejectionOutSerializer,
    ReportOutSerializer,
    SignInSerializer,
    VersionCreatedSerializer,
    communication_input,
)
from reports.services.audit import audit_report_reads
from reports.services.critical import critical_communication_record
from reports.services.drafts import report_draft_save
from reports.services.rejections import referral_reject
from reports.services.signing import (
    report_amend,
    report_issue_preliminary,
    report_sign,
)
from worklists import selectors as study_selectors
from worklists.access import studies_visible_to
from worklists.models import Study
from worklists.services.audit import AccessContext, audit_refused_read

NOT_FOUND = Response({"detail": "No such study."}, status=status.HTTP_404_NOT_FOUND)


def visible_study(request: Request, study_id: int) -> Study | None:
    try:
        return study_selectors.study_get(user=request.user, study_id=study_id)
    except Study.DoesNotExist:
        audit_refused_read(
            context=AccessContext.from_request(request, channel="api"), study_id=study_id
        )
        return None


def is_visible(request: Request, study_id: int) -> bool:
    """Writes only need to know the caller may see the study (else 404, never 403)."""
    return studies_visible_to(request.user).filter(id=study_id).exists()


def report_context(request: Request, state: selectors.ReportState) -> dict[str, Any]:
    """The serializer context of a report state for this caller; every report state the API
    returns is shaped with it."""
    study = state.study
    return {
        # Whether the caller reads an unsigned draft's text (hidden unless this says so).
        # While a study is double read a draft is one read in the writing: blind to the other
        # readers (reports.double_reading_selectors.draft_blinded).
        "draft_text": selectors.may_read_drafts(user=request.user)
        and not dr_selectors.draft_blinded(study=study, draft=state.draft, user=request.user),
        "may_write": selectors.may_write(study=study, user=request.user),
        "starting_sections": []
        if state.draft or state.versions
        else selectors.starting_sections(study=study),
    }


class ReportApi(APIView):
    """The study's report: its draft and every version. PUT saves the draft (autosave)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ReportOutSerializer)
    def get(self, request: Request, study_id: int) -> Response:
        study = visible_study(request, study_id)
        if study is None:
            return NOT_FOUND
        state = selectors.report_state(study=study)
        audit_report_reads(
            context=AccessContext.from_request(request, channel="api"), studies=[study]
        )
        return Response(ReportOutSerializer(state, context=report_context(request, state)).data)

    @extend_schema(request=DraftInSerializer, responses={200: DraftOutSerializer})
    def put(self, request: Request, study_id: int) -> Response:
        if not is_visible(request, study_id):
            return NOT_FOUND
        serializer = DraftInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        draft = report_draft_save(
            study_id=study_id,
            user=request.user,  # type: ignore[arg-type]
            sections=[dict(s) for s in serializer.validated_data["sections"]],
            base_revision=serializer.validated_data["revision"],
        )
        # The holder gets back exactly the sections just sent (the save replaces them all).
        return Response(DraftOutSerializer(draft, context={"draft_text": True}).data)


class PreliminaryApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=OptionalDraftInSerializer, responses={201: VersionCreatedSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        if not is_visible(request, study_id):
            return NOT_FOUND
        serializer = OptionalDraftInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = report_issue_preliminary(
            study_id=study_id,
            user=request.user,  # type: ignore[arg-type]
            draft=serializer.draft_input(),
        )
        return Response(VersionCreatedSerializer(version).data, status=status.HTTP_201_CREATED)


class SignApi(APIView):
    """Sign the final report; the password is re-entered. A wrong one signs nothing (403)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=SignInSerializer, responses={201: VersionCreatedSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        if not is_visible(request, study_id):
            return NOT_FOUND
        serializer = SignInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        version = report_sign(
            study_id=study_id,
            user=request.user,  # type: ignore[arg-type]
            password=data["password"],
            draft=serializer.draft_input(),
            critical_category=data["critical_category"],
            communication=communication_input(data["communication"])
            if "communication" in data
            else None,
        )
        return Response(VersionCreatedSerializer(version).data, status=status.HTTP_201_CREATED)


class AddendaApi(APIView):
    """An addendum or a correction of a final report: a new signed version, delivered as C."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=AddendumInSerializer, responses={201: VersionCreatedSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        if not is_visible(request, study_id):
            return NOT_FOUND
        serializer = AddendumInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        version = report_amend(
            study_id=study_id,
            user=request.user,  # type: ignore[arg-type]
            password=data["password"],
            kind=data["kind"],
            reason=data["reason"],
            addendum_text=data["text"],
            sections=[dict(s) for s in data["sections"]] if "sections" in data else None,
            critical_category=data["critical_category"],
            communication=communication_input(data["communication"])
            if "communication" in data
            else None,
        )
        return Response(VersionCreatedSerializer(version).data, status=status.HTTP_201_CREATED)


class RejectApi(APIView):
    """Return the referral with a coded reason; the site is told (ORC-1 OC)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=RejectInSerializer, responses={201: RejectionOutSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        if not is_visible(request, study_id):
            return NOT_FOUND
        serializer = RejectInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            rejection = referral_reject(
                study_id=study_id,
                user=request.user,  # type: ignore[arg-type]
                reason=serializer.validated_data["reason"],
                comment=serializer.validated_data["comment"],
            )
        except IntegrityError:
            # Two returns of one referral racing: the first one stands.
            return Response(
                {"errors": {"non_field_errors": ["the referral has already been returned"]}},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(RejectionOutSerializer(rejection).data, status=status.HTTP_201_CREATED)


class CriticalCommunicationsApi(APIView):
    """Record that a critical finding was communicated: whom, how, when, read back or not."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=CommunicationInSerializer, responses={201: ReportOutSerializer})
    def post(self, request: Request, study_id: int) -> Response:
        study = visible_study(request, study_id)
        if study is None:
            return NOT_FOUND
        serializer = CommunicationInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        critical_communication_record(
            study_id=study_id,
            user=request.user,  # type: ignore[arg-type]
            communication=serializer.to_input(),
        )
        state = selectors.report_state(study=study)
        audit_report_reads(
            context=AccessContext.from_request(request, channel="api"), studies=[study]
        )
        return Response(
            ReportOutSerializer(state, context=report_context(request, state)).data,
            status=status.HTTP_201_CREATED,
        )


class RejectionCountsApi(APIView):
    """Returned referrals per site and reason (the indicator), over the sites the caller sees."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[RejectionFilterSerializer], responses=RejectionCountOutSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        params = RejectionFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        counts = selectors.rejection_counts(
            user=request.user,
            since=params.validated_data.get("since"),
            until=params.validated_data.get("until"),
        )
        return Response(RejectionCountOutSerializer(counts, many=True).data)
