#!/usr/bin/env python3
"""Where a seed's wall-clock time goes, dosim's and its floors' apart, by sampling.

Runs `examples/floors SCENARIO N` (one `dosim bench` row) under `perf record` with DWARF call
graphs, then sorts every sample by whose run it fell in (dosim's seeds under `dosim::run::run`,
each floor's under its own function) and by the component of dosim it was spent in: the
innermost frame on the sample's stack that names one (the API's pipeline or handlers, the typed
client, the recording, the world's construction, ...; turmoil's and hyper's own work, which the
floor does too, counts as `step`). Unlike `floor-instructions.py`, which counts instructions and
models the caches, this measures time on the machine, page faults and all, so it shows what the
wall-clock ratio pays that a count misses; it needs `perf` (Debian's `linux-perf`) and works
where the machine has no hardware counters (it samples the CPU clock). A sample's share is
noisy: a few hundred samples per component give a share to a percent or so.

    cargo build --release -p dosim-cli --example floors
    scripts/wall-split.py --seeds 2000 two_pods_create_one_volume
    scripts/wall-split.py --seeds 2000 two_pods_create_one_volume --leaves api-handler
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

# Whose run a sample fell in: the first of these on its stack.
SIDES = [
    ("dosim", "dosim::run::run"),
    ("HTTP floor", "dosim::floor::http_floor_run"),
    ("PostgreSQL floor", "dosim::floor::pg_floor_run"),
    ("S3 floor", "dosim::floor::s3_floor_run"),
    ("model floor", "dosim::floor::model_floor_run"),
]

# The component of a sample: the first frame from the leaf up that matches one of these, tried
# in this order for each frame (patterns match a frame's name with its generic arguments left
# out, so a hyper frame generic over dosim's service is hyper's).
COMPONENTS = [
    ("build", "World::build"),
    ("actors' set-up", "World::context"),
    ("host set-up", "turmoil::rt::init"),
    ("end of run", "check_invariants"),
    ("end of run", "Recorder::take"),
    ("end of run", "take_history"),
    ("end of run", "state::snapshot"),
    ("end of run", "drop_in_place<turmoil::sim::Sim>"),
    ("hyper client", "HyperTransport"),
    ("model", "dosim_cloud::"),
    ("SQL engine", "dosim_pg::"),
    ("PostgreSQL wire", "dosim_pgwire::"),
    ("Valkey", "dosim_valkey"),
    ("Spaces", "dosim_spaces::"),
    ("api-handler", "app::commit"),
    ("api-pipeline", "app::pipeline"),
    ("recording", "RecordingTransport"),
    ("recording", "dosim::history::"),
    ("typed client", "dosim_client::"),
    ("tokio-postgres", "tokio_postgres::"),
    ("aws-sdk-s3", "aws_sdk_s3::"),
    ("actor code", "scenario::boxed"),
    ("hyper server", "serve_service"),
    ("hyper server", "serve_connection"),
    ("step", "Sim::step"),
]


def head(frame):
    """A frame's name without its generic arguments (an `<A as B>` impl keeps its two names)."""
    frame = re.sub(r"^[0-9a-f]+\s+", "", frame.strip())
    frame = re.sub(r"::h[0-9a-f]{16}", "", frame)
    out, depth, impl = [], 0, frame.startswith("<")
    for ch in frame:
        if ch == "<":
            depth += 1
            if impl and depth == 1:
                out.append(ch)
            continue
        if ch == ">":
            if impl and depth == 1:
                out.append(ch)
            depth -= 1
            continue
        if depth == 0 or (impl and depth == 1):
            out.append(ch)
    return "".join(out)


def samples(perf_script):
    for block in perf_script.split("\n\n"):
        frames = [head(line) for line in block.strip().splitlines() if line.strip()]
        if frames:
            yield frames


def side_of(frames):
    joined = "\n".join(frames)
    for side, pattern in SIDES:
        if pattern in joined:
            return side
    return None


def component_of(frames):
    for frame in frames:
        for component, pattern in COMPONENTS:
            if pattern in frame:
                return component
    return "other"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario")
    parser.add_argument("--seeds", type=int, default=2000)
    parser.add_argument("--binary", default="target/release/examples/floors")
    parser.add_argument("--freq", type=int, default=2999, help="samples per second")
    parser.add_argument("--leaves", help="list the functions a component's samples ended in")
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"no {args.binary}: build it with `cargo build --release -p dosim-cli --example floors`, or pass --binary")

    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        record = subprocess.run(
            ["perf", "record", "-q", "-F", str(args.freq), "--call-graph", "dwarf,32768",
             "-o", data, args.binary, args.scenario, str(args.seeds)],
            capture_output=True, text=True)
        if record.returncode != 0:
            sys.exit(f"perf record failed (is linux-perf installed, and perf_event_paranoid low enough?):\n{record.stderr}")
        print(record.stdout.strip())
        script = subprocess.run(["perf", "script", "-i", data, "-F", "ip,sym"],
                                capture_output=True, text=True).stdout

    counts = collections.defaultdict(collections.Counter)
    leaves = collections.Counter()
    for frames in samples(script):
        side = side_of(frames)
        if side is None:
            continue
        component = component_of(frames)
        counts[side][component] += 1
        if args.leaves and side == "dosim" and component == args.leaves:
            leaves[frames[0][:120]] += 1

    sides = [side for side, _ in SIDES if counts[side]]
    totals = {side: sum(counts[side].values()) for side in sides}
    components = sorted({c for side in sides for c in counts[side]},
                        key=lambda c: -counts["dosim"][c])
    print("\nsamples: " + ", ".join(f"{side} {totals[side]}" for side in sides))
    if totals.get("HTTP floor"):
        print(f"dosim ÷ HTTP floor samples: {totals['dosim'] / totals['HTTP floor']:.2f} (about floor ÷ dosim in seeds per second)")
    print("\n| component | " + " | ".join(sides) + " |")
    print("|---|" + "---|" * len(sides))
    for component in components:
        cells = [f"{counts[side][component]} ({100 * counts[side][component] / totals[side]:.1f}%)"
                 for side in sides]
        print(f"| {component} | " + " | ".join(cells) + " |")
    if args.leaves:
        print(f"\nwhere dosim's `{args.leaves}` samples ended:")
        for leaf, count in leaves.most_common(25):
            print(f"{count:6d}  {leaf}")


if __name__ == "__main__":
    main()
