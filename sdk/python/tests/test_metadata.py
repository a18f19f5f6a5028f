"""Raiden's capabilities and address metadata, and the log hook, from Python (over `mrt serve`)."""

import logging
import time
import sys
import threading
import unittest

import mrt
from homeserver import NodeTestCase, ordered_keys


class MetadataTest(NodeTestCase):
    def test_capabilities_are_published_at_start_and_read_by_a_peer(self):
        ka, kb = ordered_keys()
        a = self.started(ka, "a")
        b = self.started(kb, "b", capabilities={"Receive": True, "Mediate": False, "fee": 5})
        self.assertEqual(a.capabilities_of(b.address), {"Receive": "1", "Mediate": "0", "fee": "5"})
        b.set_capabilities({"Mediate": True, "k": ["x", "y"]})
        self.assertEqual(a.capabilities_of(b.address), {"Mediate": "1", "k": ["x", "y"]})

    def test_a_peers_metadata_lets_the_first_message_go_without_a_look_up(self):
        ka, kb = ordered_keys()
        a, b = self.started(ka, "a"), self.started(kb, "b")
        metadata = b.metadata()
        self.assertEqual(metadata["user_id"], b.user_id)
        self.assertEqual(metadata["capabilities"], "mxc://")
        a.add_metadata(b.address, metadata)
        message_id = a.send(b.address, "no look-up")
        self.assertEqual(self.wait_for(a, "delivered").id, message_id)
        self.assertEqual(a.stats()["id_lookups"], 0)

    def test_bad_metadata_and_capabilities_raise_with_the_nodes_reason(self):
        ka, kb = ordered_keys()
        a, b = self.started(ka, "a"), self.started(kb, "b")
        forged = dict(b.metadata(), displayname="0x" + "11" * 65)
        with self.assertRaises(mrt.NodeError) as e:
            a.add_metadata(b.address, forged)
        self.assertEqual(e.exception.kind, "bad_user_id")
        with self.assertRaises(TypeError):
            a.add_metadata(b.address, {"user_id": 5})
        with self.assertRaises(mrt.NodeError) as e:
            a.set_capabilities({"k": 1.5})
        self.assertEqual(e.exception.kind, "bad_config")
        with self.assertRaises(mrt.NodeError) as e:
            a.capabilities_of(mrt.PrivateKey.generate().address)  # nobody
        self.assertEqual(e.exception.kind, "network")
        with self.assertRaises(mrt.NodeError) as e:
            self.node(mrt.PrivateKey.generate(), "c", capabilities={"": "1"})
        self.assertEqual(e.exception.kind, "bad_config")


class ChallengeTest(NodeTestCase):
    def test_a_running_peer_answers_a_live_challenge_and_a_stopped_one_fails_it(self):
        ka, kb = ordered_keys()
        a, b = self.started(ka, "a"), self.started(kb, "b")
        a.challenge(b.address, b.user_id)
        user_id = b.user_id
        b.stop()
        with self.assertRaises(mrt.NodeError) as e:
            a.challenge(kb.address, user_id, timeout=1.0)
        self.assertEqual(e.exception.kind, "challenge_failed")
        with self.assertRaises(mrt.NodeError) as e:
            a.challenge(ka.address, user_id)
        self.assertEqual(e.exception.kind, "bad_user_id")


class LogTest(NodeTestCase):
    def kill_server(self):
        self.server.process.kill()
        self.server.process.wait()

    def test_records_reach_on_log_on_a_thread_of_their_own(self):
        ka, _ = ordered_keys()
        records, threads, failed = [], set(), threading.Event()

        def on_log(record):
            records.append(record)
            threads.add(threading.get_ident())
            if record["event"] == "sync_failed":
                failed.set()

        self.started(ka, "a", on_log=on_log, log_level="warning", sync_timeout_ms=1000)
        self.kill_server()
        self.assertTrue(failed.wait(20))
        record = next(r for r in records if r["event"] == "sync_failed")
        self.assertEqual((record["level"], record["component"]), ("warning", "sync"))
        self.assertEqual(record["fields"]["server"], self.server.server_name)
        self.assertNotIn(threading.get_ident(), threads)

    def test_log_to_hands_records_to_a_logging_logger(self):
        ka, _ = ordered_keys()
        logger = logging.getLogger("mrt.test")
        with self.assertLogs(logger, level="WARNING") as logs:
            a = self.started(ka, "a", on_log=mrt.log_to(logger), sync_timeout_ms=1000)
            self.kill_server()
            self.wait_until(lambda: any("sync/sync_failed" in m for m in logs.output))
            a.stop()
        self.assertEqual(logs.records[0].mrt["component"], "sync")

    def test_an_on_log_that_raises_or_calls_the_node_stops_nothing(self):
        ka, _ = ordered_keys()
        node, calls, unraisable = [], [], []

        def on_log(record):
            calls.append(node[0].stats()["syncs"])  # the node is free to call from here
            raise RuntimeError("a logger's fault")

        old_hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
        try:
            node.append(self.started(ka, "a", on_log=on_log, sync_timeout_ms=1000))
            self.kill_server()
            self.wait_until(lambda: len(calls) >= 2)
        finally:
            sys.unraisablehook = old_hook
        self.assertIsInstance(unraisable[0].exc_value, RuntimeError)
        node[0].stop()

    def test_on_log_must_be_callable(self):
        with self.assertRaises(TypeError):
            self.node(mrt.PrivateKey.generate(), "a", on_log="not callable")
        with self.assertRaises(mrt.NodeError) as e:
            self.node(mrt.PrivateKey.generate(), "b", log_level="loud")
        self.assertEqual(e.exception.kind, "bad_config")

    def wait_until(self, condition, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while not condition():
            self.assertLess(time.monotonic(), deadline, "condition never held")
            time.sleep(0.05)


if __name__ == "__main__":
    unittest.main()
