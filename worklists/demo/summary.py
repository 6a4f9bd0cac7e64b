"""The block printed at the end of a run: what is there, and how to log in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count

from worklists.demo.data import COORDINATOR_USERNAME, DEMO_PASSWORD, RADIOLOGISTS
from worklists.models import Study, StudyStatus

if TYPE_CHECKING:
    from worklists.demo import DemoResult


def render_summary(result: DemoResult, *, url: str) -> str:
    """``url``: where the web server will answer (`make run` passes its HOST and PORT)."""
    counts = dict(
        Study.objects.filter(site__in=result.sites.values())
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    statuses = ", ".join(f"{counts[s]} {s}" for s in StudyStatus.values if s in counts)
    code_width = max(len(code) for code in result.tokens)
    rule = "=" * 78
    lines = [
        "",
        rule,
        f"Teleradiology demo ready in {result.elapsed:.1f} s "
        f"({result.created} studies created this run).",
        f"Studies at the demo sites: {statuses or 'none'}.",
        "",
        f"Open {url}/   (`make run` serves it; or: manage.py serve)",
        f"Admin: {url}/admin/",
        "Signed reports go to the demo's test RIS, which `manage.py serve` runs and which",
        "acknowledges each one; the reading page shows the delivery.",
        "",
        f"Demo logins; the password for every one is: {DEMO_PASSWORD}",
        f"  {COORDINATOR_USERNAME:<12} Mona Fredheim, coordinator (staff and superuser)",
    ]
    for number, spec in enumerate(RADIOLOGISTS, start=1):
        name = f"{spec.first_name} {spec.last_name}"
        lines.append(f"  rad{number:02d}        {name:<20} radiologist: {', '.join(spec.primary)}")
    for code, site in result.sites.items():
        lines.append(f"  {code:<12} site user at {site.name}")
    lines += [
        "",
        "Site API tokens (send as the header  Authorization: Token <key>):",
        *(f"  {code:<{code_width}}  {key}" for code, key in result.tokens.items()),
        rule,
    ]
    return "\n".join(lines)
