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
The weights are a rough model of this machine's latencies, not a measurement. `--branches` has
callgrind simulate branch prediction as well and adds 15 for each mispredicted branch (conditional
or indirect): dosim mispredicts about twice as often per seed as its floor, which closes part of
what is left between the estimate and the wall-clock ratio (for `two_pods_create_one_volume`:
1.25 in instructions, 1.35 with the caches, 1.40 with the branches, about 1.55 on the wall).

`--diff` profiles each scenario's dosim seeds and the HTTP floor's apart (callgrind collects only
inside `dosim::run::run`, then only inside `dosim::floor::http_floor_run`) and lists the functions
whose own estimated cycles (as `--cache --branches` weighs them) dosim exceeds the floor by most:
where the gap between them goes, function by function.

    scripts/floor-instructions.py --seeds 300 --diff firewall_lost_droplet
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


# Estimated cycles per simulated event, for `--cache` and `--branches`.
WEIGHTS = {
    "Ir": 1,
    "I1mr": 10, "D1mr": 10, "D1mw": 10,
    "ILmr": 60, "DLmr": 60, "DLmw": 60,
    "Bcm": 15, "Bim": 15,
}


def costs(profile, inclusive):
    """Each function's cost in the profile, from callgrind_annotate: instructions, or estimated
    cycles (see WEIGHTS) when the profile simulated the caches or the branch predictor. A
    function's own cost, or with `inclusive` its callees' too; names without their hash."""
    # Run away from the checkout: there callgrind_annotate reads some of the workspace's
    # relative source paths as local files and splits a function's count in two.
    text = subprocess.run(
        ["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}",
         "--threshold=100", "--auto=no", profile],
        check=True,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(profile),
    ).stdout
    events = None
    listing = False
    counts = {}
    for line in text.splitlines():
        if line.startswith("Events shown:"):
            events = line.split(":", 1)[1].split()
            continue
        if events is None:
            continue
        if "file:function" in line:
            listing = True
            continue
        if not listing or not line.strip() or line.startswith("-"):
            continue
        # A count is `1,234 (5.6%)`, a bare `0`, or `.` for none.
        fields = re.sub(r"\(\s*[\d.]+%\)", "", line).split(None, len(events))
        if len(fields) <= len(events):
            continue
        try:
            values = [0 if f == "." else int(f.replace(",", "")) for f in fields[:len(events)]]
        except ValueError:
            continue
        location = fields[len(events)].rsplit(" [", 1)[0]
        function = re.sub(r"::h[0-9a-f]{16}", "", location.split(":", 1)[-1])
        count = sum(WEIGHTS.get(event, 0) * value for event, value in zip(events, values))
        # A function's own cost can be listed under several source files (code inlined into
        # it); its inclusive cost is listed whole, first.
        if inclusive:
            counts.setdefault(function, count)
        else:
            counts[function] = counts.get(function, 0) + count
    return counts


def callgrind(args, profile, scenario, seeds, collect=None):
    """Runs `examples/floors SCENARIO N` under callgrind, counting only inside `collect`."""
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={profile}"]
        + (["--cache-sim=yes"] if args.cache else [])
        + (["--branch-sim=yes"] if args.branches else [])
        # The exact name, no wildcard: a pattern that also matched the function's closures
        # (`…::run::{{closure}}`) would toggle collection off again inside them.
        + (["--collect-atstart=no", f"--toggle-collect={collect}"] if collect else [])
        + [args.binary, scenario, str(seeds)],
        check=True,
        capture_output=True,
    )


def diff(args, scenario):
    """Prints where dosim's seeds cost more than the HTTP floor's, function by function."""
    sides = {}
    with tempfile.TemporaryDirectory() as scratch:
        for key in ("dosim", "http"):
            profile = os.path.join(scratch, f"{key}.out")
            callgrind(args, profile, scenario, args.seeds, collect=FUNCTIONS[key])
            sides[key] = costs(profile, inclusive=False)
    dosim, floor = sides["dosim"], sides["http"]
    for key, counted in sides.items():
        if not counted:
            sys.exit(f"{scenario}: nothing counted inside {FUNCTIONS[key]}; "
                     "is --binary a release build of examples/floors?")
    # dosim's side also holds seed 0's reference run.
    dosim_total = sum(dosim.values()) / (args.seeds + 1)
    floor_total = sum(floor.values()) / args.seeds
    print(f"{scenario}: dosim {dosim_total / 1e6:.2f} M per seed, HTTP floor "
          f"{floor_total / 1e6:.2f} M, floor ÷ dosim {dosim_total / floor_total:.2f}")
    gap = dosim_total - floor_total
    print("| function | dosim per seed | floor per seed | share of the gap |")
    print("|---|---|---|---|")
    rows = []
    for function in set(dosim) | set(floor):
        mine = dosim.get(function, 0) / (args.seeds + 1)
        theirs = floor.get(function, 0) / args.seeds
        rows.append((mine - theirs, mine, theirs, function))
    for more, mine, theirs, function in sorted(rows, reverse=True)[:args.top]:
        print(f"| `{function[:100]}` | {mine / 1e3:,.1f} k | {theirs / 1e3:,.1f} k | "
              f"{100 * more / gap:.1f}% |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="+")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--binary", default="target/release/examples/floors")
    parser.add_argument("--cache", action="store_true",
                        help="simulate the caches and compare estimated cycles, not instructions")
    parser.add_argument("--branches", action="store_true",
                        help="simulate branch prediction too and count mispredictions")
    parser.add_argument("--diff", action="store_true",
                        help="list the functions where dosim's seeds cost more than the HTTP "
                             "floor's (implies --cache --branches)")
    parser.add_argument("--top", type=int, default=30, help="rows of --diff (default 30)")
    args = parser.parse_args()
    if args.diff:
        args.cache = args.branches = True
        for scenario in args.scenarios:
            diff(args, scenario)
        return
    unit = "estimated cycles" if args.cache or args.branches else "instructions"
    print(f"| scenario | dosim {unit} per seed | HTTP floor ÷ dosim | PostgreSQL floor ÷ dosim | S3 floor ÷ dosim | model floor ÷ dosim |")
    print("|---|---|---|---|---|---|")
    for scenario in args.scenarios:
        with tempfile.TemporaryDirectory() as scratch:
            profile = os.path.join(scratch, "callgrind.out")
            callgrind(args, profile, scenario, args.seeds)
            found = costs(profile, inclusive=True)
            counts = {key: found[name] for key, name in FUNCTIONS.items() if name in found}
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
