"""Prints every latency histogram (p50 ... max per hop) of a `ticklane run/paper --json` report.
Used by benches/device/run.sh: python3 benches/device/hops.py REPORT.json"""
import json
import sys


def walk(x, path=""):
    if isinstance(x, dict):
        if "p50" in x and "p99_9" in x:
            print(f"{path:40s}", {k: x[k] for k in x if k.startswith("p") or k in ("count", "max")})
        for k, v in x.items():
            walk(v, f"{path}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            walk(v, f"{path}[{i}]")


try:
    walk(json.load(open(sys.argv[1])))
except (OSError, ValueError) as e:
    print("no report:", e)
