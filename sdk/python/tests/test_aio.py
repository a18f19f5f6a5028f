"""mrt.aio: the node driven by an asyncio loop (its event descriptor, futures for sends)."""

import asyncio
import unittest

import mrt
import mrt.aio
from homeserver import NodeTestCase, ordered_keys


class AioTest(NodeTestCase):
    def test_a_send_resolves_with_its_delivered_event_and_the_message_comes_through_events(self):
        ka, kb = ordered_keys()

        async def scenario():
            async with mrt.aio.Node(self.node(ka, "a")) as a, mrt.aio.Node(self.node(kb, "b")) as b:
                outcome = a.send(b.address, "balance proof")
                async for event in b.events():
                    self.assertEqual((event.type, event.body), ("message", "balance proof"))
                    break
                b.consume(event)
                delivered = await asyncio.wait_for(outcome, 20)
                self.assertEqual((delivered.type, delivered.peer), ("delivered", b.address))
                self.assertEqual(b.node.stats()["inbox"], 0)

        asyncio.run(scenario())

    def test_a_refused_send_raises_through_its_future(self):
        ka, kb = ordered_keys()

        async def scenario():
            async with mrt.aio.Node(self.node(ka, "a")) as a:
                with self.assertRaises(mrt.NodeError) as e:
                    await a.send(kb.address, "x" * 40_000)
                self.assertEqual(e.exception.kind, "too_large")

        asyncio.run(scenario())

    def test_many_sends_at_once_each_resolve_with_their_own_outcome(self):
        ka, kb = ordered_keys()

        async def scenario():
            async with mrt.aio.Node(self.node(ka, "a")) as a, mrt.aio.Node(self.node(kb, "b")):
                outcomes = [a.send(kb.address, f"message {i}") for i in range(20)]
                events = await asyncio.wait_for(asyncio.gather(*outcomes), 30)
                self.assertEqual({e.type for e in events}, {"delivered"})
                self.assertEqual(len({e.id for e in events}), 20)

        asyncio.run(scenario())


if __name__ == "__main__":
    unittest.main()
