"""The dev homeserver (`mrt serve`) as a child process for the SDK's tests, and helpers."""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

import mrt

MRT_CLI = os.environ.get("MRT_CLI", "mrt")


class DevHomeserver:
    """`mrt serve` on a free port of 127.0.0.1, its data in a fresh folder."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="mrt-sdk-")
        self.process = subprocess.Popen(
            [MRT_CLI, "serve", "--server-name", "localhost", "--listen", "127.0.0.1:0",
             "--data", os.path.join(self.dir, "server")],
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
        self.server = DevHomeserver()
        self.nodes = []

    def tearDown(self) -> None:
        for node in self.nodes:
            node.stop()
        self.server.close()

    def node(self, key, name: str, **config) -> mrt.Node:
        config.setdefault("carrier", "to_device")
        config.setdefault("durable", False)
        config.setdefault("server_name", "localhost")
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
