"""Personas: the owner (a radiologist credentialed at site A), another radiologist at site A,
a radiologist of another site (B only), a site user of A, and a coordinator."""

from __future__ import annotations

import contextlib
import os

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from teleradiology.celery import app as celery_app
from tests import factories
from worklists.access import COORDINATORS_GROUP
from worklists.models import SiteApiToken, SiteMembership, Worklist

celery_app.conf.task_always_eager = True
# Threads of the tests (live server, WebSocket consumers, concurrency tests) must not keep
# connections open after they finish, or the test database cannot be dropped at the end.
settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
# Live updates go out from the committing thread, so that a test reads the channel layer at a
# known moment; tests of the batching and the browser tests set their own interval.
settings.LIVE_BATCH_SECONDS = 0


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Django deletes an SQLite test database's file but not its WAL and shared-memory files,
    which outlive it when a server thread's connection closed late."""
    name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and name:
        for leftover in (f"{name}-wal", f"{name}-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(leftover)


@pytest.fixture
def site_a(db):
    return factories.SiteFactory(code="alfa", name="Alfa sjukehus", hl7_sending_facility="ALFA")


@pytest.fixture
def site_b(db):
    return factories.SiteFactory(
        code="bravo",
        name="Bravo røntgeninstitutt",
        kind="PRIVATE_INSTITUTE",
        hl7_sending_facility="BRAVO",
    )


@pytest.fixture
def general_worklist(db):
    # get_or_create: transactional tests flush the rows the data migration created.
    return Worklist.objects.get_or_create(
        is_general=True, defaults={"code": "general", "name": "General"}
    )[0]


@pytest.fixture
def neuro(db):
    return factories.WorklistFactory(code="neuro", name="Nevroradiologi")


@pytest.fixture
def owner(site_a, neuro):
    rad = factories.RadiologistFactory(user__username="owner")
    factories.credential(rad, site_a)
    factories.competence(rad, neuro)
    return rad


@pytest.fixture
def other_radiologist(site_a, neuro):
    rad = factories.RadiologistFactory(user__username="other")
    factories.credential(rad, site_a)
    factories.competence(rad, neuro)
    return rad


@pytest.fixture
def on_shift(owner, other_radiologist, neuro):
    """The owner and another radiologist, both on a shift for neuro now."""
    factories.shift(owner, worklists=(neuro,))
    factories.shift(other_radiologist, worklists=(neuro,))
    return owner, other_radiologist


@pytest.fixture
def fresh_routing_caches():
    """Nothing this process derived from the routing configuration outlives the test."""
    from worklists.services.routing import forget_coverage_cache

    forget_coverage_cache()
    yield
    forget_coverage_cache()


@pytest.fixture
def outsider(site_b, neuro):
    """A radiologist credentialed only at another site."""
    rad = factories.RadiologistFactory(user__username="outsider")
    factories.credential(rad, site_b)
    factories.competence(rad, neuro)
    return rad


@pytest.fixture
def site_user(site_a):
    user = factories.UserFactory(username="alfa-desk")
    SiteMembership.objects.create(user=user, site=site_a)
    return user


@pytest.fixture
def coordinator(db):
    user = factories.UserFactory(username="coord")
    user.groups.add(Group.objects.get_or_create(name=COORDINATORS_GROUP)[0])
    return user


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for():
    """An API client logged in (by personal token) as the given user."""

    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return make


@pytest.fixture
def site_a_client(site_a):
    token = SiteApiToken.objects.create(site=site_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness protects real passwords, not test fixtures.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_cache(settings):
    # Tests clear the cache (throttling); with REDIS_URL set that must not be a shared Redis.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
