"""``{% study_panels study "before-history" %}``: the panels adapters add to the study page
(worklists.hooks), so the core's template names no adapter."""

from __future__ import annotations

from django import template
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from worklists.hooks import PanelSlot
from worklists.hooks import study_panels as panels_in
from worklists.models import Study

register = template.Library()


@register.simple_tag(takes_context=True)
def study_panels(context: template.Context, study: Study, slot: str) -> SafeString:
    request = context.get("request")
    if not isinstance(request, HttpRequest):
        request = None
    # Each panel's HTML comes from its own template (a SafeString, so it is not escaped again).
    panels = panels_in(PanelSlot(slot))
    return format_html_join("", "{}", ((p.render(request=request, study=study),) for p in panels))
