"""The homeserver of the SDK's tests, and helpers: the dev homeserver (`mrt serve`) as a child
process, one per test; or, with MRT_TEST_HOMESERVER=synapse, one Synapse 1.67 for the whole run
(../shared/synapse/synapse.sh, named by MRT_SYNAPSE_SH), each test on fresh keys."""

import atexit
import base64
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import mrt

MRT_CLI = os.environ.get("MRT_CLI", "mrt")
ON_SYNAPSE = os.environ.get("MRT_TEST_HOMESERVER") == "synapse"


class SynapseHomeserver:
    """One Synapse on two free ports of 127.0.0.1 (server_name 127.0.0.1:PORT), wiped at exit.
    `modules`: synapse.sh's SYNAPSE_MODULES (one YAML flow mapping a line), loaded from the
    folder of this `mrt` package."""

    def __init__(self, tag: str = "python", modules: str = "") -> None:
        self.script = os.environ["MRT_SYNAPSE_SH"]
        self.name = f"mrt-test-{os.getpid()}-{tag}"
        root = os.environ.get("MRT_SYNAPSE_ROOT", "/tmp/mrt-synapse")
        instance = os.path.join(root, self.name)
        os.makedirs(instance, exist_ok=True)
        # A signing key written first spares synapse.sh a second Python start (--generate-keys).
        seed = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        with open(os.path.join(instance, "signing.key"), "w") as f:
            f.write(f"ed25519 a_{secrets.token_hex(2)} {seed}\n")
        sockets = [socket.socket() for _ in range(2)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        client, federation = (s.getsockname()[1] for s in sockets)
        for s in sockets:
            s.close()
        env = dict(os.environ, SYNAPSE_MODULES=modules, SYNAPSE_PYTHONPATH=os.path.dirname(
            os.path.dirname(os.path.abspath(mrt.__file__))))
        with open(os.path.join(instance, "synapse.sh.log"), "ab") as log:
            subprocess.run([self.script, "start", self.name, str(client), str(federation)],
                           check=True, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        self.url = f"http://127.0.0.1:{client}"
        self.server_name = f"127.0.0.1:{federation}"
        atexit.register(self.wipe)

    def wipe(self) -> None:
        subprocess.run([self.script, "wipe", self.name], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


_SYNAPSE = None


class SharedSynapse:
    """A test's view of the run's Synapse: its own data folder; close() keeps the server."""

    def __init__(self) -> None:
        global _SYNAPSE
        if _SYNAPSE is None:
            _SYNAPSE = SynapseHomeserver()
        self.url, self.server_name = _SYNAPSE.url, _SYNAPSE.server_name
        self.dir = tempfile.mkdtemp(prefix="mrt-sdk-")

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class DevHomeserver:
    """`mrt serve` on a free port of 127.0.0.1, its data in a fresh folder."""

    server_name = "localhost"

    def __init__(self, *args: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="mrt-sdk-")
        self.process = subprocess.Popen(
            [MRT_CLI, "serve", "--server-name", "localhost", "--listen", "127.0.0.1:0",
             "--data", os.path.join(self.dir, "server"), *args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            self.close()
            raise RuntimeError(f"mrt serve did not start: {line!r}")
        self.url = line.split()[-1]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def ordered_keys():
    """Two keys, the lower address first (it creates the DM room, PROTOCOL §5)."""
    a, b = mrt.PrivateKey.generate(), mrt.PrivateKey.generate()
    return (a, b) if a.address < b.address else (b, a)


class NodeTestCase(unittest.TestCase):
    """A dev homeserver per test, and nodes on it that are stopped afterwards."""

    def setUp(self) -> None:
        self.server = SharedSynapse() if ON_SYNAPSE else DevHomeserver()
        self.nodes = []

    def tearDown(self) -> None:
        for node in self.nodes:
            node.stop()
        self.server.close()

    def node(self, key, name: str, **config) -> mrt.Node:
        config.setdefault("carrier", "to_device")
        config.setdefault("durable", False)
        config.setdefault("server_name", self.server.server_name)
        node = mrt.Node(key, self.server.url, os.path.join(self.server.dir, name), **config)
        self.nodes.append(node)
        return node

    def started(self, key, name: str, **config) -> mrt.Node:
        node = self.node(key, name, **config)
        node.start()
        return node

    def wait_for(self, node: mrt.Node, kind: str, timeout: float = 20.0) -> mrt.Event:
        """The next event of type `kind` (consuming the others on the way)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = node.next_event(max(0.0, deadline - time.monotonic()))
            if event is None:
                break
            if event.type == kind:
                return event
            node.consumed(event)
        self.fail(f"no {kind} event within {timeout} s")
