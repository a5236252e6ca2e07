"""pydo, DigitalOcean's official Python client from PyPI, drives `dosim serve` end to end."""
import time

import pydo
import pytest
from azure.core.exceptions import HttpResponseError, ClientAuthenticationError

# pydo's bearer-token policy refuses plain-http endpoints unless told otherwise per call.
PLAIN = {"enforce_https": False}


def client(serve, name):
    # retry_total=0: a test must see each response, not azure-core's retries of it.
    return pydo.Client(serve.fresh_token(name), endpoint=serve.url, retry_total=0)


def wait(do, action_id, timeout_s=20):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        action = do.actions.get(action_id, **PLAIN)["action"]
        if action["status"] == "completed":
            return action
        assert action["status"] == "in-progress", action
        time.sleep(0.05)
    raise AssertionError(f"action {action_id} did not complete in {timeout_s}s")


def test_pydo_flow(serve):
    do = client(serve, "pydo-flow")

    listed = do.droplets.list(**PLAIN)
    assert listed["droplets"] == [] and listed["meta"]["total"] == 0

    # A droplet: created, then polled until active.
    created = do.droplets.create(body={
        "name": "web-1", "region": "nyc3", "size": "s-1vcpu-1gb", "image": "ubuntu-22-04-x64"}, **PLAIN)
    droplet = created["droplet"]
    assert droplet["status"] == "new"
    wait(do, created["links"]["actions"][0]["id"])
    droplet = do.droplets.get(droplet["id"], **PLAIN)["droplet"]
    assert droplet["status"] == "active"
    assert any(n["type"] == "public" for n in droplet["networks"]["v4"])

    # A volume, and a second create of the same name in the same region: 409.
    volume = do.volumes.create(body={"name": "pgdata", "region": "nyc3", "size_gigabytes": 100}, **PLAIN)["volume"]
    with pytest.raises(HttpResponseError) as dup:
        do.volumes.create(body={"name": "pgdata", "region": "nyc3", "size_gigabytes": 100}, **PLAIN)
    assert dup.value.status_code == 409
    body = dup.value.response.json()
    assert body["id"] in ("conflict", "already_exists") and "already exists" in body["message"]
    assert body["request_id"]

    # Attach it to the droplet.
    attach = do.volume_actions.post_by_id(volume["id"], {"type": "attach", "droplet_id": droplet["id"],
                                                         "region": "nyc3"}, **PLAIN)["action"]
    wait(do, attach["id"])
    assert do.volumes.get(volume["id"], **PLAIN)["volume"]["droplet_ids"] == [droplet["id"]]

    # A reserved IP: created in the region, assigned, then reassigned to a second droplet.
    second = do.droplets.create(body={
        "name": "web-2", "region": "nyc3", "size": "s-1vcpu-1gb", "image": "ubuntu-22-04-x64"}, **PLAIN)
    wait(do, second["links"]["actions"][0]["id"])
    ip = do.reserved_ips.create(body={"region": "nyc3"}, **PLAIN)["reserved_ip"]["ip"]
    first = do.reserved_ips_actions.post(ip, {"type": "assign", "droplet_id": droplet["id"]}, **PLAIN)["action"]
    assert first["type"] == "assign_ip" and first["resource_type"] == "reserved_ip"
    wait(do, first["id"])
    assert do.reserved_ips.get(ip, **PLAIN)["reserved_ip"]["droplet"]["id"] == droplet["id"]
    moved = do.reserved_ips_actions.post(ip, {"type": "assign", "droplet_id": second["droplet"]["id"]},
                                         **PLAIN)["action"]
    wait(do, moved["id"])
    assert do.reserved_ips.get(ip, **PLAIN)["reserved_ip"]["droplet"]["id"] == second["droplet"]["id"]

    # The actions, polled through the list and the per-IP list.
    ip_actions = do.reserved_ips_actions.list(ip, **PLAIN)["actions"]
    assert [a["id"] for a in ip_actions] == [first["id"], moved["id"]]
    all_actions = do.actions.list(per_page=200, **PLAIN)["actions"]
    assert {first["id"], moved["id"], attach["id"]} <= {a["id"] for a in all_actions}
    assert all(a["status"] == "completed" for a in all_actions)

    # The 404 and 401 bodies, exactly as DigitalOcean sends them.
    # pydo's generated droplets.get declares 404 as a documented response and returns its body.
    body = do.droplets.get(1, **PLAIN)
    assert body["id"] == "not_found"
    assert body["message"] == "The resource you requested could not be found."
    assert body["request_id"]

    stranger = pydo.Client("not-a-token", endpoint=serve.url, retry_total=0)
    with pytest.raises(ClientAuthenticationError) as denied:
        stranger.droplets.list(**PLAIN)
    assert denied.value.status_code == 401
    assert denied.value.response.json()["id"] == "unauthorized"
    assert denied.value.response.json()["message"] == "Unable to authenticate you."


def test_accounts_are_isolated(serve):
    a, b = client(serve, "iso-a"), client(serve, "iso-b")
    a.volumes.create(body={"name": "only-a", "region": "nyc3", "size_gigabytes": 1}, **PLAIN)
    assert b.volumes.list(**PLAIN)["volumes"] == []
    assert [v["name"] for v in a.volumes.list(**PLAIN)["volumes"]] == ["only-a"]


def test_pydo_drives_what_provisioning_touches(serve):
    """Tags, SSH keys, VPCs, projects, domains, firewalls and load balancers, through pydo."""
    do = client(serve, "pydo-resources")
    droplet = do.droplets.create(body={
        "name": "web-1", "region": "nyc3", "size": "s-1vcpu-1gb", "image": "ubuntu-22-04-x64"},
        **PLAIN)["droplet"]

    do.tags.create(body={"name": "claimed"}, **PLAIN)
    do.tags.assign_resources("claimed", body={
        "resources": [{"resource_id": str(droplet["id"]), "resource_type": "droplet"}]}, **PLAIN)
    assert do.tags.get("claimed", **PLAIN)["tag"]["resources"]["count"] == 1
    # pydo returns the tag service's documented 400 body rather than raising.
    refused = do.tags.create(body={"name": "not valid"}, **PLAIN)
    assert "contains invalid characters" in refused["error"], refused
    assert refused["root_causes"], refused

    key = do.ssh_keys.create(body={
        "name": "ci",
        "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB ci"},
        **PLAIN)["ssh_key"]
    assert do.ssh_keys.get(key["fingerprint"], **PLAIN)["ssh_key"]["id"] == key["id"]

    vpc = do.vpcs.create(body={"name": "apps", "region": "nyc3", "ip_range": "10.250.0.0/24"}, **PLAIN)["vpc"]
    assert any(v["id"] == vpc["id"] for v in do.vpcs.list(**PLAIN)["vpcs"])

    project = do.projects.create(body={"name": "staging", "purpose": "Web Application"}, **PLAIN)["project"]
    moved = do.projects.assign_resources(project["id"], body={"resources": [f"do:droplet:{droplet['id']}"]},
                                         **PLAIN)["resources"]
    assert [r["status"] for r in moved] == ["ok"], moved

    do.domains.create(body={"name": "example.com"}, **PLAIN)
    for _ in range(2):
        do.domains.create_record("example.com", body={"type": "A", "name": "www", "data": "203.0.113.10"},
                                 **PLAIN)
    records = do.domains.list_records("example.com", type="A", name="www.example.com", **PLAIN)
    assert len(records["domain_records"]) == 2, records

    firewall = do.firewalls.create(body={"name": "web", "inbound_rules": [
        {"protocol": "tcp", "ports": "443", "sources": {"addresses": ["0.0.0.0/0"]}}]}, **PLAIN)["firewall"]
    do.firewalls.assign_droplets(firewall["id"], body={"droplet_ids": [droplet["id"]]}, **PLAIN)
    assert do.firewalls.get(firewall["id"], **PLAIN)["firewall"]["droplet_ids"] == [droplet["id"]]

    lb = do.load_balancers.create(body={"name": "web-lb", "region": "nyc3", "forwarding_rules": [
        {"entry_protocol": "http", "entry_port": 80, "target_protocol": "http", "target_port": 8080}]},
        **PLAIN)["load_balancer"]
    assert lb["status"] == "new"
    deadline = time.monotonic() + 20
    while do.load_balancers.get(lb["id"], **PLAIN)["load_balancer"]["status"] != "active":
        assert time.monotonic() < deadline, "the load balancer never became active"
        time.sleep(0.05)
    do.load_balancers.add_droplets(lb["id"], body={"droplet_ids": [droplet["id"]]}, **PLAIN)
    assert do.load_balancers.get(lb["id"], **PLAIN)["load_balancer"]["droplet_ids"] == [droplet["id"]]
    do.load_balancers.delete(lb["id"], **PLAIN)
