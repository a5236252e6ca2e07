"""Every implemented operation, called over real HTTP, answers with the status and body
DigitalOcean's OpenAPI spec declares (schemas vendored in tests/data/openapi/)."""
import json
import pathlib
import time

import jsonschema
import pytest

from wire import call

SPEC = json.loads((pathlib.Path(__file__).resolve().parents[1] / "data" / "openapi" / "operations.json").read_text())
OPERATIONS = {(op["method"], op["path"]): op for op in SPEC["operations"]}


class Checker:
    """Calls the server and validates each response against the operation's schema."""

    def __init__(self, serve, token):
        self.serve = serve
        self.token = token
        self.covered = set()

    def __call__(self, method, spec_path, params=None, body=None, query="", expect=None, token="default"):
        op = OPERATIONS[(method, spec_path)]
        path = spec_path
        for key, value in (params or {}).items():
            path = path.replace("{" + key + "}", str(value))
        resp = call(self.serve.url, self.token if token == "default" else token, method, path + query, body)
        status = str(resp.status)
        if expect is not None:
            assert resp.status == expect, f"{method} {path}{query}: expected {expect}, got {resp!r}"
        declared = op["responses"].get(status) or op["responses"].get("default")
        assert declared is not None, f"{method} {path}: status {status} is not declared by the spec: {resp!r}"
        for header in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"):
            assert header in resp.headers, f"{method} {path}: no {header} header"
        if declared["schema"] is None:
            assert resp.body is None, f"{method} {path}: spec declares no body for {status}, got {resp!r}"
        else:
            try:
                jsonschema.Draft7Validator(declared["schema"]).validate(resp.body)
            except jsonschema.ValidationError as err:
                pytest.fail(f"{method} {path}{query} → {status} does not match {op['operation_id']}'s schema:\n"
                            f"{err.message}\nat {list(err.absolute_path)}\nbody: {resp.raw[:2000]}")
        if resp.status < 400:
            self.covered.add((method, spec_path))
        return resp

    def wait_action(self, action_id, timeout_s=20):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            action = call(self.serve.url, self.token, "GET", f"/v2/actions/{action_id}").body["action"]
            if action["status"] != "in-progress":
                assert action["status"] == "completed", action
                return action
            time.sleep(0.05)
        raise AssertionError(f"action {action_id} still in progress after {timeout_s}s")


def test_every_operation_matches_the_spec(serve):
    check = Checker(serve, serve.fresh_token("openapi"))

    check("GET", "/v2/account", expect=200)

    # SSH keys, by id and by fingerprint.
    key = check("POST", "/v2/account/keys", body={
        "name": "ci", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB ci"},
        expect=201).body["ssh_key"]
    assert key["fingerprint"] == "d6:9a:30:45:17:cf:91:c4:27:94:f3:22:92:a3:00:0e", key
    check("GET", "/v2/account/keys", expect=200)
    check("GET", "/v2/account/keys/{ssh_key_identifier}", {"ssh_key_identifier": key["fingerprint"]}, expect=200)
    check("PUT", "/v2/account/keys/{ssh_key_identifier}", {"ssh_key_identifier": key["id"]},
          body={"name": "deploy"}, expect=200)
    check("POST", "/v2/account/keys", body={"name": "again", "public_key": key["public_key"]}, expect=422)
    check("DELETE", "/v2/account/keys/{ssh_key_identifier}", {"ssh_key_identifier": key["id"]}, expect=204)
    check("GET", "/v2/regions", expect=200)
    check("GET", "/v2/sizes", query="?per_page=5", expect=200)
    images = check("GET", "/v2/images", expect=200).body["images"]
    check("GET", "/v2/images/{image_id}", {"image_id": images[0]["id"]}, expect=200)

    # Droplets: the single and the multi form, then everything that reads them.
    one = check("POST", "/v2/droplets", body={
        "name": "web-1", "region": "nyc3", "size": "s-1vcpu-1gb", "image": "ubuntu-22-04-x64",
        "tags": ["schema"], "ipv6": True, "monitoring": True}, expect=202).body
    droplet_id = one["droplet"]["id"]
    create_action = one["links"]["actions"][0]["id"]
    many = check("POST", "/v2/droplets", body={
        "names": ["web-2", "web-3"], "region": "nyc3", "size": "s-1vcpu-1gb", "image": "ubuntu-22-04-x64",
        "tags": ["schema-multi"]}, expect=202).body
    assert len(many["droplets"]) == 2 and len(many["links"]["actions"]) == 2
    check("GET", "/v2/droplets", expect=200)
    check("GET", "/v2/droplets", query="?tag_name=schema", expect=200)
    check("GET", "/v2/droplets/{droplet_id}", {"droplet_id": droplet_id}, expect=200)
    check("GET", "/v2/droplets/{droplet_id}/actions", {"droplet_id": droplet_id}, expect=200)
    check("GET", "/v2/droplets/{droplet_id}/actions/{action_id}",
          {"droplet_id": droplet_id, "action_id": create_action}, expect=200)
    check("GET", "/v2/actions", expect=200)
    check("GET", "/v2/actions/{action_id}", {"action_id": create_action}, expect=200)
    check.wait_action(create_action)
    for link in many["links"]["actions"]:
        check.wait_action(link["id"])
    active = check("GET", "/v2/droplets/{droplet_id}", {"droplet_id": droplet_id}, expect=200).body["droplet"]
    assert active["status"] == "active" and active["networks"]["v4"], active

    off = check("POST", "/v2/droplets/{droplet_id}/actions", {"droplet_id": droplet_id},
                body={"type": "power_off"}, expect=201).body["action"]
    check.wait_action(off["id"])
    by_tag = check("POST", "/v2/droplets/actions", query="?tag_name=schema-multi",
                   body={"type": "power_off"}, expect=201).body["actions"]
    for action in by_tag:
        check.wait_action(action["id"])

    # Volumes, attached by id and by name, resized, detached, deleted both ways.
    vol = check("POST", "/v2/volumes", body={
        "name": "data-1", "region": "nyc3", "size_gigabytes": 10, "description": "d",
        "filesystem_type": "ext4", "filesystem_label": "data", "tags": ["schema"]}, expect=201).body["volume"]
    check("POST", "/v2/volumes", body={"name": "data-2", "region": "nyc3", "size_gigabytes": 10}, expect=201)
    check("GET", "/v2/volumes", expect=200)
    check("GET", "/v2/volumes", query="?name=data-1&region=nyc3", expect=200)
    check("GET", "/v2/volumes/{volume_id}", {"volume_id": vol["id"]}, expect=200)
    attach = check("POST", "/v2/volumes/{volume_id}/actions", {"volume_id": vol["id"]},
                   body={"type": "attach", "droplet_id": droplet_id, "region": "nyc3"}, expect=202).body["action"]
    check.wait_action(attach["id"])
    check("GET", "/v2/volumes/{volume_id}/actions", {"volume_id": vol["id"]}, expect=200)
    check("GET", "/v2/volumes/{volume_id}/actions/{action_id}", {"volume_id": vol["id"], "action_id": attach["id"]},
          expect=200)
    by_name = check("POST", "/v2/volumes/actions", body={
        "type": "attach", "volume_name": "data-2", "region": "nyc3", "droplet_id": droplet_id}, expect=202).body
    check.wait_action(by_name["action"]["id"])
    detach = check("POST", "/v2/volumes/actions", body={
        "type": "detach", "volume_name": "data-2", "region": "nyc3", "droplet_id": droplet_id}, expect=202).body
    check.wait_action(detach["action"]["id"])
    resize = check("POST", "/v2/volumes/{volume_id}/actions", {"volume_id": vol["id"]},
                   body={"type": "resize", "size_gigabytes": 20, "region": "nyc3"}, expect=202).body["action"]
    check.wait_action(resize["id"])
    detach = check("POST", "/v2/volumes/{volume_id}/actions", {"volume_id": vol["id"]},
                   body={"type": "detach", "droplet_id": droplet_id, "region": "nyc3"}, expect=202).body["action"]
    check.wait_action(detach["id"])
    check("DELETE", "/v2/volumes/{volume_id}", {"volume_id": vol["id"]}, expect=204)
    check("DELETE", "/v2/volumes", query="?name=data-2&region=nyc3", expect=204)

    # Reserved IPs and their legacy floating-IP alias.
    for kind, key in (("reserved_ips", "reserved_ip"), ("floating_ips", "floating_ip")):
        base = f"/v2/{kind}"
        in_region = check("POST", base, body={"region": "nyc3"}, expect=202).body[key]
        check("GET", base, expect=200)
        check("GET", base + "/{" + key + "}", {key: in_region["ip"]}, expect=200)
        assign = check("POST", base + "/{" + key + "}/actions", {key: in_region["ip"]},
                       body={"type": "assign", "droplet_id": droplet_id}, expect=201).body["action"]
        check.wait_action(assign["id"])
        check("GET", base + "/{" + key + "}/actions", {key: in_region["ip"]}, expect=200)
        check("GET", base + "/{" + key + "}/actions/{action_id}", {key: in_region["ip"], "action_id": assign["id"]},
              expect=200)
        unassign = check("POST", base + "/{" + key + "}/actions", {key: in_region["ip"]},
                         body={"type": "unassign"}, expect=201).body["action"]
        check.wait_action(unassign["id"])
        check("DELETE", base + "/{" + key + "}", {key: in_region["ip"]}, expect=204)
    on_droplet = check("POST", "/v2/reserved_ips", body={"droplet_id": droplet_id}, expect=202).body
    assert on_droplet["links"]["actions"], on_droplet
    check.wait_action(on_droplet["links"]["actions"][0]["id"])

    # Managed databases, control plane.
    cluster = check("POST", "/v2/databases", body={
        "name": "backend", "engine": "pg", "version": "16", "region": "nyc3", "size": "db-s-1vcpu-1gb",
        "num_nodes": 1, "tags": ["schema"]}, expect=201).body["database"]
    uuid = cluster["id"]
    check("GET", "/v2/databases", expect=200)
    check("GET", "/v2/databases", query="?tag_name=schema", expect=200)
    check("GET", "/v2/databases/{database_cluster_uuid}", {"database_cluster_uuid": uuid}, expect=200)
    ids = {"database_cluster_uuid": uuid}
    check("GET", "/v2/databases/{database_cluster_uuid}/dbs", ids, expect=200)
    check("POST", "/v2/databases/{database_cluster_uuid}/dbs", ids, body={"name": "alpha"}, expect=201)
    check("GET", "/v2/databases/{database_cluster_uuid}/dbs/{database_name}", {**ids, "database_name": "alpha"},
          expect=200)
    check("GET", "/v2/databases/{database_cluster_uuid}/users", ids, expect=200)
    check("POST", "/v2/databases/{database_cluster_uuid}/users", ids, body={"name": "app-01"}, expect=201)
    check("GET", "/v2/databases/{database_cluster_uuid}/users/{username}", {**ids, "username": "app-01"}, expect=200)
    check("GET", "/v2/databases/{database_cluster_uuid}/pools", ids, expect=200)
    check("POST", "/v2/databases/{database_cluster_uuid}/pools", ids, body={
        "name": "backend-pool", "mode": "transaction", "size": 10, "db": "alpha", "user": "app-01"}, expect=201)
    check("GET", "/v2/databases/{database_cluster_uuid}/pools/{pool_name}", {**ids, "pool_name": "backend-pool"},
          expect=200)
    check("PUT", "/v2/databases/{database_cluster_uuid}/pools/{pool_name}", {**ids, "pool_name": "backend-pool"},
          body={"mode": "session", "size": 5, "db": "alpha"}, expect=204)
    check("DELETE", "/v2/databases/{database_cluster_uuid}/pools/{pool_name}", {**ids, "pool_name": "backend-pool"},
          expect=204)
    check("DELETE", "/v2/databases/{database_cluster_uuid}/users/{username}", {**ids, "username": "app-01"},
          expect=204)
    check("DELETE", "/v2/databases/{database_cluster_uuid}/dbs/{database_name}", {**ids, "database_name": "alpha"},
          expect=204)

    # Tags: the droplets and the cluster created with "schema" carry it; a new tag is tagged onto
    # the droplet and the cluster by request, listed with its counts, untagged and deleted.
    schema_tag = check("GET", "/v2/tags/{tag_id}", {"tag_id": "schema"}, expect=200).body["tag"]
    assert schema_tag["resources"]["droplets"]["count"] == 1, schema_tag
    assert schema_tag["resources"]["databases"]["count"] == 1, schema_tag
    created = check("POST", "/v2/tags", body={"name": "Claimed"}, expect=201).body["tag"]
    assert created == {"name": "Claimed", "resources": {
        "count": 0, "droplets": {"count": 0}, "volumes": {"count": 0}, "databases": {"count": 0},
        "images": {"count": 0}, "volume_snapshots": {"count": 0}}}, created
    assert check("POST", "/v2/tags", body={"name": "claimed"}, expect=201).body["tag"]["name"] == "Claimed"
    tag = {"tag_id": "Claimed"}
    check("POST", "/v2/tags/{tag_id}/resources", tag, body={"resources": [
        {"resource_id": str(droplet_id), "resource_type": "droplet"},
        {"resource_id": uuid, "resource_type": "database"}]}, expect=204)
    listed = {t["name"]: t for t in check("GET", "/v2/tags", expect=200).body["tags"]}
    assert listed["Claimed"]["resources"]["count"] == 2, listed
    assert listed["Claimed"]["resources"]["last_tagged_uri"].endswith(f"/v2/databases/{uuid}"), listed
    claimed = check("GET", "/v2/droplets", query="?tag_name=Claimed", expect=200).body["droplets"]
    assert [d["id"] for d in claimed] == [droplet_id], claimed
    check("DELETE", "/v2/tags/{tag_id}/resources", tag, body={"resources": [
        {"resource_id": str(droplet_id), "resource_type": "droplet"}]}, expect=204)
    check("POST", "/v2/tags/{tag_id}/resources", tag, body={"resources": [
        {"resource_id": "1", "resource_type": "droplet"}]}, expect=404)
    check("DELETE", "/v2/tags/{tag_id}", tag, expect=204)
    check("GET", "/v2/tags/{tag_id}", tag, expect=404)
    check("POST", "/v2/tags", body={"name": "not valid"}, expect=400)

    check("DELETE", "/v2/databases/{database_cluster_uuid}", ids, expect=204)

    # Firewalls: created, replaced whole by PUT, changed part by part, listed per droplet.
    https = {"protocol": "tcp", "ports": "443", "sources": {"addresses": ["0.0.0.0/0", "::/0"]}}
    dns = {"protocol": "udp", "ports": "53", "destinations": {"addresses": ["0.0.0.0/0"]}}
    firewall = check("POST", "/v2/firewalls", body={"name": "web", "inbound_rules": [https],
                                                   "outbound_rules": [dns], "droplet_ids": [droplet_id]},
                     expect=202).body["firewall"]
    fw = {"firewall_id": firewall["id"]}
    check("GET", "/v2/firewalls", expect=200)
    check("GET", "/v2/firewalls/{firewall_id}", fw, expect=200)
    replaced = check("PUT", "/v2/firewalls/{firewall_id}", fw, body={"name": "web", "inbound_rules": [https]},
                     expect=200).body["firewall"]
    assert replaced["droplet_ids"] == [], replaced
    check("POST", "/v2/firewalls/{firewall_id}/droplets", fw, body={"droplet_ids": [droplet_id]}, expect=204)
    on_droplet = check("GET", "/v2/droplets/{droplet_id}/firewalls", {"droplet_id": droplet_id},
                       expect=200).body["firewalls"]
    assert [f["id"] for f in on_droplet] == [firewall["id"]], on_droplet
    check("DELETE", "/v2/firewalls/{firewall_id}/droplets", fw, body={"droplet_ids": [droplet_id]}, expect=204)
    check("POST", "/v2/firewalls/{firewall_id}/tags", fw, body={"tags": ["schema"]}, expect=204)
    check("DELETE", "/v2/firewalls/{firewall_id}/tags", fw, body={"tags": ["schema"]}, expect=204)
    check("POST", "/v2/firewalls/{firewall_id}/rules", fw, body={"outbound_rules": [dns]}, expect=204)
    check("DELETE", "/v2/firewalls/{firewall_id}/rules", fw, body={"outbound_rules": [dns]}, expect=204)
    check("DELETE", "/v2/firewalls/{firewall_id}", fw, expect=204)

    # Load balancers: new, then active (its address shows), replaced whole by PUT, changed part by part.
    http = {"entry_protocol": "http", "entry_port": 80, "target_protocol": "http", "target_port": 8080}
    tcp = {"entry_protocol": "tcp", "entry_port": 5432, "target_protocol": "tcp", "target_port": 5432}
    lb = check("POST", "/v2/load_balancers", body={
        "name": "web-lb", "region": "nyc3", "forwarding_rules": [http], "droplet_ids": [droplet_id]},
        expect=202).body["load_balancer"]
    assert lb["status"] == "new" and lb["ip"] == "", lb
    lbp = {"lb_id": lb["id"]}
    check("GET", "/v2/load_balancers", expect=200)
    deadline = time.monotonic() + 20
    while check("GET", "/v2/load_balancers/{lb_id}", lbp, expect=200).body["load_balancer"]["status"] != "active":
        assert time.monotonic() < deadline, "the load balancer never became active"
        time.sleep(0.05)
    replaced = check("PUT", "/v2/load_balancers/{lb_id}", lbp, body={
        "name": "web-lb", "region": "nyc3", "forwarding_rules": [http], "droplet_ids": []},
        expect=200).body["load_balancer"]
    assert replaced["droplet_ids"] == [] and replaced["ip"], replaced
    check("POST", "/v2/load_balancers/{lb_id}/droplets", lbp, body={"droplet_ids": [droplet_id]}, expect=204)
    check("DELETE", "/v2/load_balancers/{lb_id}/droplets", lbp, body={"droplet_ids": [droplet_id]}, expect=204)
    check("POST", "/v2/load_balancers/{lb_id}/forwarding_rules", lbp, body={"forwarding_rules": [tcp]}, expect=204)
    check("DELETE", "/v2/load_balancers/{lb_id}/forwarding_rules", lbp, body={"forwarding_rules": [tcp]},
          expect=204)
    check("POST", "/v2/load_balancers", body={"name": "both", "region": "nyc3", "forwarding_rules": [http],
                                              "droplet_ids": [droplet_id], "tag": "schema"}, expect=422)
    check("DELETE", "/v2/load_balancers/{lb_id}", lbp, expect=204)

    # Projects: the default holds what nobody moved; a droplet moves to a new project, which
    # then refuses deletion (412), and back.
    default = check("GET", "/v2/projects/default", expect=200).body["project"]
    assert default["is_default"], default
    check("GET", "/v2/projects/default/resources", expect=200)
    check("GET", "/v2/projects", expect=200)
    project = check("POST", "/v2/projects", body={"name": "staging", "purpose": "Web Application",
                                                 "environment": "Staging"}, expect=201).body["project"]
    ids = {"project_id": project["id"]}
    check("GET", "/v2/projects/{project_id}", ids, expect=200)
    check("PUT", "/v2/projects/{project_id}", ids, body={"name": "staging", "description": "pre-release",
                                                         "purpose": "Web Application", "environment": "Staging",
                                                         "is_default": False}, expect=200)
    check("PATCH", "/v2/projects/{project_id}", ids, body={"description": "pre-release 2"}, expect=200)
    urn = f"do:droplet:{droplet_id}"
    moved = check("POST", "/v2/projects/{project_id}/resources", ids, body={"resources": [urn]},
                  expect=200).body["resources"]
    assert [r["urn"] for r in moved] == [urn], moved
    check("GET", "/v2/projects/{project_id}/resources", ids, expect=200)
    check("DELETE", "/v2/projects/{project_id}", ids, expect=412)
    check("POST", "/v2/projects/default/resources", body={"resources": [urn]}, expect=200)
    empty = check("POST", "/v2/projects", body={"name": "empty", "purpose": "IoT"}, expect=201).body["project"]
    check("DELETE", "/v2/projects/{project_id}", {"project_id": empty["id"]}, expect=204)
    check("PUT", "/v2/projects/default", body={"name": default["name"], "description": "everything else",
                                               "purpose": default["purpose"], "environment": "Development",
                                               "is_default": True}, expect=200)
    check("PATCH", "/v2/projects/default", body={"description": "everything else, still"}, expect=200)

    # VPCs: each region's default, one of the user's own with a droplet in it, moving the default.
    defaults = check("GET", "/v2/vpcs", query="?per_page=200", expect=200).body["vpcs"]
    nyc3 = next(v for v in defaults if v["region"] == "nyc3")
    assert nyc3["default"] and nyc3["name"] == "default-nyc3", nyc3
    apps = check("POST", "/v2/vpcs", body={"name": "apps", "region": "nyc3", "ip_range": "10.250.0.0/24",
                                           "description": "apps"}, expect=201).body["vpc"]
    vpc = {"vpc_id": apps["id"]}
    check("GET", "/v2/vpcs/{vpc_id}", vpc, expect=200)
    in_vpc = check("POST", "/v2/droplets", body={
        "name": "in-vpc", "region": "nyc3", "size": "s-1vcpu-1gb", "image": "ubuntu-22-04-x64",
        "vpc_uuid": apps["id"]}, expect=202).body["droplet"]
    members = check("GET", "/v2/vpcs/{vpc_id}/members", vpc, expect=200).body["members"]
    assert [m["urn"] for m in members] == [f"do:droplet:{in_vpc['id']}"], members
    check("DELETE", "/v2/vpcs/{vpc_id}", vpc, expect=409)
    check("PATCH", "/v2/vpcs/{vpc_id}", vpc, body={"default": True}, expect=200)
    check("PUT", "/v2/vpcs/{vpc_id}", vpc, body={"name": "apps-2", "description": "renamed"}, expect=200)
    check("PATCH", "/v2/vpcs/{vpc_id}", {"vpc_id": nyc3["id"]}, body={"default": True}, expect=200)
    check("DELETE", "/v2/droplets/{droplet_id}", {"droplet_id": in_vpc["id"]}, expect=204)
    check("DELETE", "/v2/vpcs/{vpc_id}", vpc, expect=204)

    # Domains: the zone a create makes, two records that share a name, filters, updates.
    domain = check("POST", "/v2/domains", body={"name": "example.com", "ip_address": "192.0.2.1"},
                   expect=201).body["domain"]
    assert domain["zone_file"].startswith("$ORIGIN example.com.\n"), domain
    check("GET", "/v2/domains", expect=200)
    zone = {"domain_name": "example.com"}
    check("GET", "/v2/domains/{domain_name}", zone, expect=200)
    types = [r["type"] for r in check("GET", "/v2/domains/{domain_name}/records", zone,
                                      expect=200).body["domain_records"]]
    assert types == ["SOA", "NS", "NS", "NS", "A"], types
    first = check("POST", "/v2/domains/{domain_name}/records", zone,
                  body={"type": "A", "name": "api", "data": "203.0.113.10", "ttl": 300}, expect=201).body
    second = check("POST", "/v2/domains/{domain_name}/records", zone,
                   body={"type": "A", "name": "api", "data": "203.0.113.10"}, expect=201).body
    check("POST", "/v2/domains/{domain_name}/records", zone,
          body={"type": "MX", "data": "mail.example.com.", "priority": 10}, expect=201)
    api = check("GET", "/v2/domains/{domain_name}/records", zone, query="?name=api.example.com&type=A",
                expect=200).body["domain_records"]
    assert [r["id"] for r in api] == [first["domain_record"]["id"], second["domain_record"]["id"]], api
    record = {**zone, "domain_record_id": second["domain_record"]["id"]}
    check("GET", "/v2/domains/{domain_name}/records/{domain_record_id}", record, expect=200)
    check("PUT", "/v2/domains/{domain_name}/records/{domain_record_id}", record,
          body={"type": "A", "name": "api", "data": "203.0.113.11"}, expect=200)
    check("PATCH", "/v2/domains/{domain_name}/records/{domain_record_id}", record, body={"ttl": 60}, expect=200)
    check("DELETE", "/v2/domains/{domain_name}/records/{domain_record_id}", record, expect=204)
    check("DELETE", "/v2/domains/{domain_name}", zone, expect=204)
    check("GET", "/v2/domains/{domain_name}", zone, expect=404)
    # Managed Caching for Valkey: its connection and eviction policy.
    valkey = check("POST", "/v2/databases", body={
        "name": "cache", "engine": "valkey", "version": "8", "region": "nyc3", "size": "db-s-1vcpu-1gb",
        "num_nodes": 1}, expect=201).body["database"]
    assert valkey["connection"]["uri"].startswith("rediss://default:AVNS_"), valkey
    assert (valkey["connection"]["user"], valkey["connection"]["ssl"]) == ("default", True), valkey
    vids = {"database_cluster_uuid": valkey["id"]}
    policy = "/v2/databases/{database_cluster_uuid}/eviction_policy"
    assert check("GET", policy, vids, expect=200).body == {"eviction_policy": "noeviction"}
    check("PUT", policy, vids, body={"eviction_policy": "allkeys_lru"}, expect=204)
    assert check("GET", policy, vids, expect=200).body == {"eviction_policy": "allkeys_lru"}
    # The maintenance window, as Terraform's provider sets it: the hour reads back with seconds.
    check("PUT", "/v2/databases/{database_cluster_uuid}/maintenance", vids,
          body={"day": "friday", "hour": "13:00"}, expect=204)
    window = check("GET", "/v2/databases/{database_cluster_uuid}", vids, expect=200).body["database"]
    assert window["maintenance_window"]["day"] == "friday", window
    assert window["maintenance_window"]["hour"] == "13:00:00", window
    # MySQL's SQL mode, and its users' authentication plugin.
    mysql = check("POST", "/v2/databases", body={
        "name": "shop", "engine": "mysql", "version": "8", "region": "nyc3", "size": "db-s-1vcpu-1gb",
        "num_nodes": 1}, expect=201).body["database"]
    mids = {"database_cluster_uuid": mysql["id"]}
    mode = "/v2/databases/{database_cluster_uuid}/sql_mode"
    assert check("GET", mode, mids, expect=200).body["sql_mode"]
    check("PUT", mode, mids, body={"sql_mode": "ANSI,TRADITIONAL"}, expect=204)
    assert check("GET", mode, mids, expect=200).body == {"sql_mode": "ANSI,TRADITIONAL"}
    legacy = check("POST", "/v2/databases/{database_cluster_uuid}/users", mids,
                   body={"name": "legacy", "mysql_settings": {"auth_plugin": "mysql_native_password"}},
                   expect=201).body["user"]
    assert legacy["mysql_settings"] == {"auth_plugin": "mysql_native_password"}, legacy
    check("DELETE", "/v2/databases/{database_cluster_uuid}", mids, expect=204)
    check("DELETE", "/v2/databases/{database_cluster_uuid}", vids, expect=204)
    # Spaces keys: create (the only response with the secret), list with a filter, get, rename both ways, delete.
    key = check("POST", "/v2/spaces/keys", body={
        "name": "schema-key", "grants": [{"bucket": "schema-bucket", "permission": "readwrite"}]}, expect=201).body["key"]
    assert key["secret_key"]
    access = {"access_key": key["access_key"]}
    check("GET", "/v2/spaces/keys", expect=200)
    check("GET", "/v2/spaces/keys", query="?bucket=schema-bucket&sort_direction=asc", expect=200)
    check("GET", "/v2/spaces/keys/{access_key}", access, expect=200)
    check("PUT", "/v2/spaces/keys/{access_key}", access, body={"name": "schema-key-2"}, expect=200)
    check("PATCH", "/v2/spaces/keys/{access_key}", access, body={"name": "schema-key-3"}, expect=200)
    check("POST", "/v2/spaces/keys", body={
        "name": "mixed", "grants": [{"bucket": "", "permission": "fullaccess"},
                                    {"bucket": "b", "permission": "read"}]}, expect=400)
    check("DELETE", "/v2/spaces/keys/{access_key}", access, expect=204)
    check("GET", "/v2/spaces/keys/{access_key}", access, expect=404)

    # Deletes, and the error bodies the spec declares.
    check("DELETE", "/v2/droplets/{droplet_id}", {"droplet_id": droplet_id}, expect=204)
    check("DELETE", "/v2/droplets", query="?tag_name=schema-multi", expect=204)
    check("GET", "/v2/droplets/{droplet_id}", {"droplet_id": droplet_id}, expect=404)
    check("GET", "/v2/volumes/{volume_id}", {"volume_id": "506f78a4-e098-11e5-ad9f-000f53306ae1"}, expect=404)
    check("GET", "/v2/account", token=None, expect=401)

    missing = sorted(set(OPERATIONS) - check.covered)
    assert not missing, f"operations never exercised with a success: {missing}"
