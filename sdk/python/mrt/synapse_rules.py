"""PROTOCOL section 6 in a Synapse homeserver: a module that refuses, before any member of a
broadcast room gets it, a `network.raiden.envelopes` event whose envelopes do not verify or are
not signed by the address of the event's Matrix sender (mrt.refuse_broadcast_event, the rule
`mrt serve --broadcast-rules` applies). In homeserver.yaml:

    modules:
      - module: mrt.synapse_rules.BroadcastRules
        config: {}

with the SDK's package on Synapse's PYTHONPATH. A broadcast room is one whose canonical alias's
localpart is a topic (PROTOCOL section 6: `#<topic>:<server>`); other rooms and other event
types are not judged. It is a spam checker, so that it sees both ends: an event of one of this
server's users is answered 403, and an event from another server is dropped (Synapse redacts
and soft-fails it: no client of this server is sent it), also when that server runs no rules.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, Optional

from ._mrt import refuse_broadcast_event

logger = logging.getLogger(__name__)

ENVELOPES_EVENT_TYPE = "network.raiden.envelopes"
_TOPIC = re.compile(r"[a-z0-9_]{1,200}")


def topic_of_alias(alias: object) -> Optional[str]:
    """The broadcast topic a canonical alias names ("#raiden_1_monitoring:hs" gives
    "raiden_1_monitoring"), or None."""
    if not isinstance(alias, str) or not alias.startswith("#") or ":" not in alias:
        return None
    localpart = alias[1:alias.index(":")]
    return localpart if _TOPIC.fullmatch(localpart) else None


class BroadcastRules:
    """The Synapse module (module API of Synapse 1.47 and later)."""

    def __init__(self, config: Dict[str, Any], api: Any) -> None:
        self._api = api
        api.register_spam_checker_callbacks(check_event_for_spam=self.check_event_for_spam)

    @staticmethod
    def parse_config(config: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        if config:
            raise ValueError("mrt.synapse_rules.BroadcastRules takes no configuration")
        return {}

    async def check_event_for_spam(self, event: Any) -> Any:
        if event.type != ENVELOPES_EVENT_TYPE or event.is_state():
            return "NOT_SPAM"
        topic = await self._topic_of(event.room_id)
        if topic is None:
            return "NOT_SPAM"
        # Synapse's own encoder: event content is frozen (immutabledict), which json cannot write.
        from synapse.util import json_encoder

        refused = refuse_broadcast_event(json_encoder.encode(event.content), topic, event.sender)
        if refused is None:
            return "NOT_SPAM"
        logger.info("refused %s from %s in %s (%s): %s", event.event_id, event.sender,
                    event.room_id, topic, refused["message"])
        from synapse.api.errors import Codes

        # The dict joins the 403's JSON (a Synapse 1.67 spam-checker form), so the sender's
        # software reads why.
        return Codes.FORBIDDEN, {"network.raiden.refusal": refused}

    async def _topic_of(self, room_id: str) -> Optional[str]:
        try:
            state = await self._api.get_room_state(room_id, [("m.room.canonical_alias", "")])
        except Exception:  # a room whose state this server lacks is not one it can judge
            logger.warning("no state for %s: its events are not judged", room_id, exc_info=True)
            return None
        alias_event = state.get(("m.room.canonical_alias", ""))
        return topic_of_alias(alias_event.content.get("alias")) if alias_event else None
