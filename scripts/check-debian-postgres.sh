#!/usr/bin/env bash
# The product on Debian 12's own PostgreSQL 15 (not only the embedded server the test suite starts):
# a throwaway cluster made with Debian's wrappers, `db migrate` twice, a real `sync`, the data
# model's cascade fired from psql, `db check`, then the cluster is dropped again.
# Run by .ci/run after the test suite; needs root (it installs postgresql when it is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pg_createcluster >/dev/null || [ ! -x /usr/lib/postgresql/15/bin/postgres ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 postgresql-client-15 >/dev/null
fi

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cluster="brokkr_check_$$"
password="check-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
work=$(mktemp -d)
cleanup() {
  pg_dropcluster --stop 15 "$cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

pg_createcluster 15 "$cluster" -p "$port" --start -- --auth-local=peer --auth-host=scram-sha-256 >/dev/null
runuser -u postgres -- psql -q -p "$port" -c "ALTER USER postgres PASSWORD '$password'" -c 'CREATE DATABASE brokkr'
url="postgresql://postgres:$password@127.0.0.1:$port/brokkr"
version=$(runuser -u postgres -- psql -tA -p "$port" -c 'SHOW server_version')
echo "Debian PostgreSQL $version on port $port"

cli() { node dist/cli/main.js "$@"; }
cli db migrate --db "$url"
cli db migrate --db "$url" | grep -q 'already up to date'

# A small repository from the bundled example stacks.
repo="$work/stacks"
mkdir -p "$repo" && cp -r stacks.example/. "$repo/"
git -C "$repo" init -q -b main
git -C "$repo" -c user.email=ci@brokkr-sync.invalid -c user.name=ci add -A
git -C "$repo" -c user.email=ci@brokkr-sync.invalid -c user.name=ci commit -qm 'example stacks'
cli sync --repo "$repo" --db "$url" --data-dir "$work/data" >/dev/null

stacks=$(psql "$url" -tA -c 'SELECT count(*) FROM stacks WHERE deleted_at IS NULL')
[ "$stacks" -gt 0 ] || { echo "no stacks synced into Debian PostgreSQL" >&2; exit 1; }
# The data model's trigger, fired by a client that is not brokkr-sync: soft delete → marker.
psql "$url" -q -c "UPDATE stacks SET deleted_at = now() WHERE id = (SELECT id FROM stacks WHERE deleted_at IS NULL ORDER BY name LIMIT 1)"
markers=$(psql "$url" -tA -c "SELECT count(*) FROM deployment_objects WHERE is_deletion_marker AND yaml_checksum = md5('')")
[ "$markers" = 1 ] || { echo "expected one deletion marker from the psql soft delete, found $markers" >&2; exit 1; }
cli db check --db "$url"
echo "Debian PostgreSQL $version: migrate, sync, psql cascade and db check ok ($stacks stacks)"
