"""The site portal's REST API: the list, read-only, scoped and audited like the page."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports.portal import selectors
from reports.portal.selectors import Cursor, PortalFilters
from reports.portal.serializers import PortalListOutSerializer, PortalQueryInSerializer
from reports.portal.states import PortalState
from reports.portal.views import audit_rows
from worklists.errors import InvalidInput

API_PAGE_SIZE = 200


def _params(query: QueryDict) -> dict[str, Any]:
    """The query string under the serializer's names (from/to are keywords in Python)."""
    data: dict[str, Any] = {k: query.get(k) for k in ("site", "state", "q", "cursor") if k in query}
    if "from" in query:
        data["date_from"] = query.get("from")
    if "to" in query:
        data["date_to"] = query.get("to")
    return data


class SitePortalStudiesApi(APIView):
    @extend_schema(
        operation_id="v1_site_studies",
        parameters=[
            OpenApiParameter("site", str, description="Site code; coordinators must give one."),
            OpenApiParameter("state", str, enum=[s.value for s in PortalState]),
            OpenApiParameter("from", str, description="First order date (YYYY-MM-DD), site-local."),
            OpenApiParameter("to", str, description="Last order date (YYYY-MM-DD), site-local."),
            OpenApiParameter("q", str, description="Exact accession number or patient identifier."),
            OpenApiParameter("cursor", str, description="next_cursor of the previous page."),
        ],
        responses=PortalListOutSerializer,
        description="A site's studies, newest order first, each with its state (waiting, "
        "reading, preliminary, final, returned, cancelled), report status, delivery to the "
        "site's RIS and the returned referral's reason; counts per state. A site's own staff "
        "see their site; coordinators name any site; radiologists are refused (403). No "
        "period means all dates. Every study listed is audited as read.",
    )
    def get(self, request: Request) -> Response:
        params = PortalQueryInSerializer(data=_params(request.query_params))
        params.is_valid(raise_exception=True)
        data = params.validated_data
        access = selectors.portal_access(user=request.user, site_code=data.get("site", ""))
        if access.site is None:
            raise InvalidInput("coordinators name the site", field="site")
        filters = PortalFilters(
            state=PortalState(data["state"]) if data.get("state") else None,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            q=data.get("q", "").strip(),
        )
        cursor = Cursor.decode(data["cursor"]) if data.get("cursor") else None
        counts = selectors.portal_counts(access=access, filters=filters)
        rows, following = selectors.portal_rows(
            access=access, filters=filters, cursor=cursor, limit=API_PAGE_SIZE
        )
        audit_rows(request, rows, channel="api")
        return Response(
            PortalListOutSerializer(
                {
                    "site": access.site.code,
                    "date_from": filters.date_from,
                    "date_to": filters.date_to,
                    "counts": {state.value: n for state, n in counts.items()},
                    "results": rows,
                    "next_cursor": following.encode() if following else None,
                }
            ).data
        )
