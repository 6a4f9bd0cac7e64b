"""Who may see which studies. Every query that returns studies starts from studies_visible_to."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db.models import Q, QuerySet
from django.utils import timezone

from worklists import queries
from worklists.models import (
    Credential,
    Patient,
    PatientIdentifier,
    Radiologist,
    Site,
    Study,
)

COORDINATORS_GROUP = "coordinators"
PRIVACY_OFFICERS_GROUP = "privacy officers"  # created by a migration, with the permission
PRIVACY_PERMISSION = "worklists.view_privacy_report"

AnyUser = AbstractBaseUser | AnonymousUser


def is_coordinator(user: AnyUser) -> bool:
    if not user.is_authenticated:
        return False
    if getattr(user, "is_superuser", False):
        return True
    return Group.objects.filter(name=COORDINATORS_GROUP, user__id=user.pk).exists()


def user_is_coordinator(user_id: int | None) -> bool:
    """``is_coordinator`` for a service that knows the acting user by id (Actor.user_id): one
    query, the same answer."""
    if user_id is None:
        return False
    return (
        get_user_model()
        .objects.filter(Q(is_superuser=True) | Q(groups__name=COORDINATORS_GROUP), pk=user_id)
        .exists()
    )


def is_privacy_officer(user: AnyUser) -> bool:
    """Who may read the audit trail: holders of the privacy permission (the privacy officers'
    group). Being a coordinator does not grant it."""
    has_perm = getattr(user, "has_perm", None)
    return bool(
        user.is_authenticated and user.is_active and has_perm and has_perm(PRIVACY_PERMISSION)
    )


# The user's side of Radiologist.user: holds the user's radiologist once it is loaded.
_RADIOLOGIST_OF_USER = Radiologist._meta.get_field("user").remote_field
_RADIOLOGIST_LOADED = "_radiologist_loaded_with_user"


def radiologist_loaded_with(user: AnyUser) -> None:
    """``user`` was just read with their radiologist (select_related "radiologist"), for this
    request: radiologist_of may answer from it. Only then: a user instance kept longer may
    hold a radiologist since changed (deactivated)."""
    setattr(user, _RADIOLOGIST_LOADED, True)


def radiologist_of(user: AnyUser) -> Radiologist | None:
    """The user's radiologist if active. Without a query when it was loaded with the user (a
    personal token's authentication selects it: "read next" asks this on every call)."""
    if not user.is_authenticated:
        return None
    if getattr(user, _RADIOLOGIST_LOADED, False) and _RADIOLOGIST_OF_USER.is_cached(user):
        radiologist = _RADIOLOGIST_OF_USER.get_cached_value(user)
        return (
            radiologist if isinstance(radiologist, Radiologist) and radiologist.is_active else None
        )
    # order_by(): Radiologist's default ordering would join the users' table for one row
    return Radiologist.objects.filter(user_id=user.pk, is_active=True).order_by().first()


def credentialed_site_ids(user: AnyUser, *, now: dt.datetime | None = None) -> set[int]:
    """Sites where ``user`` holds a credential valid today, "today" in each site's own zone."""
    if user.pk is None:
        return set()
    moment = now or timezone.now()
    credentials = Credential.objects.filter(
        radiologist__user_id=user.pk, radiologist__is_active=True, revoked_at__isnull=True
    ).select_related("site")
    return {c.site_id for c in credentials if c.is_valid_on(moment.astimezone(c.site.zone).date())}


def visible_site_ids(user: AnyUser) -> set[int] | None:
    """The sites whose studies ``user`` may see; None means every site (coordinators): the
    site they work for and the sites they hold a credential valid today for ("today" in each
    site's own zone), as is_coordinator, SiteMembership and credentialed_site_ids say, read in
    one statement (worklists.queries: every API read of studies asks this first)."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if getattr(user, "is_superuser", False):
        return None
    grants = queries.site_grants(user_id=user.pk, coordinators_group=COORDINATORS_GROUP)
    if grants.coordinator:
        return None
    now = timezone.now()
    return set(grants.member_site_ids) | {
        site_id
        for site_id, valid_from, valid_until, zone in grants.credentials
        if Credential.valid_between(
            valid_from, valid_until, now.astimezone(zoneinfo.ZoneInfo(zone)).date()
        )
    }


def studies_visible_to(user: AnyUser) -> QuerySet[Study]:
    """The one scoping function: a radiologist sees the sites they hold a valid credential for,
    a site user their own site, a coordinator every site; anyone else nothing."""
    return studies_of_sites(visible_site_ids(user))


def studies_of_sites(site_ids: set[int] | None) -> QuerySet[Study]:
    """``studies_visible_to`` for a user whose ``visible_site_ids`` the caller has resolved."""
    if site_ids is None:
        return Study.objects.all()
    return Study.objects.filter(site_id__in=site_ids)


def identifiers_visible(site_ids: set[int] | None) -> Q:
    """The patient identifiers a user who sees ``site_ids`` may see: national numbers, and the
    numbers issued by those sites; not another hospital's record numbers."""
    if site_ids is None:
        return Q()
    return Q(authority=PatientIdentifier.NATIONAL_AUTHORITY) | Q(
        authority__in=Site.objects.filter(id__in=site_ids).values("code")
    )


def sites_visible_to(user: AnyUser) -> QuerySet[Site]:
    site_ids = visible_site_ids(user)
    if site_ids is None:
        return Site.objects.all()
    return Site.objects.filter(id__in=site_ids)


def patients_visible_to(user: AnyUser) -> QuerySet[Patient]:
    """Patients with at least one study the user may see."""
    site_ids = visible_site_ids(user)
    if site_ids is None:
        return Patient.objects.all()
    return Patient.objects.filter(
        id__in=Study.objects.filter(site_id__in=site_ids).values("patient_id")
    )
