#!/bin/sh
# Creates the droplet `web-1` with curl against $DIGITALOCEAN_API_URL, retrying when the request
# fails. A create whose response is lost after it committed (lost-create.toml) is retried, and
# DigitalOcean lets two droplets share a name: the retry makes a second one.
#
# Run it under `dosim test --faults tests/anylang/lost-create.toml -- sh tests/anylang/retry_create.sh`.
set -u
body='{"name":"web-1","region":"nyc3","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64"}'
for attempt in 1 2 3; do
  if curl -sS -f -o /dev/null -X POST \
      -H "Authorization: Bearer $DIGITALOCEAN_TOKEN" \
      -H 'Content-Type: application/json' \
      -H 'x-dosim-actor: deploy' \
      -d "$body" "$DIGITALOCEAN_API_URL/v2/droplets"; then
    exit 0
  fi
  echo "attempt $attempt failed; retrying" >&2
done
exit 1
