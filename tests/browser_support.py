"""Debian's Chromium driven by Playwright, for the browser tests: found, launched and closed in
one place. Skipped where no Chromium is installed (a bare developer machine); CI installs it and
sets REQUIRE_BROWSER=1, which turns the skip into a failure."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

if CHROMIUM is None and os.environ.get("REQUIRE_BROWSER") == "1":
    raise RuntimeError("REQUIRE_BROWSER=1 but no chromium is installed")

# Headless as root, and nothing that reaches for the network: this machine's network is closed.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@contextlib.contextmanager
def chromium(*, extra_args: Sequence[str] = ()) -> Iterator[Any]:
    """A launched Chromium (Playwright's sync API), closed afterwards."""
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args]
            )
            try:
                yield browser
            finally:
                browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def asgi_server(settings: Any) -> Iterator[str]:
    """teleradiology.asgi.application (pages, static files, the live socket) served by uvicorn
    in this process on a free port, for the browser tests (a test module imports this fixture
    by name)."""
    import uvicorn

    from teleradiology.asgi import application

    settings.LIVE_BATCH_SECONDS = 0.05  # the production path: batched, sent by the broadcaster
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="error")
    )
    thread = threading.Thread(target=server.run, name="asgi-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def signed_in_page(
    browser: Any, base: str, username: str, password: str, *, width: int, height: int
) -> Any:
    """A new page of ``browser``, signed in as ``username``, on the worklist."""
    from django.urls import reverse

    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(base + reverse("login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{reverse('worklist')}*")
    return page
