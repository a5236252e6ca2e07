#!/usr/bin/env python3
"""Draws folded stacks (`a;b;c 123` a line) as a flame graph SVG, with no dependency.

    scripts/folded-svg.py folded.txt --title "two_pods_create_one_volume, 200 seeds" > flame.svg

Each frame's width is its share of the total; hovering a frame shows its name, its cost and its
share. Frames narrower than `--min-width` pixels are left out (their cost stays in the parent).
"""

import argparse
import html
import zlib

ROW = 16
WIDTH = 1200


def tree(lines):
    root = {"name": "all", "cost": 0.0, "children": {}}
    for line in lines:
        line = line.strip()
        if not line:
            continue
        stack, _, cost = line.rpartition(" ")
        cost = float(cost)
        node = root
        node["cost"] += cost
        for frame in stack.split(";"):
            node = node["children"].setdefault(
                frame, {"name": frame, "cost": 0.0, "children": {}}
            )
            node["cost"] += cost
    return root


def short(name):
    """The last path segments of a Rust name, for the label (the tooltip keeps it whole)."""
    depth = 0
    cut = 0
    for index, char in enumerate(name):
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif char == ":" and depth == 0 and name[index : index + 2] == "::":
            cut = index + 2
    tail = name[cut:]
    head = name[:cut].rstrip(":").split("::")
    return "::".join(head[-1:] + [tail]) if head and head[0] else tail


def colour(name):
    h = zlib.crc32(name.encode())
    if name.startswith(("dosim", "<dosim")):
        return f"rgb({205 + h % 50},{90 + h % 80},{40 + h % 30})"
    if "turmoil" in name:
        return f"rgb({60 + h % 40},{140 + h % 60},{200 + h % 50})"
    return f"rgb({210 + h % 40},{170 + h % 60},{60 + h % 40})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folded")
    parser.add_argument("--title", default="")
    parser.add_argument("--unit", default="instructions")
    parser.add_argument("--min-width", type=float, default=1.0)
    args = parser.parse_args()
    with open(args.folded, encoding="utf-8") as lines:
        root = tree(lines)
    total = root["cost"] or 1.0
    scale = WIDTH / total
    rects = []
    depth_max = 0

    def walk(node, x, depth):
        nonlocal depth_max
        width = node["cost"] * scale
        if width < args.min_width:
            return
        depth_max = max(depth_max, depth)
        rects.append((x, depth, width, node))
        child_x = x
        for child in sorted(node["children"].values(), key=lambda c: c["name"]):
            walk(child, child_x, depth + 1)
            child_x += child["cost"] * scale

    walk(root, 0.0, 0)
    height = (depth_max + 1) * ROW + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH + 20}" height="{height}" '
        f'font-family="monospace" font-size="11">',
        f'<text x="10" y="16" font-size="14">{html.escape(args.title)}</text>',
    ]
    for x, depth, width, node in rects:
        y = height - (depth + 1) * ROW - 4
        name = node["name"]
        share = 100.0 * node["cost"] / total
        tip = html.escape(f"{name} ({node['cost']:,.0f} {args.unit}, {share:.1f}%)")
        out.append(
            f'<g><title>{tip}</title><rect x="{x + 10:.1f}" y="{y}" width="{width:.1f}" '
            f'height="{ROW - 1}" fill="{colour(name)}"/>'
        )
        chars = int(width / 7)
        if chars >= 3:
            label = short(name)
            if len(label) > chars:
                label = label[: chars - 2] + ".."
            out.append(f'<text x="{x + 12:.1f}" y="{y + 11}">{html.escape(label)}</text>')
        out.append("</g>")
    out.append("</svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
