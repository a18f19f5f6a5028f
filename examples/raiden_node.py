"""A Raiden-style node in Python on mrt (asyncio): it watches its channel partner, listens to
the Pathfinding Service's room, sends a balance proof and waits for `delivered`.

    build/cli/mrt serve --server-name localhost --listen 127.0.0.1:8008 --data /tmp/hs &
    PYTHONPATH=build/sdk/python /usr/bin/python3 examples/raiden_node.py \
        --homeserver http://127.0.0.1:8008 --server-name localhost --partner 0x…

(after `pip install build/sdk/python/dist/mrt-*.whl` into a venv, no PYTHONPATH is needed).
"""

import argparse
import asyncio
import json
import logging

import mrt
import mrt.aio

PATHFINDING = "raiden_1_path_finding"


async def main(args: argparse.Namespace) -> None:
    key = mrt.PrivateKey.generate() if not args.keystore else mrt.PrivateKey.from_keystore(
        args.keystore, open(args.password_file, "rb").read().strip())
    node = mrt.aio.Node(mrt.Node(key, args.homeserver, args.data_dir,
                                 server_name=args.server_name, allowlist=[args.partner],
                                 capabilities={"Receive": True, "Mediate": True},
                                 on_log=mrt.log_to(logging.getLogger("mrt"))))
    async with node:
        print("node", node.address, "metadata for the PFS:", node.metadata())
        node.watch(args.partner)                 # ids, DM room and reachability ahead of time
        try:
            print("partner capabilities:", await node.capabilities_of(args.partner))
        except mrt.NodeError as e:               # network: no user id of it known yet
            print("partner capabilities not known yet:", e)
        await node.subscribe(PATHFINDING)
        balance_proof = json.dumps({"type": "LockedTransfer", "nonce": 1, "amount": "10"})
        try:
            outcome = await asyncio.wait_for(node.send(args.partner, balance_proof), args.wait)
            print(outcome.type, outcome.id)      # delivered (or failed after max_age)
        except asyncio.TimeoutError:
            print("not acknowledged yet: the outbox keeps resending it across restarts")
        async for event in node.events():        # consumed once the loop asks for the next
            if event.type == "message":
                print("from", event.topic or event.peer, event.body)
            elif event.type == "reachability":
                print(event.peer, "is", event.reachability)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--homeserver", required=True)
    parser.add_argument("--server-name", default="")
    parser.add_argument("--partner", required=True, help="the channel partner's address")
    parser.add_argument("--data-dir", default="raiden-node-data")
    parser.add_argument("--keystore")
    parser.add_argument("--password-file")
    parser.add_argument("--wait", type=float, default=30)
    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(parser.parse_args()))
