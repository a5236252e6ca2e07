#!/bin/sh
# Two droplets tagged `primary` (a claim by tag that nothing made exclusive) and a volume that is
# attached, then detached and left so. Each mistake is one that an opt-in check of `dosim test`
# names: `no-shared-tags` and `no-detached-volumes`.
#
# Run it under `dosim test --check no-shared-tags --check no-detached-volumes -- sh tests/anylang/claim_and_detach.sh`.
set -eu
api() {
  curl -sS -f -X "$1" -H "Authorization: Bearer $DIGITALOCEAN_TOKEN" \
    -H 'Content-Type: application/json' -d "${3:-}" "$DIGITALOCEAN_API_URL$2"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
wait_action() {
  while [ "$(api GET "/v2/actions/$1" | field '["action"]["status"]')" != completed ]; do sleep 0.05; done
}
droplet=$(api POST /v2/droplets '{"name":"db-a","region":"nyc3","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64","tags":["primary"]}' | field '["droplet"]["id"]')
api POST /v2/droplets '{"name":"db-b","region":"nyc3","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64","tags":["primary"]}' >/dev/null
while [ "$(api GET "/v2/droplets/$droplet" | field '["droplet"]["status"]')" != active ]; do sleep 0.05; done
volume=$(api POST /v2/volumes '{"name":"pgdata","region":"nyc3","size_gigabytes":10}' | field '["volume"]["id"]')
wait_action "$(api POST "/v2/volumes/$volume/actions" "{\"type\":\"attach\",\"droplet_id\":$droplet}" | field '["action"]["id"]')"
wait_action "$(api POST "/v2/volumes/$volume/actions" "{\"type\":\"detach\",\"droplet_id\":$droplet}" | field '["action"]["id"]')"
