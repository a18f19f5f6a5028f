"""A gevent node (Raiden's Python client is gevent-based): it waits for events on the node's
descriptor through gevent's hub, so its other greenlets run meanwhile and nothing blocks."""

import unittest

try:
    import gevent
    import gevent.socket
except ImportError:  # Debian's python3-gevent (scripts/dev deps installs it)
    gevent = None

from homeserver import NodeTestCase, ordered_keys


def green_events(node):
    """The node's events for a greenlet: waits on event_fd() in gevent's hub, then takes what
    is there without blocking."""
    while True:
        event = node.try_next_event()
        if event is not None:
            yield event
            continue
        gevent.socket.wait_read(node.event_fd())


@unittest.skipIf(gevent is None, "python3-gevent is not installed")
class GeventTest(NodeTestCase):
    def test_a_greenlet_waits_for_the_message_while_others_run(self):
        ka, kb = ordered_keys()
        a, b = self.started(ka, "a"), self.started(kb, "b")
        ticks = []

        def ticker():
            while True:
                ticks.append(1)
                gevent.sleep(0.01)

        def receive():
            for event in green_events(b):
                b.consumed(event)
                if event.type == "message":
                    return event

        background = gevent.spawn(ticker)
        receiver = gevent.spawn(receive)
        gevent.sleep(0.3)  # the receiver waits on the descriptor meanwhile
        self.assertGreater(len(ticks), 5, "the hub ran other greenlets while the receiver waited")
        self.assertFalse(receiver.ready())
        a.send(b.address, "balance proof")
        message = receiver.get(timeout=20)
        background.kill()
        self.assertEqual(message.body, "balance proof")


if __name__ == "__main__":
    unittest.main()
