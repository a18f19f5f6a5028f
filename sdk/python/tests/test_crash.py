"""kill -9 of a Python process that runs an mrt.Node: nothing accepted is lost, nothing is
handed over twice. The killed node is a child process; the same data_dir is opened again here."""

import os
import signal
import subprocess
import sys
import time
import unittest

import mrt
from homeserver import NodeTestCase

# argv: key hex, homeserver URL, server name, data_dir, then "send <to> <n>" or "receive".
CHILD = r"""
import sys, time, mrt
key, url, name, data_dir = mrt.PrivateKey.from_hex(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
role = sys.argv[5]
node = mrt.Node(key, url, data_dir, server_name=name, carrier="to_device")
node.start()
print("started", flush=True)
if role == "send":
    print(" ".join(node.send_many(sys.argv[6], [f"m{i}" for i in range(int(sys.argv[7]))])), flush=True)
else:
    while True:  # prints each message and never consumes it
        event = node.next_event()
        if event is not None and event.type == "message":
            print(event.id, flush=True)
time.sleep(600)
"""


def fresh_key() -> str:
    while True:
        text = os.urandom(32).hex()
        try:
            mrt.PrivateKey.from_hex(text)
            return text
        except mrt.InvalidKeyError:
            continue


class CrashTest(NodeTestCase):
    def child(self, key: str, name: str, *role: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", CHILD, key, self.server.url, self.server.server_name,
             os.path.join(self.server.dir, name), *role],
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(process.stdout.close)
        self.addCleanup(process.wait)
        self.addCleanup(process.kill)
        self.assertEqual(process.stdout.readline().strip(), "started")
        return process

    def messages(self, node: mrt.Node, count: int, timeout: float = 30.0):
        """Message ids until `count` distinct ones came, every one consumed; all ids seen."""
        seen, deadline = [], time.monotonic() + timeout
        while len(set(seen)) < count and time.monotonic() < deadline:
            event = node.next_event(0.2)
            if event is not None and event.type == "message":
                seen.append(event.id)
                node.consumed(event)
        return seen

    def test_a_sender_killed_after_send_returned_loses_nothing(self):
        a_hex, b = fresh_key(), mrt.PrivateKey.generate()
        # b is not there yet, so every message is still in a's outbox when a is killed.
        sender = self.child(a_hex, "a", "send", b.address, "50")
        ids = sender.stdout.readline().split()
        sender.send_signal(signal.SIGKILL)
        sender.wait()
        receiver = self.started(b, "b", durable=True)
        a = self.started(mrt.PrivateKey.from_hex(a_hex), "a", durable=True)  # its outbox resumes
        seen = self.messages(receiver, 50)
        self.assertEqual(sorted(seen), sorted(ids), "each once")
        delivered = set()
        deadline = time.monotonic() + 30
        while len(delivered) < 50 and time.monotonic() < deadline:
            event = a.next_event(0.2)
            if event is not None and event.type == "delivered":
                delivered.add(event.id)
                a.consumed(event)
        self.assertEqual(delivered, set(ids))

    def test_a_receiver_killed_before_consuming_gets_the_messages_again_once(self):
        a, b_hex = mrt.PrivateKey.generate(), fresh_key()
        b_address = mrt.PrivateKey.from_hex(b_hex).address
        receiver = self.child(b_hex, "b", "receive")
        sender = self.started(a, "a", durable=True)
        ids = sender.send_many(b_address, [f"m{i}" for i in range(20)])
        first = receiver.stdout.readline().strip()
        self.assertIn(first, ids)
        receiver.send_signal(signal.SIGKILL)
        receiver.wait()
        b = self.started(mrt.PrivateKey.from_hex(b_hex), "b", durable=True)
        seen = self.messages(b, 20)
        self.assertEqual(sorted(seen), sorted(ids), "the unconsumed again, each once")
        self.assertIn(first, seen)


if __name__ == "__main__":
    unittest.main()
