#!/usr/bin/env python3
"""Vendor the part of DigitalOcean's OpenAPI spec that dosim's tests validate against.

Reads the bundled spec (every external $ref already resolved), keeps the operations
dosim implements, inlines the remaining internal $refs, turns OpenAPI 3.0 schema
dialect into JSON Schema (draft 7), and writes tests/data/openapi/operations.json.
It also writes tests/data/openapi/fuzz-openapi.json: the same operations as an OpenAPI 3.0
document (parameters, request bodies and responses, $refs inlined, dialect kept), which the
fuzz test hands to schemathesis.

Usage: scripts/vendor-openapi.py [path/to/DigitalOcean-public.v2.bundled.yaml]
Needs PyYAML. The output is committed; the tests never read the spec itself.
"""
import json
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT.parent / "shared" / "do-openapi" / "DigitalOcean-public.v2.bundled.yaml"
OUT = ROOT / "tests" / "data" / "openapi" / "operations.json"
FUZZ_OUT = ROOT / "tests" / "data" / "openapi" / "fuzz-openapi.json"
COVERAGE = ROOT / "docs" / "api-coverage.md"

# The operations dosim implements, as (method, path) in the spec's own spelling.
OPERATIONS = [
    ("get", "/v2/account"),
    ("get", "/v2/account/keys"),
    ("post", "/v2/account/keys"),
    ("get", "/v2/account/keys/{ssh_key_identifier}"),
    ("put", "/v2/account/keys/{ssh_key_identifier}"),
    ("delete", "/v2/account/keys/{ssh_key_identifier}"),
    ("get", "/v2/regions"),
    ("get", "/v2/sizes"),
    ("get", "/v2/images"),
    ("get", "/v2/images/{image_id}"),
    ("get", "/v2/actions"),
    ("get", "/v2/actions/{action_id}"),
    ("get", "/v2/droplets"),
    ("post", "/v2/droplets"),
    ("delete", "/v2/droplets"),
    ("get", "/v2/droplets/{droplet_id}"),
    ("delete", "/v2/droplets/{droplet_id}"),
    ("get", "/v2/droplets/{droplet_id}/actions"),
    ("post", "/v2/droplets/{droplet_id}/actions"),
    ("post", "/v2/droplets/actions"),
    ("get", "/v2/droplets/{droplet_id}/actions/{action_id}"),
    ("get", "/v2/volumes"),
    ("post", "/v2/volumes"),
    ("delete", "/v2/volumes"),
    ("post", "/v2/volumes/actions"),
    ("get", "/v2/volumes/{volume_id}"),
    ("delete", "/v2/volumes/{volume_id}"),
    ("get", "/v2/volumes/{volume_id}/actions"),
    ("post", "/v2/volumes/{volume_id}/actions"),
    ("get", "/v2/volumes/{volume_id}/actions/{action_id}"),
    ("get", "/v2/reserved_ips"),
    ("post", "/v2/reserved_ips"),
    ("get", "/v2/reserved_ips/{reserved_ip}"),
    ("delete", "/v2/reserved_ips/{reserved_ip}"),
    ("get", "/v2/reserved_ips/{reserved_ip}/actions"),
    ("post", "/v2/reserved_ips/{reserved_ip}/actions"),
    ("get", "/v2/reserved_ips/{reserved_ip}/actions/{action_id}"),
    ("get", "/v2/floating_ips"),
    ("post", "/v2/floating_ips"),
    ("get", "/v2/floating_ips/{floating_ip}"),
    ("delete", "/v2/floating_ips/{floating_ip}"),
    ("get", "/v2/floating_ips/{floating_ip}/actions"),
    ("post", "/v2/floating_ips/{floating_ip}/actions"),
    ("get", "/v2/floating_ips/{floating_ip}/actions/{action_id}"),
    ("get", "/v2/databases"),
    ("post", "/v2/databases"),
    ("get", "/v2/databases/{database_cluster_uuid}"),
    ("delete", "/v2/databases/{database_cluster_uuid}"),
    ("get", "/v2/databases/{database_cluster_uuid}/dbs"),
    ("post", "/v2/databases/{database_cluster_uuid}/dbs"),
    ("get", "/v2/databases/{database_cluster_uuid}/dbs/{database_name}"),
    ("delete", "/v2/databases/{database_cluster_uuid}/dbs/{database_name}"),
    ("get", "/v2/databases/{database_cluster_uuid}/users"),
    ("post", "/v2/databases/{database_cluster_uuid}/users"),
    ("get", "/v2/databases/{database_cluster_uuid}/users/{username}"),
    ("delete", "/v2/databases/{database_cluster_uuid}/users/{username}"),
    ("get", "/v2/databases/{database_cluster_uuid}/pools"),
    ("post", "/v2/databases/{database_cluster_uuid}/pools"),
    ("get", "/v2/databases/{database_cluster_uuid}/pools/{pool_name}"),
    ("put", "/v2/databases/{database_cluster_uuid}/pools/{pool_name}"),
    ("delete", "/v2/databases/{database_cluster_uuid}/pools/{pool_name}"),
    ("get", "/v2/tags"),
    ("post", "/v2/tags"),
    ("get", "/v2/tags/{tag_id}"),
    ("delete", "/v2/tags/{tag_id}"),
    ("post", "/v2/tags/{tag_id}/resources"),
    ("delete", "/v2/tags/{tag_id}/resources"),
    ("get", "/v2/projects"),
    ("post", "/v2/projects"),
    ("get", "/v2/projects/default"),
    ("put", "/v2/projects/default"),
    ("patch", "/v2/projects/default"),
    ("get", "/v2/projects/default/resources"),
    ("post", "/v2/projects/default/resources"),
    ("get", "/v2/projects/{project_id}"),
    ("put", "/v2/projects/{project_id}"),
    ("patch", "/v2/projects/{project_id}"),
    ("delete", "/v2/projects/{project_id}"),
    ("get", "/v2/projects/{project_id}/resources"),
    ("post", "/v2/projects/{project_id}/resources"),
    ("get", "/v2/firewalls"),
    ("post", "/v2/firewalls"),
    ("get", "/v2/firewalls/{firewall_id}"),
    ("put", "/v2/firewalls/{firewall_id}"),
    ("delete", "/v2/firewalls/{firewall_id}"),
    ("post", "/v2/firewalls/{firewall_id}/droplets"),
    ("delete", "/v2/firewalls/{firewall_id}/droplets"),
    ("post", "/v2/firewalls/{firewall_id}/tags"),
    ("delete", "/v2/firewalls/{firewall_id}/tags"),
    ("post", "/v2/firewalls/{firewall_id}/rules"),
    ("delete", "/v2/firewalls/{firewall_id}/rules"),
    ("get", "/v2/droplets/{droplet_id}/firewalls"),
    ("get", "/v2/vpcs"),
    ("post", "/v2/vpcs"),
    ("get", "/v2/vpcs/{vpc_id}"),
    ("put", "/v2/vpcs/{vpc_id}"),
    ("patch", "/v2/vpcs/{vpc_id}"),
    ("delete", "/v2/vpcs/{vpc_id}"),
    ("get", "/v2/vpcs/{vpc_id}/members"),
    ("get", "/v2/domains"),
    ("post", "/v2/domains"),
    ("get", "/v2/domains/{domain_name}"),
    ("delete", "/v2/domains/{domain_name}"),
    ("get", "/v2/domains/{domain_name}/records"),
    ("post", "/v2/domains/{domain_name}/records"),
    ("get", "/v2/domains/{domain_name}/records/{domain_record_id}"),
    ("put", "/v2/domains/{domain_name}/records/{domain_record_id}"),
    ("patch", "/v2/domains/{domain_name}/records/{domain_record_id}"),
    ("delete", "/v2/domains/{domain_name}/records/{domain_record_id}"),
    ("get", "/v2/databases/{database_cluster_uuid}/eviction_policy"),
    ("put", "/v2/databases/{database_cluster_uuid}/eviction_policy"),
    ("put", "/v2/databases/{database_cluster_uuid}/maintenance"),
    ("get", "/v2/databases/{database_cluster_uuid}/sql_mode"),
    ("put", "/v2/databases/{database_cluster_uuid}/sql_mode"),
    ("get", "/v2/spaces/keys"),
    ("post", "/v2/spaces/keys"),
    ("get", "/v2/spaces/keys/{access_key}"),
    ("put", "/v2/spaces/keys/{access_key}"),
    ("patch", "/v2/spaces/keys/{access_key}"),
    ("delete", "/v2/spaces/keys/{access_key}"),
    ("get", "/v2/load_balancers"),
    ("post", "/v2/load_balancers"),
    ("get", "/v2/load_balancers/{lb_id}"),
    ("put", "/v2/load_balancers/{lb_id}"),
    ("delete", "/v2/load_balancers/{lb_id}"),
    ("post", "/v2/load_balancers/{lb_id}/droplets"),
    ("delete", "/v2/load_balancers/{lb_id}/droplets"),
    ("post", "/v2/load_balancers/{lb_id}/forwarding_rules"),
    ("delete", "/v2/load_balancers/{lb_id}/forwarding_rules"),
]

# Resource areas whose whole operation list is reported as coverage.
AREAS = ("/v2/droplets", "/v2/volumes", "/v2/reserved_ips", "/v2/floating_ips", "/v2/actions",
         "/v2/databases", "/v2/account", "/v2/regions", "/v2/sizes", "/v2/images", "/v2/tags",
         "/v2/domains", "/v2/vpcs", "/v2/projects", "/v2/firewalls", "/v2/spaces", "/v2/load_balancers")


def walk(spec, node, depth, rebuild):
    """Walks a schema: lists item by item, internal $refs replaced by their targets, and every
    other object made again by `rebuild(node, depth)`."""
    if depth > 60:
        raise SystemExit("schema nesting too deep: a recursive $ref?")
    if isinstance(node, list):
        return [walk(spec, item, depth + 1, rebuild) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return walk(spec, target, depth + 1, rebuild)
    return rebuild(node, depth)


def resolve(spec, node):
    """Inline internal $refs and convert OpenAPI 3.0 schema dialect to JSON Schema draft 7."""

    def rebuild(node, depth):
        out = {}
        for key, value in node.items():
            if key in ("example", "examples", "description", "title", "x-codegen-request-body-name",
                       "externalDocs", "deprecated", "xml", "discriminator"):
                continue
            out[key] = walk(spec, value, depth + 1, rebuild)
        if out.pop("nullable", False):
            if "type" in out:
                types = out["type"] if isinstance(out["type"], list) else [out["type"]]
                out["type"] = types + ["null"]
            if "enum" in out:
                out["enum"] = list(out["enum"]) + [None]
            if "type" not in out:
                out = {"anyOf": [out, {"type": "null"}]}
        # readOnly/writeOnly are annotations in draft 7 too; nothing to do.
        return out

    return walk(spec, node, 0, rebuild)


def inline(spec, node):
    """Inline internal $refs and drop prose, keeping OpenAPI 3.0's own schema dialect."""

    def rebuild(node, depth):
        return {key: walk(spec, value, depth + 1, rebuild) for key, value in node.items()
                if key not in ("example", "examples", "description", "title", "externalDocs",
                               "x-codegen-request-body-name", "x-codeSamples")}

    return walk(spec, node, 0, rebuild)


def write_fuzz_spec(spec):
    paths = {}
    for method, path in OPERATIONS:
        op = spec["paths"][path][method]
        kept = {key: op[key] for key in ("operationId", "parameters", "requestBody", "responses")
                if key in op}
        shared = spec["paths"][path].get("parameters")
        if shared:
            kept["parameters"] = shared + kept.get("parameters", [])
        paths.setdefault(path, {})[method] = inline(spec, kept)
    doc = {
        "openapi": spec["openapi"],
        "info": {"title": "DigitalOcean API, the operations dosim serves", "version": "2.0",
                 "x-origin": "github.com/digitalocean/openapi at "
                             "7c1300c479fed9c353cda9fc21cd968619552304; Apache License 2.0"},
        "paths": paths,
    }
    FUZZ_OUT.write_text(json.dumps(doc, sort_keys=True) + "\n")


def write_coverage(coverage):
    done = sum(c["implemented"] for c in coverage)
    lines = [
        "# API coverage",
        "",
        "Which operations of DigitalOcean's API v2 dosim serves, for the resource areas it models.",
        f"Generated by `scripts/vendor-openapi.py` from the spec; {done} of the {len(coverage)} operations in these areas.",
        "Every implemented operation is exercised over HTTP and its response validated against the spec's schema by `tests/python/test_openapi.py`.",
    ]
    area = None
    for c in sorted(coverage, key=lambda c: (c["path"].split("/")[2], c["path"], c["method"])):
        this = c["path"].split("/")[2]
        if this != area:
            area = this
            lines += ["", f"## {area}", "", "| operation | method | path | served |", "|---|---|---|---|"]
        lines.append(f"| `{c['operation_id']}` | {c['method']} | `{c['path']}` | {'yes' if c['implemented'] else 'no'} |")
    COVERAGE.write_text("\n".join(lines) + "\n")


def main():
    spec_path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SPEC
    spec = yaml.safe_load(spec_path.read_text())
    operations = []
    for method, path in OPERATIONS:
        op = spec["paths"][path][method]
        responses = {}
        for status, response in op["responses"].items():
            response = resolve(spec, response)
            content = response.get("content", {})
            schema = content.get("application/json", {}).get("schema")
            responses[status] = {
                "schema": schema,
                "headers": sorted(response.get("headers", {}).keys()),
            }
        operations.append({
            "operation_id": op["operationId"],
            "method": method.upper(),
            "path": path,
            "responses": responses,
        })
    coverage = []
    for path, ops in spec["paths"].items():
        if not path.startswith(AREAS):
            continue
        for method, op in ops.items():
            if method in ("get", "post", "put", "patch", "delete", "head"):
                coverage.append({"operation_id": op["operationId"], "method": method.upper(),
                                 "path": path, "implemented": (method, path) in OPERATIONS})
    doc = {
        "origin": "github.com/digitalocean/openapi at 7c1300c479fed9c353cda9fc21cd968619552304, "
                  "DigitalOcean-public.v2.bundled.yaml; Apache License 2.0 (LICENSE beside this file)",
        "generated_by": "scripts/vendor-openapi.py",
        "operations": operations,
        "coverage": coverage,
    }
    OUT.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    write_fuzz_spec(spec)
    write_coverage(coverage)
    print(f"wrote {OUT.relative_to(ROOT)}: {len(operations)} operations, "
          f"{sum(c['implemented'] for c in coverage)}/{len(coverage)} of the areas' operations")


if __name__ == "__main__":
    main()
