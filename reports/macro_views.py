"""The reader's own macro page: list, create, edit and delete, without the admin.

A reader keeps their personal macros here and sees the shared ones of their worklists;
coordinators keep the shared ones. Parse the request, call one service, render or redirect.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from reports import macro_selectors
from reports.macro_forms import MacroForm
from reports.models import Macro
from reports.services.errors import ReportError
from reports.services.macros import (
    MACRO_TRIGGER,
    MacroInput,
    MacroNotFound,
    macro_create,
    macro_delete,
    macro_update,
    may_edit_macro,
)
from worklists.access import is_coordinator, radiologist_of
from worklists.models import Worklist


def _worklists_for(request: HttpRequest) -> QuerySet[Worklist] | None:
    return Worklist.objects.all() if is_coordinator(request.user) else None


def _input(form: MacroForm) -> MacroInput:
    data = form.cleaned_data
    return MacroInput(name=data["name"], text=data["text"], description=data["description"])


def _refused(form: MacroForm, exc: ReportError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, str(exc))


@login_required
def macro_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    shared = [
        (macro, may_edit_macro(user=user, macro=macro))  # type: ignore[arg-type]
        for macro in macro_selectors.shared_macros_visible_to(user=user)
    ]
    return render(
        request,
        "reports/macros.html",
        {
            "personal": list(macro_selectors.personal_macros(user=user)),
            "shared": shared,
            "is_radiologist": radiologist_of(user) is not None,
            "is_coordinator": is_coordinator(user),
            "trigger": MACRO_TRIGGER,
        },
    )


@login_required
def macro_new(request: HttpRequest) -> HttpResponse:
    worklists = _worklists_for(request)
    form = MacroForm(request.POST or None, worklists=worklists)
    if request.method == "POST" and form.is_valid():
        worklist = form.cleaned_data.get("worklist")
        try:
            macro = macro_create(
                user=request.user,  # type: ignore[arg-type]
                data=_input(form),
                worklist_id=worklist.id if worklist is not None else None,
            )
        except ReportError as exc:
            _refused(form, exc)
        else:
            messages.success(
                request, _("Macro %(name)s saved.") % {"name": MACRO_TRIGGER + macro.name}
            )
            return redirect("macros")
    return render(
        request,
        "reports/macro_form.html",
        {"form": form, "macro": None, "trigger": MACRO_TRIGGER},
        status=400 if form.errors else 200,
    )


def _editable_or_404(request: HttpRequest, macro_id: int) -> Macro:
    macro = macro_selectors.macro_visible_to(user=request.user, macro_id=macro_id)
    if macro is None or not may_edit_macro(user=request.user, macro=macro):  # type: ignore[arg-type]
        raise Http404("No such macro")
    return macro


@login_required
def macro_edit(request: HttpRequest, macro_id: int) -> HttpResponse:
    macro = _editable_or_404(request, macro_id)
    initial = {"name": macro.name, "text": macro.text, "description": macro.description}
    form = MacroForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            macro = macro_update(
                user=request.user,  # type: ignore[arg-type]
                macro_id=macro.id,
                data=_input(form),
            )
        except MacroNotFound as exc:
            raise Http404("No such macro") from exc
        except ReportError as exc:
            _refused(form, exc)
        else:
            messages.success(
                request, _("Macro %(name)s saved.") % {"name": MACRO_TRIGGER + macro.name}
            )
            return redirect("macros")
    return render(
        request,
        "reports/macro_form.html",
        {"form": form, "macro": macro, "trigger": MACRO_TRIGGER},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def macro_remove(request: HttpRequest, macro_id: int) -> HttpResponse:
    try:
        macro_delete(user=request.user, macro_id=macro_id)  # type: ignore[arg-type]
    except MacroNotFound as exc:
        raise Http404("No such macro") from exc
    except ReportError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Macro deleted."))
    return redirect("macros")
