"""Matrix Raiden Transport for Python: a Raiden node's messaging over Matrix.

    import mrt
    key = mrt.PrivateKey.from_keystore("node.json", password)
    node = mrt.Node(key, "http://127.0.0.1:8008", "node-data")
    node.start()
    message_id = node.send(partner, '{"type": "LockedTransfer", ...}')
    for event in node.events():            # blocks; see mrt.aio for asyncio
        if event.type == "message":
            handle(event.peer, event.body)
        node.consumed(event)               # not reported again after a restart

Every message is signed with the node's Ethereum key, end-to-end encrypted (Olm, Megolm) and
delivered exactly once: send() returns once the message is durable, and its outcome comes as a
`delivered` or `failed` event. Errors are mrt.Error subclasses whose `kind` names the reason.
"""

from __future__ import annotations

import logging
from typing import Callable, Dict, Iterator, Optional

from ._mrt import (
    AddressError,
    EnvelopeError,
    Error,
    Event,
    InvalidKeyError,
    KeystoreError,
    Node,
    NodeError,
    PrivateKey,
    SignatureError,
    broadcast_envelope,
    checksum_address,
    message_envelope,
    recover,
    refuse_broadcast_event,
    run_vectors,
    sign,
    validate_envelope,
)

__all__ = [
    "AddressError",
    "EnvelopeError",
    "Error",
    "Event",
    "InvalidKeyError",
    "KeystoreError",
    "Node",
    "NodeError",
    "PrivateKey",
    "SignatureError",
    "broadcast_envelope",
    "checksum_address",
    "message_envelope",
    "recover",
    "refuse_broadcast_event",
    "run_vectors",
    "sign",
    "log_to",
    "validate_envelope",
]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def log_to(logger: logging.Logger) -> Callable[[Dict[str, object]], None]:
    """An on_log for mrt.Node that hands each record to `logger` at its level, as
    "component/event {fields}", the record itself in the LogRecord's `mrt` attribute:

        node = mrt.Node(key, url, "data", on_log=mrt.log_to(logging.getLogger("mrt")))
    """
    def on_log(record: Dict[str, object]) -> None:
        logger.log(_LEVELS.get(str(record["level"]), logging.INFO), "%s/%s %s",
                   record["component"], record["event"], record["fields"],
                   extra={"mrt": record})
    return on_log


def _events(self: Node, timeout: Optional[float] = None) -> Iterator[Event]:
    """Events as they come, blocking between them (the GIL released); ends once the node
    stopped, or after `timeout` seconds without an event. Consuming each is the caller's
    (Node.consumed), once it handled it."""
    while True:
        event = self.next_event(timeout)
        if event is None:
            return
        yield event


def _enter(self: Node) -> Node:
    self.start()
    return self


def _exit(self: Node, *exc: object) -> None:
    self.stop()


Node.events = _events  # type: ignore[attr-defined]
Node.__enter__ = _enter  # type: ignore[attr-defined]
Node.__exit__ = _exit  # type: ignore[attr-defined]
