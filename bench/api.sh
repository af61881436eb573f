#!/usr/bin/env bash
# bench/api.sh: throughput and latency of Parley's HTTP API, on SQLite and on PostgreSQL.
#
# Builds and starts the release server with the rate limit lifted, and drives it with wrk at
# 32 connections:
#   GET  /health           the server's floor: HTTP stack + auth-free handler + one `SELECT 1`
#   POST /contact/create   a new number on every request (an insert and a commit each)
#   GET  /contact/{id}     one existing contact, read again and again
# Every figure is also printed as a ratio to the same server's GET /health of the same run, and
# contact creation as a ratio to the raw commit rate of the same database (single-row INSERTs
# of a contacts-shaped row, one commit each), measured by this script in the same run.
#
# Settings (environment):
#   BENCH_SECONDS=10        length of each measurement
#   BENCH_CONNECTIONS=32    wrk connections (and pgbench clients)
#   BENCH_THREADS=2         wrk threads (and pgbench threads)
#   BENCH_BACKENDS="sqlite postgres"
#   BENCH_PORT=18181        the server listens on 127.0.0.1:BENCH_PORT
#   BENCH_PG_URL=postgres://postgres:postgres@127.0.0.1:5432   server to create scratch databases on
#   BENCH_BIN=target/release/parley   BENCH_SKIP_BUILD=1 to use it without `cargo build`
#   BENCH_KEEP=1            keep the scratch folder (data dirs, server logs, raw wrk output)
# Also honoured, passed to the server as they are: PARLEY_DB_MAX_CONNECTIONS, PARLEY_RUN_JOBS, …
#
# Prints a table, writes the same to bench/out/api-<timestamp>.txt, and exits non-zero when any
# request failed (non-2xx answers, socket errors or timeouts) or a check did not hold.
# See bench/README.md for how to read it.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
PORT=${BENCH_PORT:-18181}
PG_URL=${BENCH_PG_URL:-postgres://postgres:postgres@127.0.0.1:5432}
BIN=${BENCH_BIN:-target/release/parley}
BASE="http://127.0.0.1:$PORT"

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

[[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 1 ]] || die "BENCH_SECONDS must be a whole number of seconds"
[[ $CONNS =~ ^[0-9]+$ && $THREADS =~ ^[0-9]+$ && $CONNS -ge $THREADS ]] || die "BENCH_CONNECTIONS must be >= BENCH_THREADS"
case "$PG_URL" in
    postgres://*@127.0.0.1[:/]* | postgres://*@127.0.0.1 | postgresql://*@127.0.0.1[:/]* | postgresql://*@127.0.0.1) ;;
    *) die "BENCH_PG_URL must point at 127.0.0.1 (this benchmark talks to loopback only)" ;;
esac
PG_URL=${PG_URL%/}

# ---------------------------------------------------------------- tools

apt_install() {
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || die "missing $*; install it (apt-get install $*) and rerun"
        sudo="sudo"
    fi
    log "installing $* (apt-get)"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

need() { # command package
    command -v "$1" >/dev/null || apt_install "$2"
    command -v "$1" >/dev/null || die "$1 not found even after installing $2"
}

need wrk wrk
need curl curl
need awk gawk
need jq jq
for b in $BACKENDS; do
    case $b in
        sqlite) need sqlite3 sqlite3 ;;
        postgres)
            need psql postgresql-client
            PGBENCH=$(command -v pgbench || true)
            if [[ -z $PGBENCH ]] || ! "$PGBENCH" --version >/dev/null 2>&1; then
                PGBENCH=$(ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n1 || true)
            fi
            if [[ -z $PGBENCH ]]; then
                apt_install postgresql-contrib
                PGBENCH=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n1 || true)
            fi
            [[ -n $PGBENCH ]] || die "pgbench not found"
            ;;
        *) die "unknown backend '$b' (sqlite or postgres)" ;;
    esac
done

# ---------------------------------------------------------------- build

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
    log "building the release server (cargo build --release -p parley-server)"
    cargo build --release -p parley-server >&2
fi
[[ -x $BIN ]] || die "$BIN not found (build it, or set BENCH_BIN)"

# ---------------------------------------------------------------- scratch state and cleanup

WORK=$(mktemp -d "${TMPDIR:-/tmp}/parley-bench.XXXXXX")
SERVER_PID=""
PG_DBS=()
PG_DB_TAG="parley_bench_$$_$(date +%s)"

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -INT "$SERVER_PID" 2>/dev/null || true # the server stops cleanly on Ctrl-C
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

psql_admin() { psql "$PG_URL/postgres" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_server
    for db in "${PG_DBS[@]+"${PG_DBS[@]}"}"; do
        psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || log "could not drop database $db"
    done
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        log "scratch files kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_create_db() { # name
    psql_admin -c "CREATE DATABASE $1" >/dev/null
    PG_DBS+=("$1")
}

# ---------------------------------------------------------------- measuring helpers

CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)

now() { date +%s.%N; }

# Machine-wide busy and total jiffies, "busy total".
sys_jiffies() { awk '/^cpu /{t=0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit}' /proc/stat; }
# A process's user + system CPU jiffies (0 when gone).
proc_jiffies() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# CPU meters around a measurement: cpu_start, then cpu_stop sets SRV_CORES and SYS_CORES.
cpu_start() {
    read -r CPU_SYS_BUSY0 CPU_SYS_TOT0 < <(sys_jiffies)
    CPU_SRV0=0
    [[ -n $SERVER_PID ]] && CPU_SRV0=$(proc_jiffies "$SERVER_PID")
    CPU_T0=$(now)
}
cpu_stop() {
    local busy1 tot1 srv1=0 t1
    read -r busy1 tot1 < <(sys_jiffies)
    [[ -n $SERVER_PID ]] && srv1=$(proc_jiffies "$SERVER_PID")
    t1=$(now)
    SYS_CORES=$(awk -v b0="$CPU_SYS_BUSY0" -v t0="$CPU_SYS_TOT0" -v b1="$busy1" -v t1="$tot1" -v n="$NCPU" \
        'BEGIN { d = t1 - t0; printf "%.2f", (d > 0 ? (b1 - b0) / d * n : 0) }')
    if [[ -n $SERVER_PID ]]; then
        SRV_CORES=$(awk -v j0="$CPU_SRV0" -v j1="$srv1" -v hz="$CLK_TCK" -v s0="$CPU_T0" -v s1="$t1" \
            'BEGIN { printf "%.2f", (j1 - j0) / hz / (s1 - s0) }')
    else
        SRV_CORES="-"
    fi
}

# wrk latency "812.00us" / "1.23ms" / "1.01s" / "1.5m" -> milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
        if (f < 0) { print "?"; exit 1 }
        printf "%.2f", n * f
    }'
}

# run_wrk NAME URL [LUA]: one measurement; sets RPS P50 P99 REQS ERRS, keeps wrk's output.
run_wrk() {
    local name=$1 url=$2 lua=${3:-} out="$WORK/wrk-$1.txt"
    local args=(-t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency)
    [[ -n $lua ]] && args+=(-s "$lua")
    log "  wrk $name: ${CONNS} connections, ${DURATION}s"
    cpu_start
    wrk "${args[@]}" "$url" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed ($name)"; }
    cpu_stop
    RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
    REQS=$(awk '/ requests in / { print $1 }' "$out")
    P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
    P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
    local non2xx sock
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    sock=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
    ERRS=$(( ${non2xx:-0} + ${sock:-0} ))
    [[ -n $RPS && -n $REQS && $P50 != "?" && $P99 != "?" ]] || { cat "$out" >&2; die "could not read wrk's output ($name)"; }
    if (( ERRS > 0 )); then
        log "  $name: ${non2xx:-0} non-2xx answers, ${sock:-0} socket errors/timeouts"
        sed 's/^/    | /' "$out" >&2
        FAILURES+=("$BACKEND $name: ${non2xx:-0} non-2xx answers, ${sock:-0} socket errors/timeouts")
    fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# ---------------------------------------------------------------- raw commit rates

# SQLite: one connection (sqlite3 CLI), the server's pragmas, each INSERT its own transaction.
raw_commit_sqlite() { # data_dir -> RAW_RATE RAW_NOTE
    local db="$1/raw-commit.db" n t0 t1 secs
    sqlite3 "$db" >/dev/null <<'SQL'
PRAGMA journal_mode = WAL;
CREATE TABLE bench_commit (
    id TEXT PRIMARY KEY, team_id TEXT NOT NULL, created BIGINT NOT NULL, updated BIGINT NOT NULL,
    version BIGINT NOT NULL, status TEXT NOT NULL, name TEXT, phone_number TEXT NOT NULL, email TEXT,
    attributes TEXT NOT NULL, tags TEXT NOT NULL, lead_source TEXT NOT NULL,
    UNIQUE (team_id, phone_number));
CREATE INDEX bench_commit_team_created ON bench_commit (team_id, created);
SQL
    gen_inserts() { # from count
        awk -v from="$1" -v n="$2" -v q="'" 'BEGIN {
            print "PRAGMA synchronous = NORMAL;"
            print "PRAGMA busy_timeout = 10000;"
            for (i = from; i < from + n; i++)
                printf "INSERT INTO bench_commit VALUES (lower(hex(randomblob(16))), %steam%s, %.0f, %.0f, 1, %sACTIVE%s, NULL, %s+1%.0f%s, NULL, %s{}%s, %s[]%s, %sAPI_UPLOAD%s);\n",
                    q, q, 1700000000000 + i, 1700000000000 + i, q, q, q, 2000000000 + i, q, q, q, q, q, q, q
        }'
    }
    # Calibrate on a short run, then size the measured run to about BENCH_SECONDS.
    t0=$(now); gen_inserts 0 5000 | sqlite3 "$db" >/dev/null; t1=$(now)
    n=$(awk -v a="$t0" -v b="$t1" -v d="$DURATION" 'BEGIN { r = 5000 / (b - a); n = int(r * d); if (n < 5000) n = 5000; if (n > 20000000) n = 20000000; print n }')
    log "  sqlite3: $n single-row INSERTs, one commit each"
    cpu_start
    t0=$(now); gen_inserts 5000 "$n" | sqlite3 "$db" >/dev/null; t1=$(now)
    cpu_stop
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    RAW_RATE=$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
    local rows
    rows=$(sqlite3 "$db" "SELECT COUNT(*) FROM bench_commit")
    [[ $rows == $((n + 5000)) ]] || FAILURES+=("sqlite raw commit: expected $((n + 5000)) rows, found $rows")
    RAW_NOTE="sqlite3 CLI, 1 connection, WAL + synchronous=NORMAL, $n INSERTs in ${secs}s"
}

# PostgreSQL: pgbench, BENCH_CONNECTIONS clients, one autocommitted INSERT per transaction.
raw_commit_postgres() { # -> RAW_RATE RAW_NOTE
    local db="${PG_DB_TAG}_raw" out="$WORK/pgbench.txt" script="$WORK/pgbench-insert.sql"
    pg_create_db "$db"
    psql "$PG_URL/$db" -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE TABLE bench_commit (
    id TEXT PRIMARY KEY, team_id TEXT NOT NULL, created BIGINT NOT NULL, updated BIGINT NOT NULL,
    version BIGINT NOT NULL, status TEXT NOT NULL, name TEXT, phone_number TEXT NOT NULL, email TEXT,
    attributes TEXT NOT NULL, tags TEXT NOT NULL, lead_source TEXT NOT NULL,
    UNIQUE (team_id, phone_number));
CREATE INDEX bench_commit_team_created ON bench_commit (team_id, created);
CREATE SEQUENCE bench_phone START 2000000000;
SQL
    cat >"$script" <<'SQL'
INSERT INTO bench_commit VALUES (gen_random_uuid()::text, 'team', (extract(epoch from clock_timestamp()) * 1000)::bigint, (extract(epoch from clock_timestamp()) * 1000)::bigint, 1, 'ACTIVE', NULL, '+1' || nextval('bench_phone'), NULL, '{}', '[]', 'API_UPLOAD');
SQL
    log "  pgbench: $CONNS clients, ${DURATION}s, one INSERT per transaction"
    cpu_start
    "$PGBENCH" -n -c "$CONNS" -j "$THREADS" -T "$DURATION" -f "$script" "$PG_URL/$db" >"$out" 2>&1 \
        || { cat "$out" >&2; die "pgbench failed"; }
    cpu_stop
    RAW_RATE=$(awk '/^tps = / { printf "%.0f", $3; exit }' "$out")
    local lat failed
    lat=$(awk '/^latency average = / { print $4; exit }' "$out")
    failed=$(awk '/^number of failed transactions: / { print $5; exit }' "$out")
    [[ -n $RAW_RATE ]] || { cat "$out" >&2; die "could not read pgbench's output"; }
    [[ ${failed:-0} == 0 ]] || FAILURES+=("postgres raw commit: pgbench reports $failed failed transactions")
    RAW_NOTE="pgbench, $CONNS clients, autocommit INSERT, latency avg ${lat:-?} ms"
}

# ---------------------------------------------------------------- the server

start_server() { # backend data_dir [database_url]
    local backend=$1 dir=$2 url=${3:-} env_db=()
    if curl -s -o /dev/null -m 1 "$BASE/health"; then
        die "something already answers on 127.0.0.1:$PORT (set BENCH_PORT)"
    fi
    if [[ -n $url ]]; then env_db=(PARLEY_DATABASE_URL="$url"); else env_db=(-u PARLEY_DATABASE_URL); fi
    local common=(PARLEY_BIND="127.0.0.1:$PORT" PARLEY_DATA_DIR="$dir" PARLEY_PUBLIC_URL="$BASE"
        PARLEY_RATE_LIMIT_PER_MINUTE=0 PARLEY_PUBLIC_RATE_LIMIT_PER_MINUTE=0 PARLEY_LOG=warn)

    local team_json
    team_json=$(env "${env_db[@]}" "${common[@]}" "$BIN" team create --name "bench" --json 2>>"$WORK/server-$backend.log") \
        || die "parley team create failed (see $WORK/server-$backend.log; BENCH_KEEP=1 keeps it)"
    TEAM_ID=$(printf '%s' "$team_json" | jq -r '.team_id // empty' 2>/dev/null || true)
    TOKEN=$(printf '%s' "$team_json" | jq -r '.api_token // empty' 2>/dev/null || true)
    [[ -n $TEAM_ID && -n $TOKEN ]] || die "could not read team create's output: $team_json"

    env "${env_db[@]}" "${common[@]}" "$BIN" serve >>"$WORK/server-$backend.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        curl -fs -o /dev/null -m 1 "$BASE/health" && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server-$backend.log" >&2; die "the server exited on start ($backend)"; }
        sleep 0.1
    done
    cat "$WORK/server-$backend.log" >&2
    die "the server did not answer /health within 30s ($backend)"
}

api() { # method path [json]
    local args=(-sS -m 10 -X "$1" -H "x-api-token: $TOKEN" -H "team_id: $TEAM_ID" -w '\n%{http_code}')
    [[ $# -ge 3 ]] && args+=(-H 'content-type: application/json' --data "$3")
    curl "${args[@]}" "$BASE$2"
}

count_contacts() { # backend data_dir [database_url]
    if [[ $1 == sqlite ]]; then
        sqlite3 "$2/parley.db" "SELECT COUNT(*) FROM contacts"
    else
        psql "$3" -X -q -A -t -c "SELECT COUNT(*) FROM contacts"
    fi
}

# ---------------------------------------------------------------- the run

FAILURES=()
ROWS=()      # "backend|endpoint|rps|p50|p99|x_health_rps|x_health_p99|x_raw|srv_cores|sys_cores|errors"
NOTES=()
declare -A HEALTH_RPS HEALTH_P99 CREATE_RPS CREATE_P99 RAW

export PARLEY_BENCH_TOKEN PARLEY_BENCH_TEAM PARLEY_BENCH_CONTACT

for BACKEND in $BACKENDS; do
    log "== $BACKEND"
    dir="$WORK/data-$BACKEND"
    mkdir -p "$dir"
    db_url=""

    # 1. Raw commit rate of the same database, before the server runs (nothing else competes).
    if [[ $BACKEND == sqlite ]]; then
        raw_commit_sqlite "$dir"
    else
        raw_commit_postgres
        db_url="$PG_URL/${PG_DB_TAG}_api"
        pg_create_db "${PG_DB_TAG}_api"
    fi
    RAW[$BACKEND]=$RAW_RATE
    ROWS+=("$BACKEND|raw INSERT+COMMIT|$RAW_RATE|-|-|-|-|1.00|-|$SYS_CORES|0")
    NOTES+=("$BACKEND raw commit rate: $RAW_RATE commits/s ($RAW_NOTE)")

    # 2. The server, fresh database.
    start_server "$BACKEND" "$dir" "$db_url"
    PARLEY_BENCH_TOKEN=$TOKEN
    PARLEY_BENCH_TEAM=$TEAM_ID
    log "  server up (pid $SERVER_PID), team $TEAM_ID"

    # Warm up connections and the pool; not measured.
    wrk -t"$THREADS" -c"$CONNS" -d2s "$BASE/health" >/dev/null 2>&1 || true

    run_wrk "$BACKEND-health" "$BASE/health"
    HEALTH_RPS[$BACKEND]=$RPS
    HEALTH_P99[$BACKEND]=$P99
    ROWS+=("$BACKEND|GET /health|$RPS|$P50|$P99|1.00|1.00|-|$SRV_CORES|$SYS_CORES|$ERRS")

    before=$(count_contacts "$BACKEND" "$dir" "$db_url")
    run_wrk "$BACKEND-create" "$BASE/contact/create" bench/wrk/create_contact.lua
    CREATE_RPS[$BACKEND]=$RPS
    CREATE_P99[$BACKEND]=$P99
    ROWS+=("$BACKEND|POST /contact/create|$RPS|$P50|$P99|$(ratio "$RPS" "${HEALTH_RPS[$BACKEND]}")|$(ratio "$P99" "${HEALTH_P99[$BACKEND]}")|$(ratio "$RPS" "$RAW_RATE")|$SRV_CORES|$SYS_CORES|$ERRS")
    created=$(( $(count_contacts "$BACKEND" "$dir" "$db_url") - before ))
    # wrk counts answered requests; up to one in flight per connection may commit after it stops.
    if (( created < REQS - ERRS || created > REQS + CONNS )); then
        FAILURES+=("$BACKEND create: wrk counted $REQS answers but $created new contacts (duplicate numbers?)")
    fi
    NOTES+=("$BACKEND create: $REQS answers, $created new contacts in the database")

    # 3. One contact to read.
    resp=$(api POST /contact/create '{"phone_number": "+1 917 234 5678", "name": "Bench Reader"}')
    code=${resp##*$'\n'}
    body=${resp%$'\n'*}
    [[ $code == 200 ]] || die "creating the contact to read failed ($code): $body"
    PARLEY_BENCH_CONTACT=$(printf '%s' "$body" | jq -r '.data.id // empty' 2>/dev/null || true)
    [[ -n $PARLEY_BENCH_CONTACT ]] || die "no data.id in: $body"
    resp=$(api GET "/contact/$PARLEY_BENCH_CONTACT")
    [[ ${resp##*$'\n'} == 200 ]] || die "reading the contact back failed: $resp"

    run_wrk "$BACKEND-get" "$BASE/contact/$PARLEY_BENCH_CONTACT" bench/wrk/get_contact.lua
    ROWS+=("$BACKEND|GET /contact/{id}|$RPS|$P50|$P99|$(ratio "$RPS" "${HEALTH_RPS[$BACKEND]}")|$(ratio "$P99" "${HEALTH_P99[$BACKEND]}")|-|$SRV_CORES|$SYS_CORES|$ERRS")

    stop_server
done

# ---------------------------------------------------------------- report

mkdir -p bench/out
REPORT="bench/out/api-$(date +%Y%m%d-%H%M%S).txt"
{
    echo "Parley API benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- crates 2>/dev/null || echo ' (with uncommitted changes under crates/)')," \
        "$NCPU CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(wrk -v 2>&1 | awk 'NR==1 { print $1, $2 }')"
    echo "wrk -t$THREADS -c$CONNS -d${DURATION}s --latency against 127.0.0.1:$PORT; server: PARLEY_RATE_LIMIT_PER_MINUTE=0 PARLEY_PUBLIC_RATE_LIMIT_PER_MINUTE=0" \
        "PARLEY_DB_MAX_CONNECTIONS=${PARLEY_DB_MAX_CONNECTIONS:-16 (default)}"
    echo
    printf '%s\n' "${ROWS[@]}" | awk -F'|' '
        BEGIN {
            fmt = "%-9s %-20s %8s %7s %7s %8s %8s %8s %7s %7s %6s\n"
            printf fmt, "backend", "endpoint", "req/s", "p50 ms", "p99 ms", "req/s", "p99", "req/s", "server", "machine", "errors"
            printf fmt, "", "", "", "", "", "/health", "/health", "/raw", "cores", "cores", ""
            printf fmt, "---------", "--------------------", "--------", "-------", "-------", "--------", "--------", "--------", "-------", "-------", "------"
        }
        { printf fmt, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }'
    echo
    printf '%s\n' "${NOTES[@]}"
    echo "(raw INSERT+COMMIT: req/s = commits/s. req/s /health, p99 /health: the row's figure divided by the same server's GET /health;"
    echo " req/s /raw: divided by the same database's raw commit rate. cores: CPU seconds per second, of the server process and of"
    echo " the whole machine ($NCPU CPUs, wrk and the database included).)"
    if [[ -n ${CREATE_RPS[sqlite]:-} ]]; then
        echo
        r=$(ratio "${CREATE_RPS[sqlite]}" "${RAW[sqlite]}")
        echo "aim, sqlite: contact creation >= 0.5 x raw commit rate: $r -> $(awk -v r="$r" 'BEGIN { print ((r >= 0.5) ? "met" : "NOT met") }')"
        echo "aim, sqlite: contact creation p99 < 25 ms at $CONNS connections: ${CREATE_P99[sqlite]} ms -> $(awk -v p="${CREATE_P99[sqlite]}" 'BEGIN { print ((p < 25) ? "met" : "NOT met") }')"
    fi
    if [[ -n ${CREATE_RPS[postgres]:-} ]]; then
        echo "postgres: contact creation = $(ratio "${CREATE_RPS[postgres]}" "${RAW[postgres]}") x raw commit rate, p99 ${CREATE_P99[postgres]} ms"
    fi
    if (( ${#FAILURES[@]} > 0 )); then
        echo
        echo "FAILED:"
        printf '  %s\n' "${FAILURES[@]}"
    fi
} | tee "$REPORT"
log "written to $REPORT"

(( ${#FAILURES[@]} == 0 )) || exit 1
