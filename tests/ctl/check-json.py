#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Reads one JSON document from stdin, as iobufctl --json prints it (a single
line), and checks that each Python expression given as an argument is true
with the document bound to d (and the time module at hand). Exits 1 saying
what failed."""
import json
import sys
import time


def main():
    text = sys.stdin.read()
    if not text.endswith("\n") or text.count("\n") != 1:
        print(f"not one line ending in a newline: {text!r}")
        return 1
    try:
        d = json.loads(text)
    except ValueError as e:
        print(f"not JSON ({e}): {text!r}")
        return 1
    for expr in sys.argv[1:]:
        if not eval(expr, {"d": d, "time": time}):
            print(f"false: {expr}\n{json.dumps(d, indent=2)}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
