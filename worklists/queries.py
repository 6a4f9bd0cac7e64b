"""Hand-written SQL of this app's hot reads, each with a test that it answers as the ORM does
(tests/test_queries.py). Here only where a benchmark showed it at least twice as fast at the
service call: every API read of studies asks who may see which sites first, and the ORM's
three queries for that (each built anew by the ORM on every call) cost more than the read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from worklists import prepared


@dataclass(frozen=True, slots=True)
class SiteGrants:
    """What lets a user see sites' studies, as stored: membership of the coordinators' group,
    the site they work for, and their radiologist's credentials that are not revoked (of an
    active radiologist), with each credential's site's time zone; validity dates unchecked."""

    coordinator: bool
    member_site_ids: frozenset[int]
    credentials: tuple[tuple[int, dt.date, dt.date | None, str], ...]


# Kinds of grant, the first column of the statement's rows.
_COORDINATOR, _MEMBER, _CREDENTIAL = 0, 1, 2

# Portable SQL (PostgreSQL and SQLite); on PostgreSQL prepared once per connection. Every branch
# is a lookup by user on a unique index (a user's groups, their one membership, their one
# radiologist), so its generic plan holds as the tables grow (see worklists/prepared.py).
_SITE_GRANTS_SQL = f"""
SELECT {_COORDINATOR}, CAST(NULL AS bigint), CAST(NULL AS date), CAST(NULL AS date),
    CAST('' AS varchar(64))
FROM auth_user_groups ug JOIN auth_group g ON g.id = ug.group_id
WHERE ug.user_id = %s AND g.name = %s
UNION ALL
SELECT {_MEMBER}, m.site_id, NULL, NULL, ''
FROM worklists_sitemembership m
WHERE m.user_id = %s
UNION ALL
SELECT {_CREDENTIAL}, c.site_id, c.valid_from, c.valid_until, s.time_zone
FROM worklists_credential c
JOIN worklists_radiologist r ON r.id = c.radiologist_id
JOIN worklists_site s ON s.id = c.site_id
WHERE r.user_id = %s AND r.is_active AND c.revoked_at IS NULL
"""  # noqa: S608 - only this module's constants are formatted in, never input


def _date(value: dt.date | str | None) -> dt.date | None:
    # SQLite hands raw SQL's dates back as ISO text
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def site_grants(*, user_id: int, coordinators_group: str) -> SiteGrants:
    """The user's grants of sight of sites, in one statement."""
    coordinator = False
    members: set[int] = set()
    credentials: list[tuple[int, dt.date, dt.date | None, str]] = []
    params = [user_id, coordinators_group, user_id, user_id]
    for kind, site_id, valid_from, valid_until, time_zone in prepared.execute(
        _SITE_GRANTS_SQL, params
    ):
        if kind == _COORDINATOR:
            coordinator = True
        elif kind == _MEMBER:
            members.add(site_id)
        else:
            start = _date(valid_from)
            assert start is not None  # NOT NULL column
            credentials.append((site_id, start, _date(valid_until), time_zone))
    credentials.sort()
    return SiteGrants(
        coordinator=coordinator,
        member_site_ids=frozenset(members),
        credentials=tuple(credentials),
    )
