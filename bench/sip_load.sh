#!/usr/bin/env bash
# bench/sip_load.sh: SIP media load. sipp places N concurrent inbound calls (each held SECONDS)
# to a Parley number whose agent plays cached prompts and listens with VAD, for each N of the
# levels; the same sipp load against sipp's own UAS with -rtp_echo is the baseline of the run.
#
#   bench/sip_load.sh [--levels 50,100,200,400] [--seconds 60] [--ramp 15] [--no-baseline] [--no-capture]
#
# Per level and run, over the steady window (every call up: from RAMP+3 s after the first call
# to 2 s before it ends):
#   - CPU of the process under test (Parley, or the sipp UAS), from /proc/PID/stat, as % of one
#     core and as CPU milliseconds per call-second;
#   - calls up (Parley's media legs, sipp's current calls), failed calls (sipp's count: any
#     unexpected answer, retransmission timeout, or a hang-up by the far end before SECONDS);
#   - Parley's own account of its outgoing RTP (/metrics, see bench/README.md): the gap between a
#     call's consecutive packets at the send call (p99 and max, from 1 ms buckets), frames sent
#     late (>= 20 ms after their time) and frames never sent;
#   - with the capture (default; tcpdump on lo): the same gaps measured on the wire, exactly,
#     and frames missing or late by their RTP timestamps (for the baseline: sipp's echo).
#
# Settings (environment): BENCH_SKIP_BUILD=1 (use target/release as it is), BENCH_BIN (the parley
# binary to measure, target/release/parley), BENCH_KEEP=1 (keep the
# scratch folder: server log, sipp logs, captures), BENCH_PORT (HTTP, 18191), BENCH_SIP_PORT (15060;
# sipp uses the next ports and media ports 16000/16100), BENCH_CALLER_DBFS (-50: the callers' noise).
# Prints a table and writes it to bench/out/sip_load-<timestamp>.txt. Exits non-zero if a call failed.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

LEVELS=50,100,200,400
CALL_SECS=60
RAMP=15
BASELINE=1
CAPTURE=1
while (($#)); do
    case $1 in
        --levels) LEVELS=$2; shift 2 ;;
        --seconds) CALL_SECS=$2; shift 2 ;;
        --ramp) RAMP=$2; shift 2 ;;
        --no-baseline) BASELINE=0; shift ;;
        --no-capture) CAPTURE=0; shift ;;
        -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

log() { printf '[sip_load] %s\n' "$*" >&2; }
die() { printf '[sip_load] error: %s\n' "$*" >&2; exit 1; }

[[ $LEVELS =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--levels: a comma-separated list of call counts"
[[ $CALL_SECS =~ ^[0-9]+$ && $RAMP =~ ^[0-9]+$ ]] || die "--seconds and --ramp are whole seconds"
SETTLE=3 # after the ramp, before the window
((CALL_SECS - 2 - RAMP - SETTLE >= 10)) || die "--seconds must be at least --ramp + 15 (a window of 10 s or more)"
IFS=, read -r -a LEVEL_LIST <<<"$LEVELS"
MAX_LEVEL=0
for n in "${LEVEL_LIST[@]}"; do ((n > MAX_LEVEL)) && MAX_LEVEL=$n; done

HTTP_PORT=${BENCH_PORT:-18191}
SIP_PORT=${BENCH_SIP_PORT:-15060}
UAC_PORT=$((SIP_PORT + 2))
UAS_PORT=$((SIP_PORT + 4))
UAC_MEDIA=16000
UAS_MEDIA=16100
CALLER_DBFS=${BENCH_CALLER_DBFS:--50}
NUMBER=+14155557777
BIN=${BENCH_BIN:-target/release/parley}
TOOL=target/release/examples/sip_load
BASE="http://127.0.0.1:$HTTP_PORT"

# ---------------------------------------------------------------- tools

need() { # command package
    command -v "$1" >/dev/null && return 0
    log "installing $2 (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null \
        || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null; }
    command -v "$1" >/dev/null || die "$1 not found even after installing $2"
}
need sipp sip-tester
need curl curl
need jq jq
((CAPTURE)) && need tcpdump tcpdump
for p in $HTTP_PORT; do
    ss -H -tln "sport = :$p" | grep -q . && die "TCP port $p is in use (set BENCH_PORT)"
done
for p in $SIP_PORT $UAC_PORT $UAS_PORT $UAC_MEDIA $((UAC_MEDIA + 2)) $UAS_MEDIA $((UAS_MEDIA + 2)); do
    ss -H -uln "sport = :$p" | grep -q . && die "UDP port $p is in use (set BENCH_SIP_PORT)"
done

# ---------------------------------------------------------------- build and models

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
    log "building the release server and the bench helper"
    cargo build --release --locked -p parley-server --bin parley --example sip_load >&2
fi
[[ -x $BIN && -x $TOOL ]] || die "$BIN or $TOOL missing (build them, or unset BENCH_SKIP_BUILD)"
scripts/setup >/dev/null

# ---------------------------------------------------------------- scratch state and cleanup

WORK=$(mktemp -d "${TMPDIR:-/tmp}/parley-sip-load.XXXXXX")
SERVER_PID=""
CHILDREN=() # sipp and tcpdump processes we started
cleanup() {
    local p
    for p in "${CHILDREN[@]}"; do kill "$p" 2>/dev/null || true; done
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -INT "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)
now() { date +%s.%N; }
# A process's user + system CPU, in jiffies (0 when gone).
proc_jiffies() { awk '{sub(/^.*\) /, ""); printf "%d\n", $12 + $13}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Every other process's CPU, "pid jiffies" (user + system, and its reaped children's): a busy
# neighbour (a build, a test run) shows in the difference of two of these. (/proc/stat's busy time
# is sampled at the kernel's tick and misses much of a load that wakes on 20 ms timers.)
others() {
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v skip=" $$ $SERVER_PID ${UAC_PID:-} ${UAS_PID:-} ${CAP_PID:-} " '
        { pid = $1; sub(/^.*\) /, ""); if (index(skip, " " pid " ") == 0) printf "%s %d\n", pid, $12 + $13 + $14 + $15 }'
}
calc() { awk -v OFMT=%.6f -v CONVFMT=%.6f "BEGIN { $1 }"; }
sleep_until() { local d; d=$(calc "d = $1 - $(now); print (d > 0 ? d : 0)"); sleep "$d"; }
kv() { awk -F= -v k="$2" '$1 == k { v = substr($0, length(k) + 2) } END { print (v == "" ? "-" : v) }' "$1"; }

# ---------------------------------------------------------------- the server, the agent, the number

DATA="$WORK/data"
SERVER_ENV=(PARLEY_BIND="127.0.0.1:$HTTP_PORT" PARLEY_DATA_DIR="$DATA" PARLEY_PUBLIC_URL="$BASE"
    PARLEY_SIP_BIND="127.0.0.1:$SIP_PORT" PARLEY_RATE_LIMIT_PER_MINUTE=0 PARLEY_PUBLIC_RATE_LIMIT_PER_MINUTE=0
    PARLEY_LOG=warn PARLEY_MAX_CONCURRENT_CALLS=$((MAX_LEVEL * 2)))
team_json=$(env -u PARLEY_DATABASE_URL "${SERVER_ENV[@]}" "$BIN" team create --name bench --json 2>>"$WORK/server.log") \
    || die "parley team create failed (see $WORK/server.log; BENCH_KEEP=1 keeps it)"
TEAM_ID=$(jq -r .team_id <<<"$team_json")
TOKEN=$(jq -r .api_token <<<"$team_json")
env -u PARLEY_DATABASE_URL "${SERVER_ENV[@]}" "$BIN" team set --team-id "$TEAM_ID" --max-concurrent-calls $((MAX_LEVEL * 2)) \
    >/dev/null 2>>"$WORK/server.log" || die "parley team set failed"
env -u PARLEY_DATABASE_URL "${SERVER_ENV[@]}" "$BIN" serve >>"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
    curl -fs -o /dev/null -m 1 "$BASE/health" && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "the server exited on start"; }
    sleep 0.1
done
curl -fs -o /dev/null -m 1 "$BASE/health" || die "the server did not answer /health within 30 s"
log "server up (pid $SERVER_PID), SIP on 127.0.0.1:$SIP_PORT"

api() { # path json -> .data
    local out
    out=$(curl -sS -m 10 -H "x-api-token: $TOKEN" -H "team_id: $TEAM_ID" -H 'content-type: application/json' \
        --data "$2" "$BASE$1") || die "POST $1 failed"
    jq -e '.data' <<<"$out" 2>/dev/null || die "POST $1: $out"
}
# The agent greets with a question, then listens; after 20 s of silence it asks again ("Are you
# still there?" and the question: cached fixed texts too). So every call plays prompts during the
# window, and its VAD listens to the caller's every frame.
AGENT=$(api /interview/create '{"title": "Bench line", "silence_timeout_ms": 20000, "silence_reprompts": 5, "flow": {
  "nodes": [
    {"id": "start", "type": "start", "data": {}},
    {"id": "q", "type": "question", "data": {"variable": "ok", "kind": "yes_no",
      "question": "Thanks for calling Bright Dental. Can you still make your appointment tomorrow at ten?"}},
    {"id": "bye", "type": "end", "data": {"outcome": "answered", "message": "Thanks. Goodbye."}}
  ],
  "edges": [
    {"id": "e1", "source": "start", "sourceHandle": "next", "target": "q"},
    {"id": "e2", "source": "q", "sourceHandle": "yes", "target": "bye"},
    {"id": "e3", "source": "q", "sourceHandle": "no", "target": "bye"},
    {"id": "e4", "source": "q", "sourceHandle": "no_match", "target": "bye"}
  ]}}' | jq -r .id)
TRUNK=$(api /sip_trunk "{\"name\": \"bench\", \"host\": \"127.0.0.1\", \"port\": $UAS_PORT, \"transport\": \"udp\",
  \"inbound_addresses\": [\"127.0.0.1/32\"]}" | jq -r .id)
api /phone_number "{\"phone_number\": \"$NUMBER\", \"network\": \"sip\", \"sip_trunk_id\": \"$TRUNK\",
  \"inbound_interview_id\": \"$AGENT\"}" >/dev/null
log "agent $AGENT answers $NUMBER on trunk $TRUNK"

# The callers' audio: quiet line noise, checked with the agent's own VAD (no speech: no Whisper).
"$TOOL" caller-wav "$WORK/caller.wav" --seconds $((CALL_SECS + RAMP + 10)) --dbfs "$CALLER_DBFS" >"$WORK/caller.txt"
CALLER_NOTE="white noise at $(kv "$WORK/caller.txt" caller_level_dbfs) dBFS; the agent's VAD (floor -45 dBFS) hears no speech in it ($(kv "$WORK/caller.txt" caller_speech_starts) speech starts, from $(kv "$WORK/caller.txt" caller_vad_runs) starting points); VAD $(kv "$WORK/caller.txt" vad_us_per_frame) us a frame (WebRTC's classifier, on frames above the floor: $(kv "$WORK/caller.txt" vad_classifier_us_per_frame) us)"
if [[ $(kv "$WORK/caller.txt" caller_speech_starts) != 0 ]]; then
    log "warning: the agent's VAD hears speech in the callers' audio, so calls will run Whisper: $CALLER_NOTE"
    CALLER_NOTE="$CALLER_NOTE; WARNING: so every call runs speech-to-text"
fi

log "waiting 6 s for the SIP allow-list to pick the trunk up"
sleep 6

# ---------------------------------------------------------------- one load

# uac DIR TARGET_PORT N DURATION_S: starts sipp's callers in DIR (background); sets UAC_PID.
uac() {
    local dir=$1 port=$2 n=$3 secs=$4
    sed -e "s|@AUDIO@|$WORK/caller.wav|" -e "s|@DURATION_MS@|$((secs * 1000))|" bench/sipp/uac_call.xml >"$dir/uac.xml"
    (cd "$dir" && exec sipp -sf uac.xml -s "$NUMBER" "127.0.0.1:$port" -i 127.0.0.1 -p "$UAC_PORT" \
        -mi 127.0.0.1 -mp "$UAC_MEDIA" -m "$n" -l "$n" -r "$n" -rp $((RAMP * 1000)) \
        -timeout $((secs + RAMP + 90))s -nostdin -trace_err -trace_stat -stf stat.csv -fd 1 \
        -trace_rtt -rtt_freq 1 >sipp.out 2>&1) &
    UAC_PID=$!
    CHILDREN+=("$UAC_PID")
}

# The last value of a column of sipp's stat file.
stat_col() { # file column
    [[ -s $1 ]] || { echo 0; return; }
    awk -F';' -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next } k { v = $k } END { print v + 0 }' "$1"
}

# snap DIR NAME: CPU counters (and Parley's /metrics) at one instant.
snap() {
    local dir=$1 name=$2
    {
        echo "t=$(now)"
        echo "uac=$(proc_jiffies "$UAC_PID")"
        [[ -n ${UAS_PID:-} ]] && echo "uas=$(proc_jiffies "$UAS_PID")"
        [[ -n ${CAP_PID:-} ]] && echo "cap=$(proc_jiffies "$CAP_PID")"
        [[ $RUN == parley ]] && echo "srv=$(proc_jiffies "$SERVER_PID")"
        echo "sipp_current=$(stat_col "$dir/stat.csv" CurrentCall)"
    } >"$dir/$name.txt"
    others >"$dir/$name.others"
    if [[ $RUN == parley ]]; then curl -fsS -m 5 "$BASE/metrics" >"$dir/$name.metrics" || true; fi
}

# other_cores DIR: the CPU of every other process over the window, in cores.
other_cores() {
    awk -v hz="$CLK_TCK" -v secs="$(calc "print $(kv "$1/end.txt" t) - $(kv "$1/start.txt" t)")" '
        FNR == NR { start[$1] = $2; next }
        { d = $2 - start[$1]; if (d > 0) sum += d }
        END { printf "%.2f", sum / hz / secs }' "$1/start.others" "$1/end.others"
}

# cores DIR KEY: CPU of one process over the window, in cores.
cores() {
    calc "print ($(kv "$1/end.txt" "$2") - $(kv "$1/start.txt" "$2")) / $CLK_TCK / ($(kv "$1/end.txt" t) - $(kv "$1/start.txt" t))"
}

# load RUN N: one measured load; RUN is parley (against Parley) or echo (against sipp -rtp_echo).
load() {
    RUN=$1
    local n=$2 dir="$WORK/$1-$2" target t0
    mkdir -p "$dir"
    UAS_PID="" CAP_PID=""
    if ((CAPTURE)); then
        tcpdump -i lo -n -s 64 -B 32768 -w "$dir/rtp.pcap" "udp and dst port $UAC_MEDIA" 2>"$dir/tcpdump.err" &
        CAP_PID=$!
        CHILDREN+=("$CAP_PID")
        sleep 1
    fi
    if [[ $RUN == echo ]]; then
        (cd "$dir" && exec sipp -sn uas -rtp_echo -i 127.0.0.1 -p "$UAS_PORT" -mi 127.0.0.1 -mp "$UAS_MEDIA" \
            -nostdin -trace_err >uas.out 2>&1) &
        UAS_PID=$!
        CHILDREN+=("$UAS_PID")
        target=$UAS_PORT
        sleep 1
    else
        target=$SIP_PORT
    fi
    log "$RUN, $n calls: ramp ${RAMP} s, each held ${CALL_SECS} s"
    uac "$dir" "$target" "$n" "$CALL_SECS"
    t0=$(now)
    sleep_until "$(calc "print $t0 + $RAMP + $SETTLE")"
    snap "$dir" start
    sleep_until "$(calc "print $t0 + $CALL_SECS - 2")"
    snap "$dir" end
    local rc=0
    wait "$UAC_PID" || rc=$?
    echo "$rc" >"$dir/sipp.rc"
    if [[ -n $UAS_PID ]]; then kill "$UAS_PID" 2>/dev/null || true; wait "$UAS_PID" 2>/dev/null || true; fi
    if [[ -n $CAP_PID ]]; then
        sleep 1 # the last packets of the window reach the file
        kill -INT "$CAP_PID" 2>/dev/null || true
        wait "$CAP_PID" 2>/dev/null || true
        "$TOOL" wire "$dir/rtp.pcap" --from "$(kv "$dir/start.txt" t)" --to "$(kv "$dir/end.txt" t)" >"$dir/wire.txt"
        [[ ${BENCH_KEEP:-0} == 1 ]] || rm -f "$dir/rtp.pcap"
    fi
    if [[ $RUN == parley ]]; then
        "$TOOL" window "$dir/start.metrics" "$dir/end.metrics" >"$dir/window.txt"
        # The calls end with the callers' BYEs; let Parley write them before the next load.
        for _ in $(seq 1 120); do
            curl -fsS -m 5 "$BASE/metrics" >"$dir/after.metrics" 2>/dev/null || true
            if grep -q '^parley_calls_active 0$' "$dir/after.metrics" && grep -q '^parley_sip_media_legs 0$' "$dir/after.metrics"; then
                break
            fi
            sleep 0.5
        done
    fi
    sleep 2
}

# ---------------------------------------------------------------- the run

# One call first, so the prompts are synthesized and cached before anything is measured.
log "warm-up: one call of 30 s (the prompts get synthesized and cached)"
mkdir -p "$WORK/warmup"
UAC_PID=""
uac "$WORK/warmup" "$SIP_PORT" 1 30
wait "$UAC_PID" || die "the warm-up call failed: $(cat "$WORK/warmup/sipp.out" "$WORK/warmup"/*errors* 2>/dev/null | tail -20)"

FAILURES=()
NOTES=()
AIMS=()
for n in "${LEVEL_LIST[@]}"; do
    ((BASELINE)) && load echo "$n"
    load parley "$n"
done

# ---------------------------------------------------------------- report

num() { [[ $1 =~ ^-?[0-9.]+$ ]] && echo "$1" || echo 0; }
answer_p99() { # dir: p99 of INVITE -> 200, ms, from sipp's rtt file
    local f
    f=$(ls "$1"/*_rtt.csv 2>/dev/null | head -n1)
    [[ -n $f ]] || { echo "-"; return; }
    awk -F';' 'NR > 1 && $2 + 0 == $2 { print $2 }' "$f" | sort -n | awk '{ v[NR] = $1 } END { if (NR) { i = int(NR * 0.99 + 0.999); if (i < 1) i = 1; printf "%.0f", v[i] } else print "-" }'
}

TCPDUMP_VERSION=""
((CAPTURE)) && TCPDUMP_VERSION=$(tcpdump --version 2>&1 | head -n1)
mkdir -p bench/out
REPORT="bench/out/sip_load-$(date +%Y%m%d-%H%M%S).txt"
fmt="%-5s %5s %6s | %6s %8s | %6s %8s | %5s | %6s %6s | %8s %9s | %11s %11s | %6s\n"
{
    echo "Parley SIP media load, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- crates 2>/dev/null || echo ' (with uncommitted changes under crates/)'), $NCPU CPUs: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "AVX-512: $(grep -o 'avx512[a-z]*' /proc/cpuinfo | sort -u | tr '\n' ' ' | sed 's/ $//;s/^$/none/'); $(sipp -v 2>&1 | grep -o 'SIPp v[^ ]*' | head -n1)${TCPDUMP_VERSION:+; $TCPDUMP_VERSION}"
    echo "calls held ${CALL_SECS} s, placed over ${RAMP} s; window: from ${RAMP}+${SETTLE} s after the first call to 2 s before it ends"
    echo "callers send: $CALLER_NOTE"
    echo "agent: asks a cached question, listens, re-asks (cached) after 20 s of silence"
    echo
    printf "$fmt" "" "calls" "failed" "Parley" "" "sipp" "-rtp_echo" "ratio" "late" "missed" "gap p99" "gap max" "wire gap ms" "wire frames" "answer"
    printf "$fmt" "N" "up" "calls" "CPU %" "ms/c-s" "CPU %" "ms/c-s" "ms/c-s" "frames" "frames" "ms" "ms" "p99 / max" "late/missing" "p99 ms"
    for n in "${LEVEL_LIST[@]}"; do
        d="$WORK/parley-$n"
        e="$WORK/echo-$n"
        lb=$(num "$(kv "$d/window.txt" legs_before)")
        la=$(num "$(kv "$d/window.txt" legs_after)")
        up=$(calc "print ($lb < $la ? $lb : $la)")
        secs=$(calc "print $(kv "$d/end.txt" t) - $(kv "$d/start.txt" t)")
        srv=$(cores "$d" srv)
        ms_cs=$(calc "m = ($lb + $la) / 2; printf \"%.3f\", (m > 0 ? $srv * 1000 / m : 0)")
        failed=$(stat_col "$d/stat.csv" 'FailedCall(C)')
        ok=$(stat_col "$d/stat.csv" 'SuccessfulCall(C)')
        missed=$(calc "print $(num "$(kv "$d/window.txt" missed_skipped)") + $(num "$(kv "$d/window.txt" missed_underrun)") + $(num "$(kv "$d/window.txt" missed_queue_full)")")
        p99="<=$(kv "$d/window.txt" gap_p99_le_ms)"
        mx="$(kv "$d/window.txt" gap_max_gt_ms)-$(kv "$d/window.txt" gap_max_le_ms)"
        wire_gap="-"
        wire_frames="-"
        if ((CAPTURE)); then
            wire_gap="$(kv "$d/wire.txt" wire_gap_p99_ms) / $(kv "$d/wire.txt" wire_gap_max_ms)"
            wire_frames="$(kv "$d/wire.txt" wire_late_frames)/$(kv "$d/wire.txt" wire_missing_frames)"
        fi
        b_cpu="-"
        b_ms="-"
        ratio="-"
        if ((BASELINE)); then
            uas=$(cores "$e" uas)
            e_up=$(calc "print ($(kv "$e/start.txt" sipp_current) + $(kv "$e/end.txt" sipp_current)) / 2")
            b_cpu=$(calc "printf \"%.1f\", $uas * 100")
            b_ms=$(calc "printf \"%.3f\", ($e_up > 0 ? $uas * 1000 / $e_up : 0)")
            ratio=$(calc "printf \"%.1f\", ($b_ms > 0 ? $ms_cs / $b_ms : 0)")
            e_failed=$(stat_col "$e/stat.csv" 'FailedCall(C)')
            ((e_failed == 0)) || FAILURES+=("baseline, $n calls: sipp counted $e_failed failed calls")
        fi
        printf "$fmt" "$n" "$up" "$failed" "$(calc "printf \"%.1f\", $srv * 100")" "$ms_cs" "$b_cpu" "$b_ms" "$ratio" \
            "$(kv "$d/window.txt" late)" "$missed" "$p99" "$mx" "$wire_gap" "$wire_frames" "$(answer_p99 "$d")"
        ((failed == 0)) || FAILURES+=("parley, $n calls: sipp counted $failed failed calls ($ok successful); BENCH_KEEP=1 keeps sipp's error logs")
        ((${up%.*} >= n)) || FAILURES+=("parley, $n calls: only $up calls up during the window")
        cap=0
        ((CAPTURE)) && cap=$(cores "$d" cap)
        other=$(other_cores "$d")
        cap_note=""
        ((CAPTURE)) && cap_note=", tcpdump $(calc "printf \"%.2f\", $cap") cores"
        NOTES+=("N=$n: window $(calc "printf \"%.1f\", $secs") s; Parley $(calc "printf \"%.2f\", $srv") cores, sipp callers $(calc "printf \"%.2f\", $(cores "$d" uac)") cores, other processes $other cores$cap_note")
        NOTES+=("      in-process: $(kv "$d/window.txt" packets) packets, gap mean $(kv "$d/window.txt" gap_mean_ms) ms, p50 <=$(kv "$d/window.txt" gap_p50_le_ms), p99.9 <=$(kv "$d/window.txt" gap_p999_le_ms) ms, over 25 ms $(kv "$d/window.txt" gaps_over_25ms), over 40 ms $(kv "$d/window.txt" gaps_over_40ms); missed: skipped $(kv "$d/window.txt" missed_skipped), underrun $(kv "$d/window.txt" missed_underrun), queue full $(kv "$d/window.txt" missed_queue_full); callers' frames dropped $(kv "$d/window.txt" caller_frames_dropped)")
        if ((CAPTURE)); then
            NOTES+=("      wire: $(kv "$d/wire.txt" wire_streams) streams, $(kv "$d/wire.txt" wire_packets) packets, gap p50/p99/p99.9/max $(kv "$d/wire.txt" wire_gap_p50_ms)/$(kv "$d/wire.txt" wire_gap_p99_ms)/$(kv "$d/wire.txt" wire_gap_p999_ms)/$(kv "$d/wire.txt" wire_gap_max_ms) ms, over 25 ms $(kv "$d/wire.txt" wire_gaps_over_25ms); late $(kv "$d/wire.txt" wire_late_frames) (lateness p99/max $(kv "$d/wire.txt" wire_lateness_p99_ms)/$(kv "$d/wire.txt" wire_lateness_max_ms) ms), missing $(kv "$d/wire.txt" wire_missing_frames); capture: $(grep -o '[0-9]* packets dropped by kernel' "$d/tcpdump.err" || echo '?')")
        fi
        if ((BASELINE)); then
            echo_note=""
            ((CAPTURE)) && echo_note="; its echo on the wire: gap p99/max $(kv "$e/wire.txt" wire_gap_p99_ms)/$(kv "$e/wire.txt" wire_gap_max_ms) ms, late/missing $(kv "$e/wire.txt" wire_late_frames)/$(kv "$e/wire.txt" wire_missing_frames)"
            NOTES+=("      baseline: calls up $(kv "$e/start.txt" sipp_current)/$(kv "$e/end.txt" sipp_current), sipp callers $(calc "printf \"%.2f\", $(cores "$e" uac)") cores, other processes $(other_cores "$e") cores$echo_note")
        fi
        if [[ $(calc "print ($failed == 0 && $(num "$(kv "$d/window.txt" gap_p99_le_ms)") < 25 && ${up%.*} >= $n) ? 1 : 0") == 1 ]]; then
            AIMS+=("N=$n: no failed call and a p99 gap under 25 ms: met")
        else
            AIMS+=("N=$n: no failed call and a p99 gap under 25 ms: NOT met")
        fi
    done
    echo
    printf '%s\n' "${NOTES[@]}"
    echo
    echo "(CPU %: of one core, over the window; ms/c-s: CPU milliseconds per second per call up. sipp -rtp_echo: the"
    echo " baseline, sipp's UAS echoing the same callers' RTP. late: frames sent >= 20 ms after their time; missed: frames never"
    echo " sent; both from Parley's /metrics, as are the gaps between a call's consecutive packets (p99: the upper bound of its"
    echo " 1 ms bucket; max: its bucket). wire: tcpdump on lo, the same gaps measured exactly; late = >= 20 ms behind the"
    echo " stream's most punctual packet by RTP timestamp, missing = holes in the timestamps. answer: INVITE to 200 OK (sipp).)"
    echo
    printf '%s\n' "${AIMS[@]}"
    if ((${#FAILURES[@]})); then
        echo
        echo "FAILED:"
        printf '  %s\n' "${FAILURES[@]}"
    fi
} >"$REPORT"
cat "$REPORT"
log "written to $REPORT"
((${#FAILURES[@]} == 0)) || exit 1
