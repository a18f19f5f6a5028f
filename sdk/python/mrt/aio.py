"""mrt for asyncio: the node's events through the event loop, sends as futures.

    node = mrt.aio.Node(mrt.Node(key, homeserver, data_dir))
    await node.start()
    outcome = await node.send(partner, body)      # the delivered or failed Event
    async for event in node.events():             # messages, rejections, reachability, ...
        handle(event)                             # consumed when the loop asks for the next

The node's event descriptor is watched with loop.add_reader: no thread waits for events.
Calls that may wait (start, send: an fsync; subscribe, broadcast, discover, reachability: the
homeservers) run in the loop's default executor with the GIL released.

Consumption (the node's exactly-once across restarts): a `delivered` or `failed` event that
settles a future returned by send() is consumed when the future is settled; every other event
is consumed when the async iterator is asked for the next one after it (that is, once the
body of the `async for` handled it), or by calling consume(event) first.
"""

from __future__ import annotations

import asyncio
import functools
from typing import AsyncIterator, Dict, List, Optional

from . import _mrt

__all__ = ["Node"]


class Node:
    """An mrt.Node driven by an asyncio event loop."""

    def __init__(self, node: _mrt.Node) -> None:
        self.node = node
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._outcomes: Dict[str, asyncio.Future] = {}
        self._events: asyncio.Queue = asyncio.Queue()
        self._sending = 0  # send() calls whose id is not known yet
        self._early: Dict[str, _mrt.Event] = {}  # outcomes that came meanwhile
        self._stopped = False

    @property
    def address(self) -> str:
        return self.node.address

    async def _run(self, call, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(call, *args))

    async def start(self) -> None:
        """Starts the node (mrt.Node.start) and watches its event descriptor."""
        self._loop = asyncio.get_running_loop()
        await self._run(self.node.start)
        self._loop.add_reader(self.node.event_fd(), self._drain)

    async def stop(self) -> None:
        """Stops the node; pending send() futures are cancelled, events() ends."""
        if self._loop is not None and not self._stopped:
            self._loop.remove_reader(self.node.event_fd())
        self._stopped = True
        await self._run(self.node.stop)
        for future in self._outcomes.values():
            future.cancel()
        self._outcomes.clear()
        self._events.put_nowait(None)

    async def __aenter__(self) -> "Node":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _drain(self) -> None:
        while True:
            event = self.node.try_next_event()
            if event is None:
                return
            if event.type in ("delivered", "failed"):
                future = self._outcomes.pop(event.id, None)
                if future is not None:
                    self._settle(future, event)
                    continue
                if self._sending > 0:  # maybe the outcome of a send whose id is not back yet
                    self._early[event.id] = event
                    continue
            self._events.put_nowait(event)

    def _settle(self, future: asyncio.Future, event: _mrt.Event) -> None:
        if not future.done():
            future.set_result(event)
            self.node.consumed(event)
        else:  # nobody waits for it any more: the application's to see
            self._events.put_nowait(event)

    async def send_nowait(self, to: str, body: str) -> str:
        """Sends (durable when this returns) and gives the message's id; its outcome then
        comes through events()."""
        return await self._run(self.node.send, to, body)

    def send(self, to: str, body: str) -> "asyncio.Future[_mrt.Event]":
        """Sends; a future resolved with the message's `delivered` or `failed` event. Raises
        (through the future) mrt.NodeError when the node refuses the message."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future = loop.create_future()

        async def go() -> None:
            self._sending += 1
            try:
                message_id = await self._run(self.node.send, to, body)
            except Exception as error:  # the node's refusal, as the future's exception
                outcome.set_exception(error)
                return
            finally:
                self._sending -= 1
            early = self._early.pop(message_id, None)
            if early is not None:
                self._settle(outcome, early)
            else:
                self._outcomes[message_id] = outcome
            if self._sending == 0:  # outcomes of messages sent before: the application's
                for event in self._early.values():
                    self._events.put_nowait(event)
                self._early.clear()

        loop.create_task(go())
        return outcome

    async def send_many(self, to: str, bodies: List[str]) -> List[str]:
        return await self._run(self.node.send_many, to, bodies)

    async def subscribe(self, topic: str) -> str:
        return await self._run(self.node.subscribe, topic)

    async def broadcast(self, topic: str, body: str) -> str:
        return await self._run(self.node.broadcast, topic, body)

    async def discover(self, address: str) -> List[str]:
        return await self._run(self.node.discover, address)

    async def reachability(self, address: str) -> str:
        return await self._run(self.node.reachability, address)

    async def capabilities_of(self, address: str) -> Dict[str, object]:
        return await self._run(self.node.capabilities_of, address)

    async def set_capabilities(self, capabilities: Dict[str, object]) -> None:
        await self._run(self.node.set_capabilities, capabilities)

    async def challenge(self, address: str, user_id: str, timeout: float = 10.0) -> None:
        await self._run(self.node.challenge, address, user_id, timeout)

    def metadata(self) -> Dict[str, str]:
        return self.node.metadata()

    def add_metadata(self, address: str, metadata: Dict[str, str]) -> None:
        self.node.add_metadata(address, metadata)

    def watch(self, address: str) -> None:
        self.node.watch(address)

    def cancel(self, message_id: str) -> bool:
        future = self._outcomes.pop(message_id, None)
        cancelled = self.node.cancel(message_id)
        if future is not None and cancelled:
            future.cancel()
        elif future is not None:
            self._outcomes[message_id] = future
        return cancelled

    def consume(self, event: _mrt.Event) -> None:
        self.node.consumed(event)

    async def events(self) -> AsyncIterator[_mrt.Event]:
        """Every event not taken by a send() future, in order; ends when the node stops. An
        event is consumed when the next one is asked for: after a `break`, call consume() on
        the last one if it was handled (else it is reported again after a restart)."""
        previous = None
        while True:
            event = await self._events.get()
            if previous is not None:
                self.node.consumed(previous)
            if event is None:
                return
            previous = event
            yield event
