"""Rules in the homeserver (PROTOCOL section 6): mrt.refuse_broadcast_event, and a forged
envelope that never reaches a broadcast room's members, on `mrt serve --broadcast-rules` and on
a Synapse that loads mrt.synapse_rules, also when it comes over federation from a server that
runs no rules."""

import json
import os
import secrets
import shutil
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import mrt
from mrt.synapse_rules import topic_of_alias
from homeserver import DevHomeserver, SynapseHomeserver

TOPIC = "raiden_1_path_finding"


class RefusalTest(unittest.TestCase):
    def setUp(self):
        self.key = mrt.PrivateKey.generate()
        self.sender = f"@{self.key.address}:hs.example"

    def batch(self, *envelopes):
        return json.dumps({"envelopes": [json.loads(e) for e in envelopes]})

    def test_the_senders_own_envelopes_pass(self):
        content = self.batch(mrt.broadcast_envelope(self.key, TOPIC, "fee update"))
        self.assertIsNone(mrt.refuse_broadcast_event(content, TOPIC, self.sender))

    def test_another_addresss_envelope_is_refused_with_its_index(self):
        other = mrt.PrivateKey.generate()
        content = self.batch(mrt.broadcast_envelope(self.key, TOPIC, "mine"),
                             mrt.broadcast_envelope(other, TOPIC, "theirs"))
        refused = mrt.refuse_broadcast_event(content, TOPIC, self.sender)
        self.assertEqual((refused["error"], refused["index"]), ("not_the_sender", 1))

    def test_a_tampered_envelope_is_refused_as_bad_signature(self):
        envelope = json.loads(mrt.broadcast_envelope(self.key, TOPIC, "true"))
        envelope["body"] = "false"
        refused = mrt.refuse_broadcast_event(json.dumps({"envelopes": [envelope]}), TOPIC,
                                             self.sender)
        self.assertEqual((refused["error"], refused["reason"]), ("bad_envelope", "bad_signature"))

    def test_text_that_is_not_json_is_not_a_batch(self):
        refused = mrt.refuse_broadcast_event("{", TOPIC, self.sender)
        self.assertEqual(refused["error"], "not_a_batch")

    def test_a_topic_is_the_localpart_of_a_canonical_alias(self):
        self.assertEqual(topic_of_alias("#raiden_1_monitoring:127.0.0.1:8448"),
                         "raiden_1_monitoring")
        for alias in (None, 5, "raiden_1_monitoring", "#Not-A-Topic:hs", "#nocolon"):
            self.assertIsNone(topic_of_alias(alias), alias)


class MatrixUser:
    """A bare Matrix client with an Ethereum login (PROTOCOL section 2): what a forger uses."""

    def __init__(self, url: str, server_name: str, key: mrt.PrivateKey, topic: str):
        self.url, self.key, self.topic, self.txn = url, key, topic, 0
        self.user_id = f"@{key.address}:{server_name}"
        status, body = self.call("POST", "/login", {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": self.user_id},
            "password": mrt.sign(key, server_name.encode())})
        assert status == 200, body
        self.token = body["access_token"]

    def call(self, method: str, path: str, body=None):
        request = urllib.request.Request(
            self.url + "/_matrix/client/v3" + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json",
                     **({"Authorization": f"Bearer {self.token}"} if hasattr(self, "token")
                        else {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def join(self, alias: str) -> str:
        status, body = self.call("POST", "/join/" + urllib.parse.quote(alias, safe=""), {})
        assert status == 200, body
        return body["room_id"]

    def publish(self, room_id: str, envelope: dict):
        self.txn += 1
        return self.call("PUT", f"/rooms/{urllib.parse.quote(room_id)}/send/"
                         f"network.raiden.envelopes/{self.txn}", {"envelopes": [envelope]})

    def forged(self, body: str) -> dict:
        """One of this user's own envelopes with its body changed after signing."""
        envelope = json.loads(mrt.broadcast_envelope(self.key, self.topic, "honest"))
        envelope["body"] = body
        return envelope

    def honest(self, body: str) -> dict:
        return json.loads(mrt.broadcast_envelope(self.key, self.topic, body))


class RulesScenario:
    """A node subscribed to a fresh topic whose server applies the rules; a forger's envelopes
    are refused before the node sees them, and the forger's honest envelope then arrives."""

    def setUp(self):
        self.topic = f"raiden_1_rules_{secrets.token_hex(4)}"
        self.dir = tempfile.mkdtemp(prefix="mrt-rules-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def listener(self, url: str, server_name: str, data_dir: str, **config) -> mrt.Node:
        node = mrt.Node(mrt.PrivateKey.generate(), url, data_dir, server_name=server_name,
                        durable=False, **config)
        node.start()
        self.addCleanup(node.stop)
        node.subscribe(self.topic)
        return node

    def assert_only_honest_arrives(self, node: mrt.Node, forger: MatrixUser):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            event = node.next_event(max(0.0, deadline - time.monotonic()))
            self.assertIsNotNone(event, "the honest broadcast did not arrive")
            node.consumed(event)
            self.assertNotEqual(event.type, "rejected",
                                f"a forged envelope reached the node: {event!r}")
            if event.type == "message" and event.topic == self.topic:
                self.assertEqual((event.peer, event.body), (forger.key.address, "honest"))
                return
        self.fail("the honest broadcast did not arrive")


class DevserverRulesTest(RulesScenario, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.server = DevHomeserver("--broadcast-rules")
        self.addCleanup(self.server.close)

    def test_a_forged_envelope_is_refused_and_never_reaches_a_member(self):
        node = self.listener(self.server.url, "localhost", os.path.join(self.server.dir, "a"))
        forger = MatrixUser(self.server.url, "localhost", mrt.PrivateKey.generate(), self.topic)
        room = forger.join(f"#{self.topic}:localhost")
        status, body = forger.publish(room, forger.forged("a false capacity"))
        self.assertEqual((status, body["errcode"]), (403, "M_FORBIDDEN"), body)
        self.assertEqual(forger.publish(room, forger.honest("honest"))[0], 200)
        self.assert_only_honest_arrives(node, forger)


@unittest.skipUnless(os.environ.get("MRT_SYNAPSE_SH"), "needs Synapse (MRT_SYNAPSE_SH)")
class SynapseRulesTest(RulesScenario, unittest.TestCase):
    """hs1 loads mrt.synapse_rules; hs2 (federating with it) runs no rules."""

    @classmethod
    def setUpClass(cls):
        cls.hs1 = SynapseHomeserver(
            "rules1", "{module: mrt.synapse_rules.BroadcastRules, config: {}}")
        cls.hs2 = SynapseHomeserver("rules2")
        cls.addClassCleanup(cls.hs1.wipe)
        cls.addClassCleanup(cls.hs2.wipe)

    def node_on_hs1(self) -> mrt.Node:
        return self.listener(self.hs1.url, self.hs1.server_name, os.path.join(self.dir, "a"),
                             broadcast_server=self.hs1.server_name,
                             known_servers=[self.hs1.server_name, self.hs2.server_name])

    def test_a_local_forgers_envelope_is_refused_with_the_reason(self):
        node = self.node_on_hs1()
        forger = MatrixUser(self.hs1.url, self.hs1.server_name, mrt.PrivateKey.generate(),
                            self.topic)
        room = forger.join(f"#{self.topic}:{self.hs1.server_name}")
        status, body = forger.publish(room, forger.forged("a false capacity"))
        self.assertEqual(status, 403, body)
        self.assertEqual(body["network.raiden.refusal"]["reason"], "bad_signature", body)
        someone_else = json.loads(
            mrt.broadcast_envelope(mrt.PrivateKey.generate(), self.topic, "x"))
        status, body = forger.publish(room, someone_else)
        self.assertEqual((status, body["network.raiden.refusal"]["error"]),
                         (403, "not_the_sender"), body)
        self.assertEqual(forger.publish(room, forger.honest("honest"))[0], 200)
        self.assert_only_honest_arrives(node, forger)

    def test_a_forged_envelope_from_a_server_without_rules_never_reaches_a_member(self):
        node = self.node_on_hs1()
        forger = MatrixUser(self.hs2.url, self.hs2.server_name, mrt.PrivateKey.generate(),
                            self.topic)
        room = forger.join(f"#{self.topic}:{self.hs1.server_name}")
        # hs2 runs no rules: it takes the forgery, and sends it to hs1 before the honest one.
        self.assertEqual(forger.publish(room, forger.forged("a false capacity"))[0], 200)
        self.assertEqual(forger.publish(room, forger.honest("honest"))[0], 200)
        self.assert_only_honest_arrives(node, forger)


if __name__ == "__main__":
    unittest.main()
