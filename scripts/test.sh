#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests drive (Debian's PostgreSQL
# server and psql, redis, awscli, Go with godo, python3-venv, and the Python clients in .venv), then runs every Rust test, which
# in turn runs the Python suite against the dosim binary.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
# crates/dosim-pg-diff starts a private throwaway PostgreSQL from Debian's server binaries
# (/usr/lib/postgresql/<version>/bin) unless DOSIM_PG_REFERENCE_URL names a server;
# dosim-pgwire's tests drive psql.
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || ! command -v psql >/dev/null; then
  missing+=(postgresql postgresql-client)
fi
# The Valkey tests drive redis-cli and redis-benchmark (redis-tools) against `dosim serve`, and
# compare with Debian's redis-server.
if ! command -v redis-cli >/dev/null || ! command -v redis-server >/dev/null; then
  missing+=(redis-tools redis-server)
fi
# Debian's python3 leaves out ensurepip, without which `python3 -m venv` fails; python3-venv has it.
if ! python3 -c 'import ensurepip' 2>/dev/null; then
  missing+=(python3-venv)
fi
# The Spaces tests drive Debian's awscli (`aws s3 cp`, `aws s3 ls`) as a second real S3 client.
if ! [ -x /usr/bin/aws ]; then
  missing+=(awscli)
fi
# tests/go drives `dosim serve` with godo, DigitalOcean's Go client, as Debian packages it, built
# with Debian's Go (GOPATH mode, no network).
if ! command -v go >/dev/null || ! [ -d /usr/share/gocode/src/github.com/digitalocean/godo ]; then
  missing+=(golang-go golang-github-digitalocean-godo-dev)
fi
# tests/anylang/retry_create.sh, the shell example `dosim test` explores, drives curl.
if ! command -v curl >/dev/null; then
  missing+=(curl)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian's ${missing[*]} (the differential suite, the psql tests and the Python suite need them)"
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# psql is installed now: its tests must run, not pass by saying it is missing.
export DOSIM_REQUIRE_PSQL=1
# So is redis-server: the Valkey differential suite must run, not skip.
export DOSIM_REQUIRE_REDIS=1
# And Go with godo: the godo test must run.
export DOSIM_REQUIRE_GO=1

python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt

cargo test --workspace --locked "$@"
