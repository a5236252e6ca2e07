#!/usr/bin/env python3
"""Turns a callgrind output file into folded stacks for a flame graph.

Callgrind records costs per function and per call edge, not whole stacks, so the stacks are
rebuilt top-down: each call edge's inclusive cost is split among the callee's own callees in
the proportions the callee shows over all its callers. Where a function behaves the same from
every caller (most code here) the result is exact; elsewhere it is an estimate.

    valgrind --tool=callgrind --callgrind-out-file=cg.out ./target/release/examples/seeds NAME 200
    scripts/callgrind-folded.py cg.out [--root FUNCTION] [--min-share 0.002] > folded.txt
    inferno-flamegraph folded.txt > flame.svg

`--root` keeps only what runs under the first function whose name contains FUNCTION, so that a
binary's start-up and exit are left out. Frames below `--min-share` of the total are cut off
(their cost stays in their parent's frame), which keeps the SVG small.
"""

import argparse
import re
import sys
from collections import defaultdict

HASH = re.compile(r"::h[0-9a-f]{16}$")


def clean(name):
    """A Rust symbol without its hash, with no `;` (the folded format's separator)."""
    return HASH.sub("", name).replace(";", ",")


def parse(path):
    """Self cost per function and inclusive cost per call edge, by function name."""
    names = {}
    own = defaultdict(int)
    calls = defaultdict(lambda: defaultdict(int))
    current = None
    callee = None
    expect_call_cost = False

    def resolve(spec):
        spec = spec.strip()
        match = re.match(r"\((\d+)\)(?:\s+(.*))?$", spec)
        if not match:
            return clean(spec)
        if match.group(2) is not None:
            names[match.group(1)] = clean(match.group(2))
        return names.get(match.group(1), "?")

    with open(path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("fn="):
                current = resolve(line[3:])
                continue
            if line.startswith("cfn="):
                callee = resolve(line[4:])
                continue
            if line.startswith("calls="):
                expect_call_cost = True
                continue
            head = line[0]
            if head.isdigit() or head in "+-*":
                fields = line.split()
                cost = int(fields[1]) if len(fields) > 1 else 0
                if expect_call_cost:
                    if current is not None and callee is not None:
                        calls[current][callee] += cost
                    expect_call_cost = False
                elif current is not None:
                    own[current] += cost
    return own, calls


def fold(own, calls, root, min_share):
    inclusive = defaultdict(int)
    for function, cost in own.items():
        inclusive[function] += cost
    for caller, callees in calls.items():
        for callee, cost in callees.items():
            if callee != caller:
                inclusive[caller] += cost
    if root:
        candidates = [f for f in inclusive if root in f]
        if not candidates:
            sys.exit(f"no function named like {root!r}")
        starts = [max(candidates, key=lambda f: inclusive[f])]
    else:
        called = {callee for callees in calls.values() for callee in callees}
        starts = [f for f in inclusive if f not in called]
    total = sum(inclusive[f] for f in starts)
    threshold = total * min_share
    stacks = defaultdict(float)

    def expand(function, path, on_path, amount):
        whole = inclusive[function]
        if amount < threshold or whole == 0 or len(path) > 300:
            stacks[";".join(path)] += amount
            return
        scale = amount / whole
        stacks[";".join(path)] += own.get(function, 0) * scale
        for callee, cost in sorted(calls.get(function, {}).items()):
            if callee == function:
                continue
            share = cost * scale
            if callee in on_path:
                stacks[";".join(path + [callee])] += share
                continue
            on_path.add(callee)
            expand(callee, path + [callee], on_path, share)
            on_path.discard(callee)

    for start in starts:
        expand(start, [start], {start}, float(inclusive[start]))
    return stacks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("callgrind_out")
    parser.add_argument("--root")
    parser.add_argument("--min-share", type=float, default=0.002)
    args = parser.parse_args()
    own, calls = parse(args.callgrind_out)
    for stack, cost in sorted(fold(own, calls, args.root, args.min_share).items()):
        if round(cost) > 0:
            print(f"{stack} {round(cost)}")


if __name__ == "__main__":
    main()
