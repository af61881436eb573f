# Sourced by scripts/test: starts a throwaway PostgreSQL cluster for the tests and exports
# PARLEY_TEST_POSTGRES_URL. Trust auth on loopback only, fsync off: test data is disposable.
PG_PORT="${PARLEY_TEST_PG_PORT:-55432}"
PG_DATA="${TMPDIR:-/tmp}/parley-test-pg-${PG_PORT}"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "Installing PostgreSQL (Debian package) for the tests..."
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
if [ "$(id -u)" = 0 ]; then AS_PG=(runuser -u postgres --); else AS_PG=(); fi
if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
  rm -rf "$PG_DATA"
  mkdir -p "$PG_DATA"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_DATA"
  "${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 >/dev/null
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w \
    -o "-p $PG_PORT -k $PG_DATA -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=300" start >/dev/null
fi
export PARLEY_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:${PG_PORT}/postgres"
