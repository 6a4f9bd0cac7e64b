"""The embedded default runs periodic tasks and receivers in-process (manage.py serve)."""

from __future__ import annotations

import threading

from celery import shared_task
from django.test import override_settings

from teleradiology.embedded import start_embedded_services

fired = threading.Event()
service_saw_stop = threading.Event()


@shared_task(name="tests.embedded.mark_fired")
def mark_fired() -> None:
    fired.set()


def blocking_service(stop: threading.Event) -> None:
    stop.wait(5)
    service_saw_stop.set()


def failing_service(stop: threading.Event) -> None:
    raise OSError("address already in use")


@override_settings(
    CELERY_BEAT_SCHEDULE={"mark": {"task": "tests.embedded.mark_fired", "schedule": 0.05}},
    EMBEDDED_SERVICES=[
        "tests.test_embedded_services.failing_service",
        "tests.test_embedded_services.blocking_service",
    ],
)
def test_periodic_tasks_fire_and_services_run_until_stopped() -> None:
    stop = threading.Event()
    threads = start_embedded_services(stop)
    try:
        assert fired.wait(5), "the periodic task never ran"
        assert all(thread.daemon for thread in threads)
    finally:
        stop.set()
    assert service_saw_stop.wait(5)
    for thread in threads:
        thread.join(5)
        assert not thread.is_alive()
