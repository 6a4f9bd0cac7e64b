"""Live updates: after commit, tell the sockets watching a site that one of its studies changed.

Events carry ids and types only; clients refetch through the scoped API.
"""

from __future__ import annotations

from django.db import transaction

ALL_SITES_GROUP = "worklist.all"


def site_group(site_id: int) -> str:
    return f"worklist.site.{site_id}"


def broadcast_after_commit(*, study_id: int, site_id: int, event: str, status: str = "") -> None:
    from worklists.tasks import broadcast_study_event

    transaction.on_commit(
        lambda: broadcast_study_event.delay(
            study_id=study_id, site_id=site_id, event=event, status=status
        ),
        # A lost live update must not turn a committed change into a reported failure.
        robust=True,
    )
