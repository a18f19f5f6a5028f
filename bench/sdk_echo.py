"""The SDK benchmark through the Python SDK (bench/sdk_echo.cpp does the same in C++; see it)."""

import argparse
import json
import math
import resource
import threading
import time

import mrt


def cpu_seconds() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def percentile(samples, p: float) -> float:
    """Nearest rank, as bench/support's percentile() (0 for no samples)."""
    if not samples:
        return 0
    ordered = sorted(samples)
    return ordered[min(max(math.ceil(p * len(ordered)), 1), len(ordered)) - 1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--homeserver", required=True)
    p.add_argument("--server-name", default="localhost")
    p.add_argument("--dir", required=True)
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--rate", type=float, default=1000)
    args = p.parse_args()

    def start(name):
        node = mrt.Node(mrt.PrivateKey.generate(), args.homeserver, f"{args.dir}/{name}",
                        server_name=args.server_name, carrier="to_device", durable=False)
        node.start()
        return node

    a, b = start("a"), start("b")
    n = args.messages
    sent = [0.0] * n
    latency = []
    counts = {"received": 0, "delivered": 0}

    def receive():
        while counts["received"] < n:
            event = b.next_event(30)
            if event is None:
                return
            if event.type == "message":
                latency.append((time.monotonic() - sent[int(event.body)]) * 1000)
                counts["received"] += 1
            b.consumed(event)

    def acks():
        while counts["delivered"] < n:
            event = a.next_event(30)
            if event is None:
                return
            if event.type == "delivered":
                counts["delivered"] += 1
            a.consumed(event)

    threads = [threading.Thread(target=receive), threading.Thread(target=acks)]
    for t in threads:
        t.start()
    cpu0 = cpu_seconds()
    t0 = time.monotonic()
    for i in range(n):
        pause = t0 + i / args.rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        sent[i] = time.monotonic()
        a.send(b.address, str(i))
    for t in threads:
        t.join()
    seconds = time.monotonic() - t0
    cpu = cpu_seconds() - cpu0
    print(json.dumps({
        "sdk": "python", "messages": n, "rate": args.rate, **counts,
        "p50_ms": percentile(latency, 0.5),
        "p99_ms": percentile(latency, 0.99),
        "cpu_us_per_msg": cpu * 1e6 / n, "seconds": seconds,
    }), flush=True)
    a.stop()
    b.stop()


if __name__ == "__main__":
    main()
