"""GET /api/v1/indicators: the page's tables as JSON, for the same viewer and query."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from indicators.periods import PeriodInvalid
from indicators.query import parse_query
from indicators.scope import viewer_of
from indicators.selectors import indicators
from indicators.serializers import IndicatorsOutSerializer, IndicatorsQuerySerializer


class IndicatorsApi(APIView):
    """Every indicator of a period, over the sites (and readers) the caller may see."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=[IndicatorsQuerySerializer], responses=IndicatorsOutSerializer)
    def get(self, request: Request) -> Response:
        viewer = viewer_of(request.user)
        try:
            query = parse_query(request.query_params, viewer)
        except PeriodInvalid as exc:
            raise ValidationError({exc.field: [str(exc)]}) from exc
        result = indicators(viewer=viewer, period=query.period, group_by=query.group_by)
        return Response(IndicatorsOutSerializer(result).data)
