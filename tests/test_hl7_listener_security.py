"""Who may send HL7 and how much they can make the listener hold, over real sockets: allowed
addresses required outside the demo, unknown senders answered AR with their head only kept,
connection and unfinished-byte limits, the idle timeout, floods and slow senders, TLS and
mutual TLS, and ZDS-1 StudyInstanceUIDs checked as the REST API checks them."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress

import pytest
from django.contrib import admin
from django.core import checks
from django.core.exceptions import ValidationError
from django.test import override_settings

from demo_ris.orders import orm_o01
from hl7_interface import services
from hl7_interface.admin import SiteHl7ConfigAdmin
from hl7_interface.client import MllpClient, parse_ack
from hl7_interface.listener import running_listener
from hl7_interface.mllp import EB, SB, frame
from hl7_interface.models import SiteHl7Config
from teleradiology.listeners import server_tls_context
from tests.hl7_support import hl7_site, listener, send, spec
from tests.tls_support import make_pki
from worklists.models import InboundMessage, Study

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURES = (hl7_site, listener)

# Loopback addresses other than 127.0.0.1 play other machines (Linux routes all of 127/8).
FLOODER = "127.0.0.2"


@pytest.fixture
def outside_demo(settings):
    settings.LISTENER_REQUIRE_ALLOWED_ADDRESSES = True
    services.sites.clear()
    yield
    services.sites.clear()


def _connect(port: int, *, source: str = "127.0.0.1", timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(
        ("127.0.0.1", port), timeout=timeout, source_address=(source, 0)
    )


def _closed_by_peer(sock: socket.socket, *, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def _read_ack(sock: socket.socket) -> bytes:
    data = b""
    while EB not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    return data[data.index(SB) + 1 : data.index(EB)]


# --- Allowed addresses ------------------------------------------------------------------------


def test_outside_the_demo_a_site_without_allowed_addresses_is_refused_ar(outside_demo, listener):
    ack = send(listener.port, orm_o01(spec("ACC-NOADDR"), facility="ALFA"))

    assert ack.code == "AR"
    assert "has no allowed source addresses configured" in ack.text
    assert not Study.objects.exists()
    assert InboundMessage.objects.get().status == "FAILED"


def test_outside_the_demo_a_site_sending_from_its_allowed_network_is_applied(
    outside_demo, listener, hl7_site
):
    SiteHl7Config.objects.filter(site=hl7_site).update(allowed_source_addresses="127.0.0.0/24")
    services.sites.clear()

    assert send(listener.port, orm_o01(spec("ACC-ADDR-OK"), facility="ALFA")).code == "AA"
    assert Study.objects.filter(accession_number="ACC-ADDR-OK").exists()


def test_the_demo_still_accepts_a_site_without_allowed_addresses(listener):
    assert send(listener.port, orm_o01(spec("ACC-DEMO"), facility="ALFA")).code == "AA"


def test_saving_a_site_configuration_without_addresses_outside_the_demo_is_a_form_error(
    outside_demo, hl7_site
):
    config = SiteHl7Config.objects.get(site=hl7_site)
    with pytest.raises(ValidationError) as missing:
        config.full_clean()
    assert "Required outside the embedded demo" in str(
        missing.value.message_dict["allowed_source_addresses"]
    )

    config.allowed_source_addresses = "192.0.2.10, 198.51.100.0/28"
    config.full_clean()

    config.allowed_source_addresses = "192.0.2.10, ris.example"
    with pytest.raises(ValidationError, match=r"'ris\.example' is not an IP address or network"):
        config.full_clean()


def test_the_admin_form_shows_the_missing_addresses_error(outside_demo, hl7_site, rf, admin_user):
    request = rf.get("/")
    request.user = admin_user
    form_class = SiteHl7ConfigAdmin(SiteHl7Config, admin.site).get_form(request)
    config = SiteHl7Config.objects.get(site=hl7_site)
    data = {
        "site": hl7_site.id,
        "receiving_application": "RIS",
        "receiving_facility": "ALFA-RIS",
        "ris_host": "",
        "ris_port": "",
        "allowed_source_addresses": "",
        "default_charset": config.default_charset,
    }
    form = form_class(data=data, instance=config)

    assert not form.is_valid()
    assert "Required outside the embedded demo" in form.errors["allowed_source_addresses"][0]


def test_the_system_check_names_each_site_that_could_not_send(outside_demo, hl7_site):
    found = checks.run_checks(databases=["default"], tags=[checks.Tags.security])
    ours = [m for m in found if m.id == "hl7_interface.W001"]

    assert len(ours) == 1
    assert hl7_site.code in ours[0].msg
    assert "no allowed source addresses" in ours[0].msg

    SiteHl7Config.objects.filter(site=hl7_site).update(allowed_source_addresses="192.0.2.10")
    found = checks.run_checks(databases=["default"], tags=[checks.Tags.security])
    assert not [m for m in found if m.id == "hl7_interface.W001"]


# --- Unknown senders --------------------------------------------------------------------------


@override_settings(HL7_UNKNOWN_SENDER_KEEP_BYTES=300)
def test_an_unknown_facility_is_answered_ar_and_only_the_head_of_its_frame_is_kept(listener):
    raw = orm_o01(spec("ACC-STRANGER", question="x" * 50_000), facility="STRANGER")

    ack = send(listener.port, raw)

    assert ack.code == "AR"
    assert "unknown sending facility" in ack.text
    stored = InboundMessage.objects.get()
    assert (stored.status, stored.site_id) == ("FAILED", None)
    assert bytes(stored.raw) == raw[:300]
    assert not Study.objects.exists()


@override_settings(HL7_UNKNOWN_SENDER_KEEP_BYTES=300)
def test_a_known_facility_from_a_wrong_address_keeps_only_the_head(listener, hl7_site):
    SiteHl7Config.objects.filter(site=hl7_site).update(allowed_source_addresses="10.0.0.0/8")
    services.sites.clear()
    raw = orm_o01(spec("ACC-SPOOF", question="x" * 5000), facility="ALFA")

    assert send(listener.port, raw).code == "AR"
    assert bytes(InboundMessage.objects.get().raw) == raw[:300]


@override_settings(HL7_UNKNOWN_SENDER_KEEP_BYTES=300)
def test_a_known_sender_keeps_its_whole_frame(listener):
    raw = orm_o01(spec("ACC-WHOLE", question="x" * 5000), facility="ALFA")

    assert send(listener.port, raw).code == "AA"
    assert bytes(InboundMessage.objects.get().raw) == raw


# --- ZDS-1 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uid", ["1.2.826.0.1&StudyInstanceUIDs=9.9.9", "1.2.826.0.1#x", "1.2.826.0.1 OR 1", "1..2"]
)
def test_a_zds_study_uid_that_is_not_a_dicom_uid_is_ae_naming_zds_1(listener, uid):
    ack = send(listener.port, orm_o01(spec("ACC-ZDS", study_uid=uid), facility="ALFA"))

    assert ack.code == "AE"
    assert "ZDS^1" in ack.text or "ZDS-1" in ack.text
    assert "not a DICOM UID" in ack.text
    assert not Study.objects.exists()
    assert InboundMessage.objects.get().status == "FAILED"


def test_a_zds_study_uid_of_digits_and_dots_is_kept(listener):
    uid = "1.2.826.0.1.3680043.8.498.77"
    assert (
        send(listener.port, orm_o01(spec("ACC-ZDSOK", study_uid=uid), facility="ALFA")).code == "AA"
    )
    assert Study.objects.get().study_instance_uid == uid


# --- Connection and byte limits ---------------------------------------------------------------


def test_connections_over_the_per_address_limit_are_closed_and_others_still_served(
    hl7_site, general_worklist
):
    with running_listener(workers=1, max_connections_per_address=3) as small, ExitStack() as stack:
        held = [stack.enter_context(_connect(small.port, source=FLOODER)) for _ in range(3)]
        time.sleep(0.2)
        extra = stack.enter_context(_connect(small.port, source=FLOODER))

        assert _closed_by_peer(extra, within=5)
        assert not any(_closed_by_peer(sock, within=0.05) for sock in held)
        assert send(small.port, orm_o01(spec("ACC-REAL"), facility="ALFA")).code == "AA"


def test_an_unfinished_frame_holds_at_most_the_frame_limit_per_connection(
    hl7_site, general_worklist
):
    with running_listener(workers=1, max_frame_bytes=2000) as small, _connect(small.port) as sock:
        raw = orm_o01(spec("ACC-LONG", question="y" * 20_000), facility="ALFA")
        sock.sendall(SB + raw)
        _wait_for(lambda: small.unfinished_total > 0)
        time.sleep(0.2)

        assert small.unfinished_total <= 2000
        sock.sendall(EB + b"\r")
        ack = parse_ack(_read_ack(sock))

    assert ack.code == "AR"
    assert bytes(InboundMessage.objects.get().raw) == raw[:2000]


def test_the_connection_passing_the_total_unfinished_bytes_is_closed_others_keep_going(
    hl7_site, general_worklist
):
    with (
        running_listener(workers=1, max_frame_bytes=4000, max_unfinished_total=5000) as small,
        _connect(small.port) as first,
        _connect(small.port) as second,
    ):
        first.sendall(SB + b"MSH|" + b"a" * 3000)
        _wait_for(lambda: small.unfinished_total >= 3000)
        second.sendall(SB + b"MSH|" + b"b" * 3000)

        assert _closed_by_peer(second, within=5)
        assert not _closed_by_peer(first, within=0.1)
        assert small.unfinished_total <= 5000
        assert send(small.port, orm_o01(spec("ACC-TOTAL"), facility="ALFA")).code == "AA"


def test_the_idle_timeout_counts_from_the_last_complete_frame_not_the_last_byte(
    hl7_site, general_worklist
):
    with running_listener(workers=1, idle_timeout=1.0) as idle, _connect(idle.port) as sock:
        start = time.monotonic()
        sock.sendall(SB)
        closed_at = None
        while time.monotonic() - start < 5:
            try:
                sock.sendall(b"M")
            except OSError:
                closed_at = time.monotonic()
                break
            if _closed_by_peer(sock, within=0.25):
                closed_at = time.monotonic()
                break

        assert closed_at is not None, "one byte every 0.25 s kept the connection open"
        assert closed_at - start < 2.5


def test_complete_frames_keep_a_connection_open_past_the_idle_timeout(hl7_site, general_worklist):
    with (
        running_listener(workers=1, idle_timeout=1.0) as idle,
        MllpClient("127.0.0.1", idle.port) as client,
    ):
        codes = []
        for n in range(4):
            codes.append(client.send_message(orm_o01(spec(f"ACC-K{n}"), facility="ALFA")).code)
            time.sleep(0.6)

    assert codes == ["AA"] * 4


# --- Floods and slow senders ------------------------------------------------------------------


def test_a_connection_flood_does_not_keep_a_real_sender_out(hl7_site, general_worklist):
    with running_listener(workers=2) as running, ExitStack() as stack:
        flood = []
        for _ in range(200):
            try:
                flood.append(stack.enter_context(_connect(running.port, source=FLOODER)))
            except OSError:
                break
        for sock in flood:
            with suppress(OSError):
                sock.sendall(SB + b"MSH|^~\\&|" + b"z" * 1000)

        start = time.monotonic()
        ack = send(running.port, orm_o01(spec("ACC-FLOOD"), facility="ALFA"), timeout=10)

        assert ack.code == "AA"
        assert time.monotonic() - start < 5
        open_from_flooder = sum(not _closed_by_peer(s, within=0.01) for s in flood)
        assert open_from_flooder <= 32


def test_a_slow_sender_is_answered_and_does_not_hold_up_a_real_sender(listener):
    slow_raw = orm_o01(spec("ACC-SLOW"), facility="ALFA")
    slow_ack: list[bytes] = []

    def dribble() -> None:
        with _connect(listener.port) as sock:
            data = frame(slow_raw)
            step = max(1, len(data) // 20)
            for i in range(0, len(data), step):
                sock.sendall(data[i : i + step])
                time.sleep(0.1)
            slow_ack.append(_read_ack(sock))

    thread = threading.Thread(target=dribble)
    thread.start()
    time.sleep(0.3)
    start = time.monotonic()
    fast = send(listener.port, orm_o01(spec("ACC-FAST"), facility="ALFA"))
    fast_took = time.monotonic() - start
    thread.join(timeout=30)

    assert fast.code == "AA"
    assert fast_took < 1.5
    assert parse_ack(slow_ack[0]).code == "AA"
    assert Study.objects.filter(accession_number__in=["ACC-SLOW", "ACC-FAST"]).count() == 2


# --- TLS --------------------------------------------------------------------------------------


@contextmanager
def _tls_listener(tmp_path, *, mutual: bool) -> Iterator[tuple[int, object]]:
    pki = make_pki(tmp_path)
    context = server_tls_context(
        cert_file=str(pki.server_cert),
        key_file=str(pki.server_key),
        client_ca_file=str(pki.ca) if mutual else "",
    )
    with running_listener(workers=1, tls=context) as running:
        yield running.port, pki


def _send_tls(port: int, context: ssl.SSLContext, raw: bytes) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as plain,
        context.wrap_socket(plain, server_hostname="127.0.0.1") as sock,
    ):
        sock.sendall(frame(raw))
        return _read_ack(sock)


def test_mllp_over_tls_is_served(hl7_site, general_worklist, tmp_path):
    with _tls_listener(tmp_path, mutual=False) as (port, pki):
        answer = _send_tls(
            port,
            pki.client_context(with_certificate=False),
            orm_o01(spec("ACC-TLS"), facility="ALFA"),
        )

    assert parse_ack(answer).code == "AA"
    assert Study.objects.filter(accession_number="ACC-TLS").exists()


def test_a_plain_tcp_client_gets_nothing_from_a_tls_listener(hl7_site, general_worklist, tmp_path):
    with _tls_listener(tmp_path, mutual=False) as (port, _pki), _connect(port) as sock:
        sock.sendall(frame(orm_o01(spec("ACC-PLAIN"), facility="ALFA")))
        assert _closed_by_peer(sock, within=10)

    assert not InboundMessage.objects.exists()


def test_mutual_tls_refuses_a_client_without_a_certificate(hl7_site, general_worklist, tmp_path):
    with _tls_listener(tmp_path, mutual=True) as (port, pki):
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _send_tls(
                port,
                pki.client_context(with_certificate=False),
                orm_o01(spec("ACC-NOCERT"), facility="ALFA"),
            )
        answer = _send_tls(
            port,
            pki.client_context(with_certificate=True),
            orm_o01(spec("ACC-CERT"), facility="ALFA"),
        )

    assert parse_ack(answer).code == "AA"
    assert list(InboundMessage.objects.values_list("status", flat=True)) == ["APPLIED"]
    assert not Study.objects.filter(accession_number="ACC-NOCERT").exists()


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


@override_settings(HL7_UNKNOWN_SENDER_KEEP_BYTES=300)
def test_an_oversize_frame_from_an_unknown_sender_keeps_only_the_unknown_senders_head(
    hl7_site, general_worklist
):
    raw = orm_o01(spec("ACC-BIGSTRANGER", question="x" * 50_000), facility="STRANGER")
    with running_listener(workers=1, max_frame_bytes=10_000) as small:
        ack = send(small.port, raw)

    assert ack.code == "AR"
    assert bytes(InboundMessage.objects.get().raw) == raw[:300]
