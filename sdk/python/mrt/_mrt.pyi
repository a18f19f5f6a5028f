"""Types of the `mrt._mrt` extension (re-exported by `mrt`). Errors: every call raises an
mrt.Error subclass whose `kind` names the reason; TypeError for arguments of the wrong type."""

from os import PathLike
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, TypedDict, Union

class Error(Exception):
    kind: str

class NodeError(Error): ...
class KeystoreError(Error): ...
class InvalidKeyError(Error): ...
class AddressError(Error): ...
class SignatureError(Error): ...
class EnvelopeError(Error): ...

_Path = Union[str, PathLike]
# Raiden's capabilities: a bool is published as "1"/"0", an int as its text, a list as its key
# repeated; read back, every value is a str (a list of str for a repeated key).
Capabilities = Dict[str, Union[str, bool, int, List[Union[str, bool, int]]]]

class AddressMetadata(TypedDict, total=False):
    user_id: str
    displayname: str
    capabilities: str

class LogRecord(TypedDict):
    level: str  # debug, info, warning, error
    component: str  # sync, e2ee, ids, broadcast, homes, worker, sdk
    event: str
    fields: Dict[str, object]  # never a secret

class BroadcastRefusal(TypedDict):
    error: str  # not_a_batch, bad_envelope, not_the_sender, not_the_operator
    index: int  # the envelope refused
    reason: Optional[str]  # bad_envelope: the first of PROTOCOL section 4's rules 1-4 it fails
    message: str
_Password = Union[str, bytes]

class PrivateKey:
    @staticmethod
    def generate() -> PrivateKey: ...
    @staticmethod
    def from_hex(hex: str) -> PrivateKey:
        """Raises InvalidKeyError (bad_hex, wrong_length, out_of_range)."""
    @staticmethod
    def from_keystore(path: _Path, password: _Password) -> PrivateKey:
        """Raises KeystoreError (io, malformed, unsupported, unsafe_parameters,
        wrong_password, address_mismatch, invalid_key)."""
    def to_keystore(self, path: _Path, password: _Password, light: bool = False) -> None:
        """Raises KeystoreError (exists, io)."""
    @property
    def address(self) -> str: ...
    @property
    def checksum_address(self) -> str: ...

def sign(key: PrivateKey, data: bytes) -> str: ...
def recover(data: bytes, signature: str) -> str:
    """Raises SignatureError (malformed, bad_v, high_s, r_or_s_out_of_range, no_key)."""
def checksum_address(address: str) -> str:
    """Raises AddressError (malformed, not_lowercase, bad_checksum)."""
def validate_envelope(envelope: str, *, receiver: Optional[str] = None,
                      topic: Optional[str] = None, now_ms: Optional[int] = None,
                      max_bytes: int = 32768, max_age_ms: int = 3600000) -> Dict[str, object]:
    """Raises EnvelopeError (kind: the RejectReason), ValueError (not exactly one of receiver
    and topic), AddressError."""
def message_envelope(key: PrivateKey, recipient: str, body: str,
                     now_ms: Optional[int] = None) -> str: ...
def broadcast_envelope(key: PrivateKey, topic: str, body: str,
                       now_ms: Optional[int] = None) -> str:
    """Raises NodeError(bad_topic)."""
def refuse_broadcast_event(content: str, topic: str, sender: str) -> Optional[BroadcastRefusal]:
    """PROTOCOL section 6 as a homeserver rule: None when the network.raiden.envelopes event
    content (JSON text) that the Matrix user `sender` sends into the broadcast room of `topic`
    passes, else why it is refused. Raises nothing."""
def run_vectors(path: _Path) -> Dict[str, object]: ...

class Event:
    type: str  # message, delivered, failed, rejected, reachability, squatted, store_failed
    id: str
    peer: Optional[str]
    body: str
    ts: int
    carrier: Optional[str]  # room, to_device
    topic: Optional[str]
    reason: Optional[str]
    reachability: Optional[str]  # reachable, unreachable, unknown
    detail: str

class Node:
    """A Raiden node's transport (C++: mrt::Node). Errors are NodeError, whose `kind` is one of
    bad_config, store, login, not_started, too_large, stopped, bad_topic, network, outbox_full,
    squatted, bad_user_id, challenge_failed; an address argument that is not one raises AddressError; arguments
    of the wrong type raise TypeError. Once stop() ran, every call but next_event and
    try_next_event raises NodeError(not_started)."""
    def __init__(self, key: PrivateKey, homeserver: str, data_dir: _Path, *,
                 server_name: str = "", homeservers: Sequence[Tuple[str, str]] = (),
                 homes: int = 1, known_servers: Sequence[str] = (), broadcast_server: str = "",
                 broadcast_operators: Optional[Sequence[str]] = None, carrier: str = "room",
                 allowlist: Optional[Sequence[str]] = None,
                 publishers: Dict[str, Sequence[str]] = {}, max_age_ms: int = 3600000,
                 resend_initial_ms: int = 2000, resend_max_ms: int = 60000,
                 sync_timeout_ms: int = 30000, max_outbox_per_recipient: int = 10000,
                 durable: bool = True, capabilities: Optional[Capabilities] = None,
                 on_log: Optional[Callable[[LogRecord], object]] = None,
                 log_level: str = "info", challenge_candidates: bool = False) -> None:
        """Opens (or creates) the store in data_dir; nothing touches the network yet.
        capabilities: Raiden's, published at login as the profile's avatar_url. on_log: called
        with each record at log_level (debug, info, warning, error) or above, on a thread of its
        own; an exception it raises is reported as unraisable and the node goes on.
        challenge_candidates: a peer's user id is used only once it answered a live challenge.
        Raises NodeError (bad_config: a bad setting, named in the message; store: the data
        directory is locked by another node, sealed under another key, or unreadable),
        AddressError (allowlist, publishers, broadcast_operators)."""
    def start(self) -> None:
        """Logs in, publishes keys, displayname and capabilities, starts syncing; reports
        unconsumed events again. Raises NodeError (login: refused or unreachable; store;
        stopped)."""
    def stop(self) -> None:
        """Stops the node and closes its store (a new mrt.Node may open it). Idempotent; never
        raises."""
    def send(self, to: str, body: str) -> str:
        """Signs a message, makes it durable, queues it; its id. The outcome comes as a
        delivered or failed event. Raises NodeError (not_started, too_large, outbox_full,
        store), AddressError."""
    def send_many(self, to: str, bodies: List[str]) -> List[str]:
        """send() for many bodies with one durable write; ids in order. Raises as send()."""
    def cancel(self, id: str) -> bool:
        """Stops sending message `id`: True when it waited for its ack (no outcome follows),
        False when no such message waits. Raises NodeError (not_started, store)."""
    def subscribe(self, topic: str) -> str:
        """Joins (or creates) the topic's broadcast room; its room id. Raises NodeError
        (bad_topic, squatted, network, not_started)."""
    def broadcast(self, topic: str, body: str) -> str:
        """Publishes a signed broadcast; its id once the homeserver took it. Raises NodeError
        (bad_topic, squatted, too_large, network, not_started)."""
    def watch(self, address: str) -> None:
        """Looks up the partner's ids, opens the DM room, follows its reachability; returns at
        once. Raises NodeError (not_started), AddressError."""
    def discover(self, address: str) -> List[str]:
        """The address's user ids that the homeservers know and whose displayname proves them.
        Raises NodeError (network, not_started), AddressError."""
    def add_user_ids(self, address: str, user_ids: List[str]) -> None:
        """Candidate ids the application knows (at most 16), used once proven. Raises
        NodeError (bad_user_id: an id of another address, or more than 16; not_started),
        AddressError."""
    def add_metadata(self, address: str, metadata: AddressMetadata) -> None:
        """A peer's address metadata (a Pathfinding Service's): an id its displayname proves is
        validated at once, no homeserver asked; without a displayname, as add_user_ids. Raises
        NodeError (bad_user_id: not the address's id, or a displayname that does not prove it;
        not_started), AddressError, TypeError (a value that is not a str)."""
    def challenge(self, address: str, user_id: str, timeout: float = 10.0) -> None:
        """Returns once `user_id` answered a live challenge with a signature of `address`'s key
        (a relayed, replayed or forged answer never counts). Raises NodeError
        (challenge_failed: none valid within `timeout` seconds; bad_user_id: not
        @address:server; not_started), AddressError."""
    def evidence(self, topic: str) -> List[str]:
        """An events room's signed envelopes (JSON text), oldest first. Raises
        NodeError(bad_topic, not_started)."""
    def metadata(self) -> AddressMetadata:
        """The node's own address metadata: user_id, displayname, capabilities (the
        mxc://raiden.network/cap?... URL). Raises NodeError (not_started: before start())."""
    def capabilities_of(self, address: str) -> Dict[str, Union[str, List[str]]]:
        """A peer's capabilities from its profile; {} when it published none. Raises NodeError
        (network: no user id of the address known, or no server answered; not_started),
        AddressError."""
    def set_capabilities(self, capabilities: Capabilities) -> None:
        """Publishes the node's capabilities on every home now and at every later login.
        Raises NodeError (bad_config: not a dict of str, bool, int or lists of those, or over
        1,000 bytes as a URL; network: a home refused; not_started once stopped)."""
    def reachability(self, address: str) -> str:
        """reachable, unreachable or unknown (waits at most 10 s). Raises NodeError
        (not_started once stopped), AddressError."""
    def set_allowlist(self, addresses: Optional[Sequence[str]]) -> None:
        """The only unicast senders accepted from now on (None: all). Raises NodeError
        (not_started once stopped), AddressError."""
    def set_publishers(self, topic: str, addresses: Optional[Sequence[str]]) -> None:
        """The only publishers accepted in the topic's room (None: all). Raises NodeError
        (bad_topic, not_started once stopped), AddressError."""
    def next_event(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, waiting at most `timeout` seconds (None: until one comes or the node
        stops); None on timeout and once stopped. Never raises NodeError."""
    def try_next_event(self) -> Optional[Event]:
        """The next event if one waits, else None; never blocks, never raises."""
    def event_fd(self) -> int:
        """A descriptor readable while an event waits (for loop.add_reader, gevent). Raises
        NodeError (not_started once stopped)."""
    def consumed(self, event: Event) -> None:
        """Marks a message, delivered or failed event handled. Raises NodeError (not_started
        once stopped)."""
    def events(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """Events as they come; ends once stopped or after `timeout` seconds without one."""
    def stats(self) -> Dict[str, object]:
        """The counters (mrt::NodeStats). Raises NodeError (not_started once stopped)."""
    def homes(self) -> List[Dict[str, object]]:
        """The homeservers in use, fastest first. Raises NodeError (not_started once stopped)."""
    def __enter__(self) -> Node: ...
    def __exit__(self, *exc: object) -> None: ...
    @property
    def address(self) -> str: ...
    @property
    def user_id(self) -> str:
        """The fastest home's user id; empty before start(). Raises NodeError (not_started once
        stopped)."""
    @property
    def device_id(self) -> str:
        """Empty before the first start(). Raises NodeError (not_started once stopped)."""
