#!/usr/bin/python3
"""Reference canonical JSON for the mrt vectors, computed with Debian's python3-canonicaljson.

Run with /usr/bin/python3 (Debian's interpreter, which sees python3-canonicaljson).
stdin:  a JSON array of JSON texts (strings).
stdout: a JSON array, for each text the lowercase hex of
        canonicaljson.encode_canonical_json(json.loads(text)).
"""
import json
import sys

import canonicaljson


def main() -> None:
    texts = json.load(sys.stdin)
    out = []
    for text in texts:
        value = json.loads(text)
        out.append(canonicaljson.encode_canonical_json(value).hex())
    json.dump({"canonicaljson_version": canonicaljson.__version__, "results": out}, sys.stdout)


if __name__ == "__main__":
    main()
