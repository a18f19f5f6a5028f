"""mrt.Node from Python: two nodes over the dev homeserver (`mrt serve`) on 127.0.0.1."""

import select
import threading
import time
import unittest

import mrt
from homeserver import NodeTestCase, ordered_keys


class NodeTest(NodeTestCase):
    def test_a_message_arrives_once_and_its_sender_hears_it_was_delivered(self):
        ka, kb = ordered_keys()
        a, b = self.started(ka, "a"), self.started(kb, "b")
        message_id = a.send(b.address, "balance proof")
        event = self.wait_for(b, "message")
        self.assertEqual((event.id, event.peer, event.body), (message_id, a.address, "balance proof"))
        self.assertEqual(event.carrier, "to_device")
        b.consumed(event)
        delivered = self.wait_for(a, "delivered")
        self.assertEqual((delivered.id, delivered.peer), (message_id, b.address))
        a.consumed(delivered)
        self.assertEqual(a.stats()["delivered"], 1)
        self.assertEqual(b.stats()["received"], 1)

    def test_the_event_descriptor_is_readable_exactly_while_an_event_waits(self):
        ka, kb = ordered_keys()
        a, b = self.started(ka, "a"), self.started(kb, "b")
        fd = b.event_fd()
        self.assertIsNone(b.try_next_event())
        self.assertEqual(select.select([fd], [], [], 0)[0], [])
        a.send(b.address, "hello")
        self.assertEqual(select.select([fd], [], [], 20)[0], [fd])
        event = b.try_next_event()
        self.assertEqual(event.body, "hello")
        b.consumed(event)
        self.assertEqual(select.select([fd], [], [], 0)[0], [])

    def test_an_unconsumed_message_comes_again_after_a_restart_and_a_consumed_one_never(self):
        ka, kb = ordered_keys()
        a, b = self.started(ka, "a"), self.started(kb, "b", durable=True)
        first = a.send(b.address, "first")
        self.assertEqual(self.wait_for(b, "message").id, first)
        b.stop()
        b = self.started(kb, "b", durable=True)
        again = self.wait_for(b, "message")
        self.assertEqual(again.id, first)
        b.consumed(again)
        b.stop()
        b = self.started(kb, "b", durable=True)
        a.send(b.address, "second")
        self.assertEqual(self.wait_for(b, "message").body, "second")

    def test_a_cancelled_message_is_neither_delivered_nor_failed(self):
        ka, _ = ordered_keys()
        a = self.started(ka, "a")
        nobody = mrt.PrivateKey.generate().address  # never logs in
        message_id = a.send(nobody, "lost")
        self.assertTrue(a.cancel(message_id))
        self.assertFalse(a.cancel(message_id))
        self.assertEqual(a.stats()["outbox"], 0)

    def test_broadcasts_reach_the_other_subscribers(self):
        ka, kb = ordered_keys()
        a, b = self.started(ka, "a"), self.started(kb, "b")
        topic = "raiden_1_path_finding"
        self.assertEqual(a.subscribe(topic), b.subscribe(topic))
        b.broadcast(topic, "capacity update")
        event = self.wait_for(a, "message")
        self.assertEqual((event.topic, event.peer, event.body), (topic, b.address, "capacity update"))
        self.assertIsNone(event.carrier)

    def test_an_events_rooms_envelopes_are_kept_as_evidence(self):
        ka, kb = ordered_keys()
        reader, operator = self.started(ka, "reader"), self.started(kb, "operator")
        topic = f"raiden_1_events_{operator.address}"
        self.assertEqual(operator.subscribe(topic), reader.subscribe(topic))
        operator.broadcast(topic, "ChannelOpened")
        reader.consumed(self.wait_for(reader, "message"))
        [envelope] = reader.evidence(topic)
        checked = mrt.validate_envelope(envelope, topic=topic)
        self.assertEqual((checked["sender"], checked["body"]), (operator.address, "ChannelOpened"))
        with self.assertRaises(mrt.NodeError) as e:
            reader.broadcast(topic, "a false event")
        self.assertEqual(e.exception.kind, "bad_topic")

    def test_a_blocking_wait_lets_other_python_threads_run(self):
        ka, _ = ordered_keys()
        a = self.started(ka, "a")
        ticks = []
        stop = threading.Event()

        def tick():
            while not stop.is_set():
                ticks.append(1)
                time.sleep(0.01)

        thread = threading.Thread(target=tick)
        thread.start()
        self.assertIsNone(a.next_event(0.5))
        stop.set()
        thread.join()
        self.assertGreater(len(ticks), 10)

    def test_bad_input_raises_with_the_nodes_reason(self):
        ka, kb = ordered_keys()
        a = self.started(ka, "a")
        with self.assertRaises(TypeError):
            a.send(12345, "x")
        with self.assertRaises(TypeError):
            a.send(kb.address, None)
        with self.assertRaises(mrt.AddressError) as e:
            a.send("0xnot-an-address", "x")
        self.assertEqual(e.exception.kind, "malformed")
        with self.assertRaises(mrt.NodeError) as e:
            a.send(kb.address, "x" * 40_000)
        self.assertEqual(e.exception.kind, "too_large")
        with self.assertRaises(mrt.NodeError) as e:
            a.subscribe("Not A Topic")
        self.assertEqual(e.exception.kind, "bad_topic")
        with self.assertRaises(mrt.NodeError) as e:
            a.add_user_ids(kb.address, ["@0x0000000000000000000000000000000000000001:localhost"])
        self.assertEqual(e.exception.kind, "bad_user_id")
        with self.assertRaises(mrt.NodeError) as e:
            mrt.Node(ka, "ftp://nowhere", self.server.dir + "/x")
        self.assertEqual(e.exception.kind, "bad_config")
        with self.assertRaises(mrt.NodeError) as e:
            self.node(ka, "a")  # the store is the running node's
        self.assertEqual(e.exception.kind, "store")

    def test_a_stopped_node_refuses_calls_and_its_events_end(self):
        ka, kb = ordered_keys()
        a = self.started(ka, "a")
        a.stop()
        with self.assertRaises(mrt.NodeError) as e:
            a.send(kb.address, "too late")
        self.assertEqual(e.exception.kind, "not_started")
        self.assertEqual(list(a.events()), [])
        self.assertIsNone(a.try_next_event())
        with self.assertRaises(mrt.NodeError):
            a.event_fd()
        a.stop()  # idempotent
        again = self.started(ka, "a")  # the store is free again
        self.assertEqual(again.address, ka.address)

    def test_a_node_waiting_for_events_in_another_thread_is_woken_by_stop(self):
        ka, _ = ordered_keys()
        a = self.started(ka, "a")
        seen = []
        waiter = threading.Thread(target=lambda: seen.extend(a.events()))
        waiter.start()
        time.sleep(0.3)
        a.stop()
        waiter.join(10)
        self.assertFalse(waiter.is_alive())
        self.assertEqual(seen, [])


if __name__ == "__main__":
    unittest.main()
