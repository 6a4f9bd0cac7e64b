"""Macro API: the macros a reader may use on a study, and the keeping of their own.

Someone else's personal macro does not exist for the caller (404); a shared macro the caller
may see but not change is refused (403).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports import macro_selectors
from reports.api import NOT_FOUND, visible_study
from reports.macro_serializers import MacroCreateSerializer, MacroInSerializer, MacroOutSerializer
from reports.services.errors import ReportInvalid
from reports.services.macros import (
    MacroInput,
    macro_create,
    macro_delete,
    macro_update,
)
from worklists.models import Worklist


def _out(request: Request, macros: Any, *, many: bool = False) -> Any:
    return MacroOutSerializer(macros, many=many, context={"user": request.user}).data


class StudyMacrosApi(APIView):
    """The macros the caller may insert in this study's report: their personal ones and those
    shared in the study's worklist, by name (a personal one first where names are equal)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MacroOutSerializer(many=True))
    def get(self, request: Request, study_id: int) -> Response:
        study = visible_study(request, study_id)
        if study is None:
            return NOT_FOUND
        macros = macro_selectors.macros_for_study(user=request.user, study=study)
        return Response(_out(request, macros, many=True))


class MacrosApi(APIView):
    """The caller's personal macros and the shared ones they see; POST adds one."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MacroOutSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(
            _out(request, macro_selectors.macros_visible_to(user=request.user), many=True)
        )

    @extend_schema(request=MacroCreateSerializer, responses={201: MacroOutSerializer})
    def post(self, request: Request) -> Response:
        serializer = MacroCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        worklist_id = None
        if "worklist" in data:
            worklist = Worklist.objects.filter(code=data["worklist"]).first()
            if worklist is None:
                raise ReportInvalid("no such worklist", field="worklist")
            worklist_id = worklist.id
        macro = macro_create(
            user=request.user,  # type: ignore[arg-type]
            data=MacroInput(name=data["name"], text=data["text"], description=data["description"]),
            worklist_id=worklist_id,
        )
        return Response(_out(request, macro), status=status.HTTP_201_CREATED)


class MacroApi(APIView):
    """One macro: read it, change it (PUT all fields, PATCH some) or delete it."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MacroOutSerializer)
    def get(self, request: Request, macro_id: int) -> Response:
        macro = macro_selectors.macro_visible_to(user=request.user, macro_id=macro_id)
        if macro is None:
            return Response({"detail": "No such macro."}, status=status.HTTP_404_NOT_FOUND)
        return Response(_out(request, macro))

    @extend_schema(request=MacroInSerializer, responses=MacroOutSerializer)
    def put(self, request: Request, macro_id: int) -> Response:
        return self._update(request, macro_id, partial=False)

    @extend_schema(request=MacroInSerializer(partial=True), responses=MacroOutSerializer)
    def patch(self, request: Request, macro_id: int) -> Response:
        return self._update(request, macro_id, partial=True)

    def _update(self, request: Request, macro_id: int, *, partial: bool) -> Response:
        current = macro_selectors.macro_visible_to(user=request.user, macro_id=macro_id)
        if current is None:
            return Response({"detail": "No such macro."}, status=status.HTTP_404_NOT_FOUND)
        serializer = MacroInSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        macro = macro_update(
            user=request.user,  # type: ignore[arg-type]
            macro_id=macro_id,
            data=MacroInput(
                name=data.get("name", current.name),
                text=data.get("text", current.text),
                description=data.get("description", current.description),
            ),
        )
        return Response(_out(request, macro))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, macro_id: int) -> Response:
        macro_delete(user=request.user, macro_id=macro_id)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)
