"""The core's extension points: what an adapter (dicom, reports, hl7_interface) plugs into.

The core names no adapter (tests/test_import_boundaries.py keeps it so). An adapter registers
here from its AppConfig.ready(); the core calls whatever is registered, and works without it:

- order images: what an arriving order does to images received before it (the DICOM receiver);
- study-page panels: sections an adapter adds to the study page (the images, the report);
- console panels: sections an adapter adds to the coordinator's console (failed deliveries);
- worklist panels: sections an adapter adds to the worklist page, under the reader's own queue
  (the significant discrepancies found in the reader's reports, reviews waiting for a reviewer);
- reading-order tasks: work an adapter gives a reader that takes its place in their reading
  order beside their studies (peer reviews, each with its own deadline): the worklist page's
  queue lists them, "read next" opens one when it comes first (worklists.routing says where a
  task ranks, TASK_ROUTING_RANK), and the reading page opens it;
- changed studies: rows a live page shows that changed through an adapter's own records (a
  review assigned or withdrawn), which a reconnecting page's resync must refetch too;
- home pages: where a user lands after signing in, when an adapter has a page for them (a
  site's staff: the site portal);
- withheld studies: a study a user may see but must read elsewhere for now (a blind peer
  reviewer, kept off the pages that name the report's author); in bulk for a page that lists
  many (the reading page's priors hide a withheld prior's report and signer).

worklists.demo.extensions is the same pattern for the demo's steps.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import HttpRequest

from worklists import routing
from worklists.actors import Actor
from worklists.models import Study

__all__ = [
    "ChangedStudies",
    "ConsolePanel",
    "HomePage",
    "OrderImages",
    "PanelSlot",
    "ReadingOrderTask",
    "ReadingOrderTasks",
    "StudyPanel",
    "Withheld",
    "WithholdStudies",
    "WithholdStudy",
    "WorklistPanel",
    "changed_studies",
    "console_panels",
    "home_page_for",
    "order_images",
    "reading_order_tasks",
    "register_changed_studies",
    "register_console_panel",
    "register_home_page",
    "register_order_images",
    "register_reading_order_tasks",
    "register_studies_withholding",
    "register_study_panel",
    "register_study_withholding",
    "register_worklist_panel",
    "studies_withheld",
    "study_panels",
    "study_withheld",
    "worklist_panels",
]


# Order images ------------------------------------------------------------------------------
# Each function is called by order ingest inside its transaction, with the study row locked.


class PatientMismatch(Protocol):
    def __call__(self, study: Study, *, at: dt.datetime) -> str:
        """The order names another patient than the study has: if the study came from images
        awaiting their order, record the mismatch and return why (the hold's reason); return ""
        if it did not (then the changed patient is a merge, refused)."""
        ...


class HoldForMismatch(Protocol):
    def __call__(
        self, study: Study, *, reason: str, images_patient_id: int, actor: Actor, at: dt.datetime
    ) -> None:
        """Hold the study for the coordinator after a patient mismatch, and alert."""
        ...


class OrderArrived(Protocol):
    def __call__(self, study: Study, *, actor: Actor, at: dt.datetime) -> bool:
        """The order of an ORDERED study arrived: complete images open it. Returns whether the
        study became READY."""
        ...


@dataclass(frozen=True, slots=True)
class OrderImages:
    patient_mismatch_locked: PatientMismatch
    hold_for_mismatch_locked: HoldForMismatch
    order_arrived_locked: OrderArrived


def _no_images_first(study: Study, *, at: dt.datetime) -> str:
    return ""


def _nothing_to_hold(
    study: Study, *, reason: str, images_patient_id: int, actor: Actor, at: dt.datetime
) -> None:
    # Unreachable: without an image adapter no mismatch is ever reported.
    raise RuntimeError("no image adapter is installed: there is no image mismatch to hold for")


def _no_images_waiting(study: Study, *, actor: Actor, at: dt.datetime) -> bool:
    return False


# Without an image adapter, images never arrive before their order.
WITHOUT_IMAGES = OrderImages(
    patient_mismatch_locked=_no_images_first,
    hold_for_mismatch_locked=_nothing_to_hold,
    order_arrived_locked=_no_images_waiting,
)
_order_images: list[OrderImages] = []


def register_order_images(hooks: OrderImages) -> None:
    """One image adapter at a time: a second, different one is a configuration error (which
    of the two would own the images?)."""
    if _order_images and _order_images[0] != hooks:
        raise RuntimeError("an image adapter is registered already")
    _order_images[:] = [hooks]


def order_images() -> OrderImages:
    return _order_images[0] if _order_images else WITHOUT_IMAGES


# Study-page panels -------------------------------------------------------------------------


class PanelSlot(enum.StrEnum):
    """Where on the study page a panel goes (the page's own sections stay in place)."""

    BEFORE_HISTORY = "before-history"
    AFTER_HISTORY = "after-history"


class RenderPanel(Protocol):
    def __call__(self, *, request: HttpRequest | None, study: Study) -> str:
        """The panel's HTML (a SafeString from a template). The study is one the user may see:
        the page found it through the scoping function and audited the read; a panel that
        shows more (a report) audits that read itself."""
        ...


@dataclass(frozen=True, slots=True)
class StudyPanel:
    name: str
    slot: PanelSlot
    render: RenderPanel


_panels: dict[str, StudyPanel] = {}


def register_study_panel(panel: StudyPanel) -> None:
    """Registering a panel of the same name again replaces it (AppConfig.ready may run twice
    in tests); panels of a slot show in registration order, that is INSTALLED_APPS order."""
    _panels[panel.name] = panel


def study_panels(slot: PanelSlot) -> list[StudyPanel]:
    return [panel for panel in _panels.values() if panel.slot == slot]


# Console panels ----------------------------------------------------------------------------


class RenderConsolePanel(Protocol):
    def __call__(self, *, request: HttpRequest, now: dt.datetime) -> str:
        """The panel's HTML (a SafeString from a template), for the coordinator making the
        request (the console checked the role). The panel finds its studies through the
        scoping function and audits what it shows. Its actions post to the adapter's own views,
        which answer as the console's own actions do (the console's live region, re-rendered)."""
        ...


@dataclass(frozen=True, slots=True)
class ConsolePanel:
    name: str
    render: RenderConsolePanel


_console_panels: dict[str, ConsolePanel] = {}


def register_console_panel(panel: ConsolePanel) -> None:
    """Same rules as study-page panels: the same name replaces, INSTALLED_APPS order shows."""
    _console_panels[panel.name] = panel


def console_panels() -> list[ConsolePanel]:
    return list(_console_panels.values())


# Worklist panels ---------------------------------------------------------------------------


class RenderWorklistPanel(Protocol):
    def __call__(self, *, request: HttpRequest, now: dt.datetime) -> str:
        """The panel's HTML (a SafeString from a template) for the user making the request, or
        "" when it has nothing for them. The panel finds its studies through the scoping
        function and audits what it shows."""
        ...


@dataclass(frozen=True, slots=True)
class WorklistPanel:
    name: str
    render: RenderWorklistPanel


_worklist_panels: dict[str, WorklistPanel] = {}


def register_worklist_panel(panel: WorklistPanel) -> None:
    """Same rules as study-page panels: the same name replaces, INSTALLED_APPS order shows."""
    _worklist_panels[panel.name] = panel


def worklist_panels() -> list[WorklistPanel]:
    return list(_worklist_panels.values())


# Reading-order tasks -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadingOrderTask:
    """One task of a reader's that takes its place in their reading order (a peer review):
    where it stands (worklists.routing: a routine study's rank, its own deadline), what the
    queue shows of it and where it opens. ``study`` is the study it is about, one the reader
    may see (the provider found it within the sites it was given)."""

    kind: str  # the provider's name, stable ("peer-review")
    id: int  # the task's own id, within its kind
    label: str  # what it is, in the user's words ("Peer review")
    deadline: dt.datetime
    url: str  # where it opens: the reading page, for the task
    study: Study
    routing_rank: int = routing.TASK_ROUTING_RANK

    @property
    def position(self) -> routing.ReadingPosition:
        return routing.task_position(self.routing_rank, self.deadline, self.id)

    @property
    def bound(self) -> routing.TaskBound:
        return routing.TaskBound(routing_rank=self.routing_rank, deadline=self.deadline)


class ReadingOrderTasks(Protocol):
    def __call__(
        self,
        *,
        user: AbstractBaseUser | AnonymousUser,
        radiologist_id: int,
        site_ids: set[int] | None,
        limit: int | None,
    ) -> list[ReadingOrderTask]:
        """The reader's open tasks in reading order (nearest deadline first), at most
        ``limit`` (None: all), about studies of ``site_ids`` (the scoping function's answer
        for ``user``; None: every site). One query: "read next" asks on every call."""
        ...


_task_providers: dict[str, ReadingOrderTasks] = {}


def register_reading_order_tasks(name: str, provider: ReadingOrderTasks) -> None:
    """Registering the same name again replaces it (AppConfig.ready may run twice in tests)."""
    _task_providers[name] = provider


def reading_order_tasks(
    *,
    user: AbstractBaseUser | AnonymousUser,
    radiologist_id: int,
    site_ids: set[int] | None,
    limit: int | None = None,
) -> list[ReadingOrderTask]:
    """Every provider's tasks for this reader, in reading order, at most ``limit``."""
    tasks = [
        task
        for provider in _task_providers.values()
        for task in provider(
            user=user, radiologist_id=radiologist_id, site_ids=site_ids, limit=limit
        )
    ]
    tasks.sort(key=lambda task: task.position)
    return tasks if limit is None else tasks[:limit]


# Changed studies ---------------------------------------------------------------------------


class ChangedStudies(Protocol):
    def __call__(self, *, visible: QuerySet[Study], after: dt.datetime, limit: int) -> set[int]:
        """The ids among ``visible`` (the scoping function's studies for the user) whose row
        on a live page changed at or after ``after`` through the adapter's own records (a
        review assigned or withdrawn), at most ``limit`` + 1."""
        ...


_changed_providers: dict[str, ChangedStudies] = {}


def register_changed_studies(name: str, provider: ChangedStudies) -> None:
    """A reconnecting page's resync asks this too (worklists.selectors.studies_changed_since).
    Registering the same name again replaces it."""
    _changed_providers[name] = provider


def changed_studies(*, visible: QuerySet[Study], after: dt.datetime, limit: int) -> set[int]:
    found: set[int] = set()
    for provider in _changed_providers.values():
        found |= provider(visible=visible, after=after, limit=limit)
    return found


# Withheld studies --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Withheld:
    reason: str  # why, in the user's words
    url: str  # where the user reads the study instead


class WithholdStudy(Protocol):
    def __call__(self, *, user: AbstractBaseUser | AnonymousUser, study: Study) -> Withheld | None:
        """Whether ``user``, who may see ``study``, must not read it through its ordinary pages
        and APIs now (the study page, the reading page, the report): a blind peer reviewer would
        read its author's name there. None: not withheld. Asked for every single-study read,
        so it answers without a query where it can (a study without a signed report)."""
        ...


_withholders: dict[str, WithholdStudy] = {}


def register_study_withholding(name: str, withhold: WithholdStudy) -> None:
    """Registering the same name again replaces it (AppConfig.ready may run twice in tests)."""
    _withholders[name] = withhold


def study_withheld(user: AbstractBaseUser | AnonymousUser, study: Study) -> Withheld | None:
    for withhold in _withholders.values():
        if (withheld := withhold(user=user, study=study)) is not None:
            return withheld
    return None


class WithholdStudies(Protocol):
    def __call__(
        self, *, user: AbstractBaseUser | AnonymousUser, studies: Sequence[Study]
    ) -> dict[int, Withheld]:
        """WithholdStudy for many studies at once (a page's list of priors): the withheld
        ones by study id. One query at most, whatever their number; none when no study can
        be withheld (none has a signed report)."""
        ...


_bulk_withholders: dict[str, WithholdStudies] = {}


def register_studies_withholding(name: str, withhold: WithholdStudies) -> None:
    """The bulk form of register_study_withholding: an adapter registers both, with the same
    answers. Registering the same name again replaces it."""
    _bulk_withholders[name] = withhold


def studies_withheld(
    user: AbstractBaseUser | AnonymousUser, studies: Sequence[Study]
) -> dict[int, Withheld]:
    """The studies among ``studies`` withheld from ``user``, by id (asked once for a list)."""
    withheld: dict[int, Withheld] = {}
    if not studies:
        return withheld
    for withhold in _bulk_withholders.values():
        for study_id, why in withhold(user=user, studies=studies).items():
            withheld.setdefault(study_id, why)
    return withheld


# Home pages --------------------------------------------------------------------------------


class HomePage(Protocol):
    def __call__(self, user: AbstractBaseUser | AnonymousUser) -> str | None:
        """The URL this user should land on after signing in, or None: not the adapter's."""
        ...


_home_pages: dict[str, HomePage] = {}


def register_home_page(name: str, home_page: HomePage) -> None:
    """Registering the same name again replaces it (AppConfig.ready may run twice in tests)."""
    _home_pages[name] = home_page


def home_page_for(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """The first registered home page that claims ``user``; None: the core's own (worklist)."""
    for home_page in _home_pages.values():
        url = home_page(user)
        if url is not None:
            return url
    return None
