#!/usr/bin/env python3
"""Floor ÷ dosim in instructions rather than wall-clock seconds.

For each scenario, runs `examples/floors SCENARIO N` (one `dosim bench` row) under callgrind and
reads the inclusive instruction count of each measured function: `dosim::run::run` (N seeds and
seed 0's reference run) and each floor (N seeds). Callgrind counts the same for the same binary
and input whatever else the machine runs, so these ratios hold on a loaded machine where the
wall-clock ones of `dosim bench` move by a third. Needs valgrind.

    cargo build --release -p dosim-cli --example floors
    scripts/floor-instructions.py --seeds 20 two_pods_create_one_volume pending_event
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


def inclusive(profile):
    """Inclusive instructions of each function in FUNCTIONS, from callgrind_annotate."""
    # Run away from the checkout: there callgrind_annotate reads some of the workspace's
    # relative source paths as local files and splits a function's count in two.
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", profile],
        check=True,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(profile),
    ).stdout
    counts = {}
    for line in text.splitlines():
        match = re.match(r"\s*([\d,]+) \([^)]*\)\s+[^\s:]*:(\S+) \[", line)
        if not match:
            continue
        count, function = int(match.group(1).replace(",", "")), match.group(2)
        for key, name in FUNCTIONS.items():
            if function == name and key not in counts:
                counts[key] = count
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="+")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--binary", default="target/release/examples/floors")
    args = parser.parse_args()
    print("| scenario | dosim instructions per seed | HTTP floor ÷ dosim | PostgreSQL floor ÷ dosim | S3 floor ÷ dosim | model floor ÷ dosim |")
    print("|---|---|---|---|---|---|")
    for scenario in args.scenarios:
        with tempfile.TemporaryDirectory() as scratch:
            profile = os.path.join(scratch, "callgrind.out")
            subprocess.run(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={profile}",
                 args.binary, scenario, str(args.seeds)],
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
