#!/usr/bin/env python3
"""Summarise a Google Benchmark JSON file for bench/run.sh.

usage: gbench_summary.py table FILE      -> markdown table rows (one per benchmark)
       gbench_summary.py rate FILE NAME  -> items_per_second of the benchmark whose name
                                            starts with NAME (e.g. argon2id_verify_mt), or
                                            1/real_time if it has no items counter
       gbench_summary.py ms FILE NAME    -> real time per iteration in ms
       gbench_summary.py cpu_ms FILE NAME -> CPU time per iteration in ms (threads' CPU summed,
                                            so for *_mt it is the CPU cost of one verify)
Exit 1 if the file is unreadable or NAME is missing or reported an error.
"""
import json
import sys

UNIT_TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


def load(path):
    with open(path) as f:
        return json.load(f)


def find(data, name):
    for b in data.get("benchmarks", []):
        if b.get("run_type", "iteration") != "iteration":
            continue
        if b["name"] == name or b["name"].startswith(name + "/"):
            if b.get("error_occurred"):
                sys.exit(f"{name}: {b.get('error_message', 'error')}")
            return b
    sys.exit(f"{name}: not in the benchmark output")


def ms(b):
    return b["real_time"] * UNIT_TO_MS[b.get("time_unit", "ns")]


def main():
    mode, path = sys.argv[1], sys.argv[2]
    data = load(path)
    if mode == "table":
        for b in data.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue
            if b.get("error_occurred"):
                print(f"| `{b['name']}` | error: {b.get('error_message', '')} | | | |")
                continue
            wall = ms(b)
            cpu = b["cpu_time"] * UNIT_TO_MS[b.get("time_unit", "ns")]
            rate = b.get("items_per_second")
            if rate is None and wall > 0:
                rate = 1000.0 / wall
            print(f"| `{b['name']}` | {wall:,.3f} | {cpu:,.3f} | {b['iterations']} | {rate:,.1f} |")
    elif mode == "rate":
        b = find(data, sys.argv[3])
        rate = b.get("items_per_second")
        print(f"{rate if rate is not None else 1000.0 / ms(b):.3f}")
    elif mode == "ms":
        print(f"{ms(find(data, sys.argv[3])):.3f}")
    elif mode == "cpu_ms":
        b = find(data, sys.argv[3])
        print(f"{b['cpu_time'] * UNIT_TO_MS[b.get('time_unit', 'ns')]:.3f}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
