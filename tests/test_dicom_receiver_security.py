"""Who may send DICOM and how much they can make the receiver hold, over real TCP: allowed
addresses required outside the demo, associations per address against floods of idle
connections, slow senders, TLS and mutual TLS, and failed instances kept whole only when small."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
from django.core import checks
from django.core.exceptions import ValidationError
from django.test import override_settings
from pynetdicom import AE

from dicom.models import DicomSiteSettings, FailedInstance, RejectedAssociation
from dicom.scp import DATASET_DOES_NOT_MATCH, SUCCESS, VERIFICATION_SOP_CLASS, Receiver
from dicom.services.associations import SiteContext
from dicom.services.instances import instance_reject
from teleradiology.listeners import server_tls_context
from tests.dicom_support import OUR_AE, SITE_AE, AssociationRejected, instance, new_uid, send
from tests.tls_support import Pki, make_pki
from worklists.models import Study

pytestmark = pytest.mark.django_db(transaction=True)

FLOODER = "127.0.0.2"  # another machine, as far as the receiver can tell


@pytest.fixture
def pacs_site(site_a):
    site_a.dicom_ae_title = SITE_AE
    site_a.save(update_fields=["dicom_ae_title"])
    return site_a


@contextmanager
def receiver(**options) -> Iterator[int]:
    running = Receiver(ae_title=OUR_AE, port=0, host="127.0.0.1", **options)
    port = running.start()
    try:
        yield port
    finally:
        running.stop()


def echo(
    port: int, *, source: str = "127.0.0.1", tls: ssl.SSLContext | None = None, timeout: float = 10
) -> int:
    ae = AE(ae_title=SITE_AE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.add_requested_context(VERIFICATION_SOP_CLASS)
    assoc = ae.associate(
        "127.0.0.1",
        port,
        ae_title=OUR_AE,
        bind_address=(source, 0),
        tls_args=(tls, "127.0.0.1") if tls else None,
    )
    if not assoc.is_established:
        raise AssociationRejected(f"rejected={assoc.is_rejected} aborted={assoc.is_aborted}")
    try:
        return int(assoc.send_c_echo().Status)
    finally:
        assoc.release()


def _idle(port: int, source: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


def _closed_by_peer(sock: socket.socket, *, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


# --- Allowed addresses ------------------------------------------------------------------------


@pytest.fixture
def outside_demo(settings):
    settings.LISTENER_REQUIRE_ALLOWED_ADDRESSES = True


def test_outside_the_demo_a_site_without_allowed_addresses_is_rejected(outside_demo, pacs_site):
    with receiver() as port, pytest.raises(AssociationRejected, match="rejected=True"):
        echo(port)

    assert "has no allowed source addresses configured" in RejectedAssociation.objects.get().reason


def test_outside_the_demo_a_site_from_its_allowed_network_is_accepted(outside_demo, pacs_site):
    DicomSiteSettings.objects.create(site=pacs_site, allowed_source_addresses="127.0.0.0/30")

    with receiver() as port:
        assert echo(port) == SUCCESS
        with pytest.raises(AssociationRejected):
            echo(port, source="127.0.0.9")

    assert "only from 127.0.0.0/30, not from 127.0.0.9" in RejectedAssociation.objects.get().reason


def test_site_settings_without_addresses_outside_the_demo_are_a_validation_error(
    outside_demo, pacs_site
):
    row = DicomSiteSettings(site=pacs_site)
    with pytest.raises(ValidationError) as missing:
        row.full_clean()
    assert "allowed_source_addresses" in missing.value.message_dict

    row.allowed_source_addresses = "192.0.2.0/24"
    row.full_clean()


def test_the_system_check_names_a_dicom_site_that_could_not_send(outside_demo, pacs_site):
    found = checks.run_checks(databases=["default"], tags=[checks.Tags.security])
    ours = [m for m in found if m.id == "dicom.W001"]

    assert len(ours) == 1
    assert pacs_site.code in ours[0].msg


# --- Floods and slow senders ------------------------------------------------------------------


def test_55_idle_connections_from_one_address_do_not_lock_out_a_real_sender(pacs_site):
    with receiver(max_associations=50, max_associations_per_address=8) as port, ExitStack() as s:
        flood = [s.enter_context(_idle(port, FLOODER)) for _ in range(55)]
        time.sleep(0.5)

        start = time.monotonic()
        assert echo(port) == SUCCESS
        assert time.monotonic() - start < 5
        still_open = sum(not _closed_by_peer(sock, within=0.02) for sock in flood)
        assert still_open <= 8


def test_a_connection_that_never_asks_for_an_association_is_closed_after_the_acse_timeout(
    pacs_site,
):
    with receiver(acse_timeout=1.0) as port, _idle(port, FLOODER) as sock:
        start = time.monotonic()
        assert _closed_by_peer(sock, within=10)
        assert time.monotonic() - start < 5


def test_a_slow_sender_does_not_hold_up_a_real_sender(pacs_site):
    # The start of an A-ASSOCIATE-RQ (PDU type 1, length), one byte at a time.
    dribble_done = threading.Event()

    def dribble(port: int) -> None:
        with _idle(port, FLOODER) as sock:
            for byte in b"\x01\x00\x00\x00\x00\xcd\x00\x01":
                sock.sendall(bytes([byte]))
                time.sleep(0.2)
        dribble_done.set()

    with receiver() as port:
        thread = threading.Thread(target=dribble, args=(port,))
        thread.start()
        time.sleep(0.3)
        start = time.monotonic()
        status = echo(port)
        took = time.monotonic() - start
        thread.join(timeout=30)

    assert status == SUCCESS
    assert took < 1.5
    assert dribble_done.is_set()


# --- TLS --------------------------------------------------------------------------------------


@contextmanager
def tls_receiver(tmp_path, *, mutual: bool) -> Iterator[tuple[int, Pki]]:
    pki = make_pki(tmp_path)
    context = server_tls_context(
        cert_file=str(pki.server_cert),
        key_file=str(pki.server_key),
        client_ca_file=str(pki.ca) if mutual else "",
    )
    with receiver(tls=context) as port:
        yield port, pki


def test_an_echo_over_tls_is_answered(pacs_site, tmp_path):
    with tls_receiver(tmp_path, mutual=False) as (port, pki):
        assert echo(port, tls=pki.client_context(with_certificate=False)) == SUCCESS


def test_instances_over_mutual_tls_are_stored_and_a_client_without_certificate_is_refused(
    pacs_site, tmp_path
):
    with tls_receiver(tmp_path, mutual=True) as (port, pki):
        with pytest.raises(AssociationRejected, match="rejected=False"):
            echo(port, tls=pki.client_context(with_certificate=False))
        with pytest.raises(AssociationRejected):
            echo(port)  # plain TCP to a TLS port
        assert echo(port, tls=pki.client_context(with_certificate=True)) == SUCCESS

    assert not Study.objects.exists()


def test_a_stalled_tls_handshake_does_not_hold_up_other_clients(pacs_site, tmp_path):
    with tls_receiver(tmp_path, mutual=False) as (port, pki), _idle(port, FLOODER):
        # That connection never says hello; the next client is served all the same.
        start = time.monotonic()
        assert echo(port, tls=pki.client_context(with_certificate=False)) == SUCCESS
        assert time.monotonic() - start < 5


# --- Failed instances -------------------------------------------------------------------------


@override_settings(
    DICOM_FAILED_INSTANCE_KEEP_WHOLE_BYTES=1000, DICOM_FAILED_INSTANCE_HEAD_BYTES=256
)
def test_a_large_refused_instance_keeps_its_head_size_and_reason(pacs_site):
    refused = instance(study_uid=new_uid(), accession="BIGBAD")
    del refused.StudyInstanceUID

    with receiver() as port:
        assert send(port, [refused]) == [DATASET_DOES_NOT_MATCH]

    failure = FailedInstance.objects.get()
    assert len(bytes(failure.raw)) == 256
    assert failure.raw_size > 1000
    assert not failure.raw_is_whole
    assert failure.error.startswith("StudyInstanceUID is missing")
    assert f"only the first 256 of its {failure.raw_size} bytes are kept" in failure.error


@pytest.mark.parametrize(("size", "whole"), [(999, True), (1000, False), (50_000, False)])
@override_settings(
    DICOM_FAILED_INSTANCE_KEEP_WHOLE_BYTES=1000, DICOM_FAILED_INSTANCE_HEAD_BYTES=256
)
def test_a_refused_instance_is_kept_whole_only_below_the_size_setting(pacs_site, size, whole):
    raw = bytes(range(256)) * (size // 256) + b"\x00" * (size % 256)
    context = SiteContext(
        site_id=pacs_site.id, site_code=pacs_site.code, calling_ae_title=SITE_AE, peer_address="x"
    )

    instance_reject(
        context=context,
        status=DATASET_DOES_NOT_MATCH,
        error="reason",
        sop_class_uid="1.2",
        sop_instance_uid="1.2.3",
        raw=raw,
    )

    failure = FailedInstance.objects.get()
    assert failure.raw_size == size
    assert bytes(failure.raw) == (raw if whole else raw[:256])
    assert failure.raw_is_whole is whole
