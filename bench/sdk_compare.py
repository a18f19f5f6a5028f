"""The SDKs against the C++ API in one run (issue 18's benchmark, docs/benchmarks.md "SDKs"):
one `mrt serve` child, then the same echo workload (bench/sdk_echo.cpp) through C++, the Python
SDK and the Node.js SDK, one after the other, each with new nodes. Prints a table of latency
(send -> the receiver's event) and CPU per message of the process holding both nodes, with
each SDK's ratio to C++ (goal: at most 1.2x at 1,000 msg/s).

    /usr/bin/python3 bench/sdk_compare.py --build build [--messages 2000] [--rate 1000] [--json]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--build", default="build")
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--rate", type=float, default=1000)
    p.add_argument("--rounds", type=int, default=1, help="runs of each, the median kept")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    build = os.path.abspath(args.build)
    work = tempfile.mkdtemp(prefix="mrt-sdk-bench-")
    server = subprocess.Popen(
        [f"{build}/cli/mrt", "serve", "--server-name", "localhost", "--listen", "127.0.0.1:0",
         "--data", f"{work}/server", "--rate-limits",
         "send=100000/100000,to_device=100000/100000,login=100/100"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = server.stdout.readline().split()[-1]
        common = ["--homeserver", url, "--server-name", "localhost",
                  "--messages", str(args.messages), "--rate", str(args.rate)]
        runs = {
            "c++": [f"{build}/bench/mrt_sdk_echo"],
            "python": [sys.executable, f"{HERE}/sdk_echo.py"],
            "node": ["node", f"{HERE}/sdk_echo.mjs", "--package", f"{build}/sdk/node/package"],
        }
        env = dict(os.environ, PYTHONPATH=f"{build}/sdk/python")
        results = {}
        for sdk, command in runs.items():
            rounds = []
            for r in range(args.rounds):
                out = subprocess.run(command + common + ["--dir", f"{work}/{sdk}{r}"], env=env,
                                     check=True, capture_output=True, text=True).stdout
                rounds.append(json.loads(out.strip().splitlines()[-1]))
            rounds.sort(key=lambda x: x["cpu_us_per_msg"])
            results[sdk] = rounds[len(rounds) // 2]
        base = results["c++"]
        for sdk, r in results.items():
            r["cpu_ratio"] = r["cpu_us_per_msg"] / base["cpu_us_per_msg"]
            r["p50_ratio"] = r["p50_ms"] / base["p50_ms"] if base["p50_ms"] else 0
        if args.json:
            print(json.dumps(results))
            return
        print(f"{args.messages} messages at {args.rate:g}/s, both nodes in one process, "
              "to_device, store durability off")
        print(f"{'sdk':8} {'received':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/msg':>11} "
              f"{'CPU x C++':>10} {'p50 x C++':>10}")
        for sdk, r in results.items():
            print(f"{sdk:8} {r['received']:>9} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
                  f"{r['cpu_us_per_msg']:>11.0f} {r['cpu_ratio']:>10.2f} {r['p50_ratio']:>10.2f}")
        lost = [s for s, r in results.items() if r["received"] != args.messages]
        if lost:
            sys.exit(f"messages lost through: {', '.join(lost)}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
