"""The DICOM receiver: C-ECHO and C-STORE over pynetdicom.

A thin edge: it turns associations and C-STORE requests into service calls and service
outcomes into DIMSE statuses. Each association runs in its own pynetdicom thread, with its own
database connection, closed when the association ends.
"""

from __future__ import annotations

import collections
import logging
import socket
import ssl
import threading
import weakref
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.db import connection
from django.utils import timezone
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.events import Event
from pynetdicom.presentation import AllStoragePresentationContexts
from pynetdicom.transport import ThreadedAssociationServer

from dicom.checks import sites_that_cannot_send
from dicom.metadata import InvalidInstance, UndecodableInstance, parse_instance
from dicom.services.associations import AssociationRefused, SiteContext, association_authorize
from dicom.services.instances import instance_receive, instance_reject
from dicom.services.storage import instance_write
from teleradiology.listeners import dicom_tls_context

logger = logging.getLogger(__name__)

# Uncompressed and the usual compressed syntaxes: a PACS sends what it holds, and the receiver
# keeps the bytes as sent (it reads metadata only, never pixels).
TRANSFER_SYNTAXES = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
]

VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1"

# DIMSE statuses (PS3.4 Annex B and PS3.7 Annex C).
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700  # our side failed (database, disk): the sender should retry
DATASET_DOES_NOT_MATCH = 0xA900  # required attributes missing or invalid
CANNOT_UNDERSTAND = 0xC000  # the bytes are not a dataset we can read
ASSOCIATION_UNKNOWN = 0xC001  # no site for this association (should not happen: refused)


def set_nodelay(sock: socket.socket | None) -> None:
    """Small PDUs go out at once: without TCP_NODELAY each C-STORE response can wait for a
    delayed ACK (pynetdicom does not set it)."""
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            logger.debug("could not set TCP_NODELAY", exc_info=True)


class GuardedAssociationServer(ThreadedAssociationServer):
    """pynetdicom's threaded server, holding the line against floods of connections.

    pynetdicom counts a connection against ``maximum_associations`` from its first byte, until
    it is released or its ACSE (ARTIM) timeout passes: idle connections from one address could
    take every slot. Here one address holds at most ``max_per_address`` connections (more are
    closed at once), and the TLS handshake runs in the connection's own thread with a timeout,
    not in the accepting thread (pynetdicom's default), so a client that stalls its handshake
    holds up no one else.
    """

    max_per_address = 8
    handshake_timeout = 10.0

    def server_activate(self) -> None:
        self._guard = threading.Lock()
        # Connections accepted whose association thread has not started yet.
        self._starting: collections.Counter[str] = collections.Counter()
        super().server_activate()

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        assert self.socket is not None
        client_socket, address = self.socket.accept()
        if self.ssl_context:
            client_socket = self.ssl_context.wrap_socket(
                client_socket, server_side=True, do_handshake_on_connect=False
            )
        return client_socket, address

    def open_from(self, host: str) -> int:
        """Connections open from ``host``: running associations and ones starting."""
        running = sum(1 for assoc in self.active_associations if assoc.requestor.address == host)
        return running + self._starting[host]

    def verify_request(self, request: Any, client_address: Any) -> bool:
        host = str(client_address[0])
        with self._guard:
            if self.open_from(host) >= self.max_per_address:
                logger.warning(
                    "DICOM connection from %s refused: already %d open from that address",
                    host,
                    self.max_per_address,
                )
                return False
            self._starting[host] += 1
        return True

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        host = str(client_address[0])
        try:
            if isinstance(request, ssl.SSLSocket):
                try:
                    request.settimeout(self.handshake_timeout)
                    request.do_handshake()
                    request.settimeout(None)
                except (OSError, ssl.SSLError) as exc:
                    logger.info("DICOM TLS handshake with %s failed: %s", host, exc)
                    self.shutdown_request(request)
                    return
            super().process_request_thread(request, client_address)
        finally:
            with self._guard:
                self._starting[host] -= 1
                if self._starting[host] <= 0:
                    del self._starting[host]


@dataclass
class Receiver:
    """One listening SCP. ``start()`` returns once the port is bound."""

    ae_title: str
    port: int
    host: str = "0.0.0.0"  # noqa: S104 (a receiver for PACS on the network; unknown AEs are refused)
    storage_dir: str = ""
    tls: ssl.SSLContext | None = None
    max_associations: int = 50
    max_associations_per_address: int = 8
    acse_timeout: float = 10.0
    network_timeout: float = 300.0

    def __post_init__(self) -> None:
        self._sites: weakref.WeakKeyDictionary[Association, SiteContext] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self._server: ThreadedAssociationServer | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> int:
        ae = AE(ae_title=self.ae_title)
        ae.add_supported_context(VERIFICATION_SOP_CLASS)
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is not None:
                ae.add_supported_context(context.abstract_syntax, TRANSFER_SYNTAXES)
        ae.maximum_associations = self.max_associations
        # Large studies over slow links: a long idle time is normal between instances.
        ae.network_timeout = self.network_timeout
        # A connection must ask for its association within this (pynetdicom's ARTIM timer too):
        # until then it holds one of maximum_associations.
        ae.acse_timeout = self.acse_timeout
        ae.dimse_timeout = 300
        handlers: list[Any] = [
            (evt.EVT_CONN_OPEN, self._on_connection_open),
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_RELEASED, self._on_association_end),
            (evt.EVT_ABORTED, self._on_association_end),
        ]
        server = cast(
            GuardedAssociationServer,
            ae.make_server(
                (self.host, self.port),
                ssl_context=self.tls,
                evt_handlers=handlers,
                server_class=GuardedAssociationServer,
            ),
        )
        server.max_per_address = self.max_associations_per_address
        server.handshake_timeout = settings.LISTENER_TLS_HANDSHAKE_TIMEOUT_SECONDS
        # As AE.start_server(block=False) does, with our server class.
        thread = threading.Thread(target=server.serve_forever, name="dicom-acceptor", daemon=True)
        thread.start()
        # The server's shutdown() takes itself off this list.
        ae._servers.append(server)
        self._server = server
        bound_port: int = server.server_address[1]
        logger.info(
            "DICOM receiver %s listening on %s:%s%s",
            self.ae_title,
            self.host,
            bound_port,
            " (TLS)" if self.tls else "",
        )
        # In a thread of its own: the caller's database connection (a test's transaction) is
        # left alone, and the check's connection goes with the thread.
        threading.Thread(target=_warn_sites_that_cannot_send, name="dicom-check").start()
        return bound_port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- handlers --------------------------------------------------------------------------

    def _on_connection_open(self, event: Event) -> None:
        set_nodelay(getattr(event.assoc.dul.socket, "socket", None))

    def _on_requested(self, event: Event) -> None:
        assoc = event.assoc
        requestor = assoc.requestor
        primitive = requestor.primitive
        # The requestor's AE title is filled in only after negotiation: read the request.
        called = str(primitive.called_ae_title) if primitive is not None else ""
        calling = str(primitive.calling_ae_title) if primitive is not None else ""
        try:
            context = association_authorize(
                calling_ae_title=calling,
                called_ae_title=called,
                peer_address=requestor.address,
                our_ae_title=self.ae_title,
            )
        except AssociationRefused as refused:
            self._reject(assoc, 0x01, refused.diagnostic)
            return
        except Exception:
            logger.exception("DICOM association from %s could not be checked", requestor.address)
            # Transient: the peer may try again (the database may be back by then).
            self._reject(assoc, 0x02, 0x01)
            return
        with self._lock:
            self._sites[assoc] = context

    def _reject(self, assoc: Association, result: int, diagnostic: int) -> None:
        assoc.acse.send_reject(result, 0x01, diagnostic)
        # As pynetdicom does for its own rejections: stopping the DUL lets the A-ASSOCIATE-RJ
        # go out before the socket is closed (else the peer sees an abort, not the reason).
        assoc.kill()
        connection.close()

    def _on_echo(self, event: Event) -> int:
        return SUCCESS

    def _context_of(self, assoc: Association) -> SiteContext | None:
        with self._lock:
            return self._sites.get(assoc)

    def _on_store(self, event: Event) -> int:
        context = self._context_of(event.assoc)
        request = cast(C_STORE, event.request)
        sop_class = str(request.AffectedSOPClassUID or "")
        sop_instance = str(request.AffectedSOPInstanceUID or "")
        if context is None:
            return ASSOCIATION_UNKNOWN
        received_at = timezone.now()
        try:
            dataset: Dataset = event.dataset
            meta = parse_instance(
                dataset,
                sop_class_uid=sop_class,
                sop_instance_uid=sop_instance,
                transfer_syntax=str(event.context.transfer_syntax),
            )
        except UndecodableInstance as exc:
            return self._refuse(
                event, context, CANNOT_UNDERSTAND, str(exc), sop_class, sop_instance
            )
        except InvalidInstance as exc:
            return self._refuse(
                event, context, DATASET_DOES_NOT_MATCH, str(exc), sop_class, sop_instance
            )
        except Exception as exc:
            return self._refuse(
                event,
                context,
                CANNOT_UNDERSTAND,
                f"undecodable dataset: {exc}",
                sop_class,
                sop_instance,
            )
        try:
            storage_path = ""
            if self.storage_dir:
                storage_path = instance_write(
                    storage_dir=self.storage_dir, meta=meta, encoded=event.encoded_dataset()
                )
            instance_receive(
                context=context, meta=meta, received_at=received_at, storage_path=storage_path
            )
        except Exception as exc:
            logger.exception(
                "DICOM instance %s from %s could not be recorded",
                sop_instance,
                context.calling_ae_title,
            )
            # A broken connection would fail every later instance of this association.
            connection.close()
            return self._refuse(
                event, context, OUT_OF_RESOURCES, f"not recorded: {exc}", sop_class, sop_instance
            )
        return SUCCESS

    def _refuse(
        self,
        event: Event,
        context: SiteContext,
        status: int,
        error: str,
        sop_class: str,
        sop_instance: str,
    ) -> int:
        logger.warning(
            "DICOM instance %s from %s refused (0x%04X): %s",
            sop_instance or "?",
            context.calling_ae_title,
            status,
            error,
        )
        try:
            instance_reject(
                context=context,
                status=status,
                error=error,
                sop_class_uid=sop_class,
                sop_instance_uid=sop_instance,
                raw=event.encoded_dataset(),
            )
        except Exception:
            # The sender has the instance and gets a failure status; it is not lost.
            logger.exception("DICOM failure record for %s could not be written", sop_instance)
            connection.close()
        return status

    def _on_association_end(self, event: Event) -> None:
        with self._lock:
            self._sites.pop(event.assoc, None)
        # This runs in the association's own thread: its database connection goes with it.
        connection.close()


def _warn_sites_that_cannot_send() -> None:
    try:
        for problem in sites_that_cannot_send():
            logger.warning("DICOM: %s", problem)
    except Exception:
        logger.exception("DICOM: the sites' allowed addresses could not be checked")
    finally:
        connection.close()


def receiver_from_settings(*, port: int | None = None, ae_title: str | None = None) -> Receiver:
    return Receiver(
        ae_title=ae_title or settings.DICOM_AE_TITLE,
        port=settings.DICOM_PORT if port is None else port,
        host=settings.DICOM_BIND_ADDRESS,
        storage_dir=settings.DICOM_STORAGE_DIR,
        tls=dicom_tls_context(),
        max_associations=settings.DICOM_MAX_ASSOCIATIONS,
        max_associations_per_address=settings.DICOM_MAX_ASSOCIATIONS_PER_ADDRESS,
        acse_timeout=settings.DICOM_ACSE_TIMEOUT_SECONDS,
        network_timeout=settings.DICOM_NETWORK_TIMEOUT_SECONDS,
    )


def run_embedded(stop: threading.Event) -> None:
    """The receiver inside `manage.py serve` (embedded default): runs until ``stop`` is set."""
    receiver = receiver_from_settings()
    receiver.start()
    try:
        stop.wait()
    finally:
        receiver.stop()
