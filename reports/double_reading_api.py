"""Double-reading API: a study's independent reads as the caller may see them, signing one,
and the readers' figures. Thin: parse, call one service or selector, shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports import double_reading_selectors as dr_selectors
from reports.api import NOT_FOUND, is_visible, visible_study
from reports.double_reading_serializers import (
    DoubleReadingOutSerializer,
    FiguresFilterSerializer,
    IndependentReadSignedSerializer,
    IndependentReadSignInSerializer,
    ReaderFiguresOutSerializer,
)
from reports.services.audit import audit_report_reads
from reports.services.double_reading import independent_read_sign
from worklists.services.audit import AccessContext


def reads_payload(view: dr_selectors.ReadsView, *, study_id: int) -> dict[str, Any]:
    case = view.case
    return {
        "study_id": study_id,
        "stage": view.stage,
        "reads": view.reads,
        "hidden_reads": view.hidden,
        "own_read_number": view.own_read_number,
        "arbitrator_id": case.arbitrator_id if case else None,
        "final_version_number": case.final_version.number if case and case.final_version else None,
    }


class DoubleReadingApi(APIView):
    """The study's double reading: its stage and the independent reads the caller may see
    (blind: a reader sees another's read only once their own is signed)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=DoubleReadingOutSerializer)
    def get(self, request: Request, study_id: int) -> Response:
        study = visible_study(request, study_id)
        if study is None:
            return NOT_FOUND
        view = dr_selectors.reads_for_viewer(study=study, user=request.user)
        if view.reads:
            # the reads are report text: read like every report, audited
            audit_report_reads(
                context=AccessContext.from_request(request, channel="api"), studies=[study]
            )
        return Response(DoubleReadingOutSerializer(reads_payload(view, study_id=study.id)).data)


class IndependentReadSignApi(APIView):
    """Sign the caller's independent read with its result (the holder only; password
    re-entered). Never delivered to the RIS."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=IndependentReadSignInSerializer,
        responses={201: IndependentReadSignedSerializer},
    )
    def post(self, request: Request, study_id: int) -> Response:
        if not is_visible(request, study_id):
            return NOT_FOUND
        serializer = IndependentReadSignInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        read = independent_read_sign(
            study_id=study_id,
            user=request.user,  # type: ignore[arg-type]
            password=serializer.validated_data["password"],
            result=serializer.result(),
            draft=serializer.draft_input(),
        )
        return Response(IndependentReadSignedSerializer(read).data, status=status.HTTP_201_CREATED)


class DoubleReadingFiguresApi(APIView):
    """Recall and disagreement rate per reader: a reader their own, coordinators every
    reader's, over the reads signed in the period (``since``, ``until``)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[FiguresFilterSerializer], responses=ReaderFiguresOutSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        params = FiguresFilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        figures = dr_selectors.reader_figures(
            user=request.user,
            since=params.validated_data.get("since"),
            until=params.validated_data.get("until"),
        )
        return Response(ReaderFiguresOutSerializer(figures, many=True).data)
