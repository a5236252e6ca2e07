#!/usr/bin/env python3
"""Copy each race's committed report snapshot into docs/catalog.md.

Each race section of docs/catalog.md holds its report in the first ```text block after the
section heading that names the scenario in backquotes. Run after accepting new snapshots.
"""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "catalog.md"
SNAPSHOTS = ROOT / "sims" / "tests" / "snapshots"


def report(name):
    text = (SNAPSHOTS / f"{name}.snap").read_text()
    # insta's header is a YAML block between the first two '---' lines.
    return text.split("\n---\n", 1)[1].strip("\n")


def main():
    lines = DOC.read_text().split("\n")
    out, scenario, replacing, done = [], None, False, []
    for line in lines:
        heading = re.match(r"^## .*\(`([a-z_]+)`\)", line)
        if heading:
            scenario = heading.group(1)
        if replacing:
            if line == "```":
                replacing = False
                out.append(line)
            continue
        out.append(line)
        if line == "```text" and scenario and (SNAPSHOTS / f"{scenario}.snap").exists() and scenario not in done:
            out.extend(report(scenario).split("\n"))
            done.append(scenario)
            replacing = True
    DOC.write_text("\n".join(out))
    print(f"docs/catalog.md: {len(done)} reports copied: {', '.join(done)}")


if __name__ == "__main__":
    main()
