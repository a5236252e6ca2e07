#!/usr/bin/env python3
"""Floor ÷ dosim in instructions rather than wall-clock seconds.

For each scenario, runs `examples/floors SCENARIO N` (one `dosim bench` row) under callgrind and
reads the inclusive instruction count of each measured function: `dosim::run::run` (N seeds and
seed 0's reference run) and each floor (N seeds). Callgrind counts the same for the same binary
and input whatever else the machine runs, so these ratios hold on a loaded machine where the
wall-clock ones of `dosim bench` move by a third. Needs valgrind.

    cargo build --release -p dosim-cli --example floors
    scripts/floor-instructions.py --seeds 20 two_pods_create_one_volume pending_event

Instructions leave out what the caches cost: a seed of dosim runs more distinct code and writes
more fresh memory than its floor, so it loses more cycles to misses. `--cache` has callgrind
simulate the caches too and weighs each function's count as estimated cycles: instructions, plus
10 for each first-level miss (instruction, data read, data write) and 60 for each last-level one.
The weights are a rough model of this machine's latencies, not a measurement; the ratios they give
sit between the instruction ratios and the wall-clock ones.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

FUNCTIONS = {
    "dosim": "dosim::run::run",
    "http": "dosim::floor::http_floor_run",
    "pg": "dosim::floor::pg_floor_run",
    "s3": "dosim::floor::s3_floor_run",
    "model": "dosim::floor::model_floor_run",
}


# Estimated cycles per simulated event, for `--cache`.
WEIGHTS = {"Ir": 1, "I1mr": 10, "D1mr": 10, "D1mw": 10, "ILmr": 60, "DLmr": 60, "DLmw": 60}


def inclusive(profile):
    """Inclusive cost of each function in FUNCTIONS, from callgrind_annotate: instructions, or
    estimated cycles (see WEIGHTS) when the profile simulated the caches."""
    # Run away from the checkout: there callgrind_annotate reads some of the workspace's
    # relative source paths as local files and splits a function's count in two.
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", profile],
        check=True,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(profile),
    ).stdout
    events = ["Ir"]
    counts = {}
    for line in text.splitlines():
        if line.startswith("Events shown:"):
            events = line.split(":", 1)[1].split()
            continue
        match = re.match(r"\s*((?:(?:[\d,]+ \([^)]*\)|\.)\s+)+)[^\s:]*:(\S+) \[", line)
        if not match:
            continue
        values = [
            int(number.replace(",", "")) if number else 0
            for number in re.findall(r"([\d,]+) \([^)]*\)|(?<!\S)\.(?!\S)", match.group(1))
        ]
        if len(values) != len(events):
            continue
        count = sum(WEIGHTS.get(event, 0) * value for event, value in zip(events, values))
        function = match.group(2)
        for key, name in FUNCTIONS.items():
            if function == name and key not in counts:
                counts[key] = count
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="+")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--binary", default="target/release/examples/floors")
    parser.add_argument("--cache", action="store_true",
                        help="simulate the caches and compare estimated cycles, not instructions")
    args = parser.parse_args()
    unit = "estimated cycles" if args.cache else "instructions"
    print(f"| scenario | dosim {unit} per seed | HTTP floor ÷ dosim | PostgreSQL floor ÷ dosim | S3 floor ÷ dosim | model floor ÷ dosim |")
    print("|---|---|---|---|---|---|")
    for scenario in args.scenarios:
        with tempfile.TemporaryDirectory() as scratch:
            profile = os.path.join(scratch, "callgrind.out")
            subprocess.run(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={profile}"]
                + (["--cache-sim=yes"] if args.cache else [])
                + [args.binary, scenario, str(args.seeds)],
                check=True,
                capture_output=True,
            )
            counts = inclusive(profile)
        if "dosim" not in counts:
            sys.exit(f"{scenario}: no dosim::run::run in the profile")
        per_seed = counts["dosim"] / (args.seeds + 1)

        def ratio(key):
            if key not in counts:
                return "-"
            return f"{per_seed / (counts[key] / args.seeds):.2f}"

        print(f"| `{scenario}` | {per_seed / 1e6:.2f} M | {ratio('http')} | {ratio('pg')} | {ratio('s3')} | {ratio('model')} |",
              flush=True)


if __name__ == "__main__":
    main()
