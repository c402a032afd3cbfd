#!/usr/bin/env bash
# Make sure a PostgreSQL server runs for the store tests' `postgresql` variant, then print
# the URL the tests use (HINDSIGHT_TEST_PG_URL; README: "Storage: PostgreSQL").
# Runs as root: installs Debian's postgresql when the server is missing, creates/starts the
# Debian cluster, and creates a role that may create databases (the tests make one per
# session) plus a database of its own to connect to. Progress goes to stderr; stdout is
# only the URL.
set -euo pipefail

role=hindsight_ci
password=not-a-secret-ci-only
database=hindsight_ci

newest_version() {
    # Installed server versions are the folders of /usr/lib/postgresql with a postgres binary.
    local found=""
    for bin in /usr/lib/postgresql/*/bin/postgres; do
        [[ -x "$bin" ]] && found="$(basename "$(dirname "$(dirname "$bin")")")"$'\n'"$found"
    done
    sort -n <<<"$found" | tail -n 1
}

version="$(newest_version)"
if [[ -z "$version" ]] || ! command -v pg_ctlcluster >/dev/null; then
    echo "Installing PostgreSQL server" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    version="$(newest_version)"
fi
[[ -n "$version" ]] || { echo "no PostgreSQL server after installing postgresql" >&2; exit 1; }

# The first cluster of that version; Debian's package normally made "main" already.
cluster="$(pg_lsclusters -h | awk -v v="$version" '$1 == v && !seen++ { print $2 }')"
if [[ -z "$cluster" ]]; then
    echo "Creating PostgreSQL $version cluster main" >&2
    pg_createcluster "$version" main >&2
    cluster=main
fi
port="$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $3 }')"
status="$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $4 }')"
if [[ "$status" != online* ]]; then
    echo "Starting PostgreSQL $version/$cluster on port $port" >&2
    # The server refuses to run as root; pg_ctlcluster runs it as the cluster's owner.
    pg_ctlcluster "$version" "$cluster" start >&2
fi

# As the postgres superuser over the local socket (peer authentication), idempotently.
runuser -u postgres -- psql -X -q -p "$port" -v ON_ERROR_STOP=1 >&2 <<SQL
SELECT format('CREATE ROLE %I LOGIN', '$role')
    WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$role') \gexec
ALTER ROLE $role WITH LOGIN CREATEDB PASSWORD '$password';
-- Tests need no durability: a commit need not wait for its WAL flush.
ALTER ROLE $role SET synchronous_commit = off;
SELECT format('CREATE DATABASE %I OWNER %I', '$database', '$role')
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$database') \gexec
SQL

echo "postgresql://$role:$password@127.0.0.1:$port/$database"
