#!/usr/bin/env bash
# bench_repl.sh - what replication costs under write load: bytes on the
# wire per replicated add, and the time until the other peers have
# converged once the load stops.
#
#   bench/bench_repl.sh            (bench/run.sh runs it; BUILD=build)
#
# Two 3-peer clusters on 127.0.0.1, started with cartctl cluster up 3:
#   default   cartd's default options (sync on, flush delay 5 ms, every delta
#             pushed to both other peers, anti-entropy every second)
#   AE off    the same with --ae-interval-ms 3600000: push alone, the
#             baseline of the same run
# Each run drives peer 1 of each cluster in turn with wrk for LOAD seconds,
# as fast as it goes (64 connections, single-line adds of one of 50 skus to
# one of 100000 carts, bench/lua/add.lua), then polls the three peers'
# /cluster digests every ~10 ms until they are equal (deadline 30 s).  From
# peer 1's /metrics, before the run and after convergence:
#   wire bytes per add to one peer = wire_bytes_total{out} / 2 / adds
# (the writer sends each delta to its 2 peers; the figure includes the
# probes and anti-entropy messages it sent meanwhile).  Target (issue):
# <= 20 bytes per add when batching under load.
#
# Env: BENCH_RUNS (5), BENCH_REPL_SECONDS (2), BENCH_OUT (bench/out),
#      BENCH_KEEP (keep the temp dir).  CSV: $BENCH_OUT/repl.csv.
set -uo pipefail

here=$(dirname "$0")
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_args "$0" "$@"

RUNS=${BENCH_RUNS:-5}
LOAD=${BENCH_REPL_SECONDS:-2}
CONNS=64
CARTS=100000
SKUS=50
LIMIT=200000          # adds per run at most, beside the time bound
TARGET=20
DEADLINE_MS=30000

bench_need "$CTL" "$BUILD/cartd" wrk curl
bench_init repl "Replication under write load: bytes per add, convergence" "$0" "$@"

DEF='' AEOFF=''      # HTTP base ports, set by bench_cluster_up
bench_cluster_up DEF 3
bench_cluster_up AEOFF 3 --ae-interval-ms 3600000
for p in "$DEF" "$AEOFF"; do
	for i in 0 1 2; do
		bench_cluster_wait_alive "$((p + i))" 2 15
	done
done
printf '   default: %s cluster up 3 --base-port P --dir D   (writes at peer 1)\n' "$CTL"
printf '   AE off:  %s cluster up 3 --base-port P --dir D -- --ae-interval-ms 3600000\n' "$CTL"
printf '   load:    wrk -t1 -c%d -d%ds -s bench/lua/add.lua http://127.0.0.1:P -- %d %d %d\n' \
	"$CONNS" "$LOAD" "$CARTS" "$SKUS" "$LIMIT"
printf '   check:   GET http://127.0.0.1:P+i/cluster (i = 0..2) until the 3 digests are equal\n'
printf '   %d runs, interleaved; medians\n' "$RUNS"

# digest PORT: sets DIGEST to the peer's root digest ("" on failure).
digest() {
	DIGEST=""
	if bench_http_body "$1" /cluster && [[ $BENCH_BODY =~ \"digest\":\"([0-9a-f]+)\" ]]; then
		DIGEST=${BASH_REMATCH[1]}
	fi
}
# now_ms: sets NOW to milliseconds of the epoch, without a process.
now_ms() {
	NOW=$((${EPOCHREALTIME/./} / 1000))
}
# delta SERIES: the series' increase at the writer between $m0 and $m1.
delta() {
	echo $(($(bench_metric "$m1" "$1") - $(bench_metric "$m0" "$1")))
}

WIRE='cartd_wire_bytes_total{direction="out"}'
RAW='cartd_payload_bytes_total{direction="out"}'
DGRAMS='cartd_datagrams_total{direction="out"}'
DELTAS='cartd_deltas_total{direction="out"}'
ADDS='cartd_writes_total{op="add",result="ok"}'
AE_BYTES=cartd_anti_entropy_bytes_total
AE_CARTS=cartd_anti_entropy_carts_sent_total

# Idle traffic of the default writer: probes and anti-entropy digests.
m0=$(bench_http_get "$DEF" /metrics)
now_ms
t0=$NOW
sleep 2
m1=$(bench_http_get "$DEF" /metrics)
now_ms
idle=$(bench_calc "$(delta "$WIRE") * 1000 / ($NOW - $t0)")

# Per cluster label: space-separated per-run figures.
declare -A BPA AEPA RAWPA PERDG DLPA AEC RATE CONV

# one_run LABEL BASE: one load on the cluster whose peer 1 serves BASE, the
# wait for convergence, and the figures.
one_run() {
	local label=$1 w=$2 t0 t1 c=-1 n a b wire dg
	m0=$(bench_http_get "$w" /metrics)
	now_ms
	t0=$NOW
	timeout --foreground $((LOAD * 3 + 15)) wrk -t1 -c"$CONNS" -d"${LOAD}s" -s "$here/lua/add.lua" \
		"http://127.0.0.1:$w" -- "$CARTS" "$SKUS" "$LIMIT" >/dev/null 2>&1
	now_ms
	t1=$NOW
	while [ $((NOW - t1)) -lt "$DEADLINE_MS" ]; do
		digest "$w"
		a=$DIGEST
		digest "$((w + 1))"
		b=$DIGEST
		digest "$((w + 2))"
		now_ms
		if [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$DIGEST" ]; then
			c=$((NOW - t1))
			break
		fi
		bench_pause 0.01
	done
	m1=$(bench_http_get "$w" /metrics)
	n=$(delta "$ADDS")
	if [ "$n" -le 0 ]; then
		echo "bench: $label: a run made no adds" >&2
		return
	fi
	if [ "$c" -lt 0 ]; then
		echo "bench: $label: peers not converged ${DEADLINE_MS} ms after the load" >&2
		c=$DEADLINE_MS
	fi
	wire=$(delta "$WIRE")
	dg=$(delta "$DGRAMS")
	BPA[$label]+=" $(bench_calc "$wire / 2 / $n")"
	AEPA[$label]+=" $(bench_calc "$(delta "$AE_BYTES") / 2 / $n")"
	RAWPA[$label]+=" $(bench_calc "$(delta "$RAW") / 2 / $n")"
	PERDG[$label]+=" $(bench_calc "$dg > 0 ? $n * 2 / $dg : 0")"
	DLPA[$label]+=" $(bench_calc "$(delta "$DELTAS") / $n")"
	AEC[$label]+=" $(bench_calc "$(delta "$AE_CARTS") * 1000 / $n")"
	RATE[$label]+=" $(bench_calc "$n * 1000 / ($t1 - $t0)")"
	CONV[$label]+=" $c"
	printf '%-8s %4d %7d %7.0f %10.2f %10.2f %10.2f %10.1f %10.3f %10.1f %8d\n' "$label" "$r" \
		"$n" "$(last "${RATE[$label]}")" "$(last "${BPA[$label]}")" \
		"$(last "${AEPA[$label]}")" "$(last "${RAWPA[$label]}")" \
		"$(last "${PERDG[$label]}")" "$(last "${DLPA[$label]}")" \
		"$(last "${AEC[$label]}")" "$c"
}
last() { echo "${1##* }"; }
# med "N N N": the median of a space-separated list (split on purpose).
# shellcheck disable=SC2086
med() { bench_median ${1:-}; }

printf '\n%-8s %4s %7s %7s %10s %10s %10s %10s %10s %10s %8s\n' cluster run adds "adds/s" \
	"wire B/add" "AE B/add" "raw B/add" "adds/dgram" "deltas/add" "AE/1k add" "conv ms"
for r in $(seq "$RUNS"); do
	one_run default "$DEF"
	one_run "AE off" "$AEOFF"
done
[ -n "${BPA[default]:-}" ] || bench_die "no run produced adds"

D=default O="AE off"
bench_table_head
bench_row "wire bytes/add to one peer" "$(med "${BPA[$D]}")" bytes \
	"push only (AE off)" "$(med "${BPA[$O]:-}")" "<=" "$TARGET"
bench_row "  of which AE repair states" "$(med "${AEPA[$D]}")" bytes \
	"wire bytes/add, all" "$(med "${BPA[$D]}")"
bench_row "wire bytes/add, AE off" "$(med "${BPA[$O]:-}")" bytes \
	"payload bytes/add (raw)" "$(med "${RAWPA[$O]:-}")"
bench_row "adds per datagram" "$(med "${PERDG[$D]}")" adds \
	"push only (AE off)" "$(med "${PERDG[$O]:-}")"
bench_row "deltas pushed per add" "$(med "${DLPA[$D]}")" deltas
bench_row "AE carts re-sent per 1k adds" "$(med "${AEC[$D]}")" carts
bench_row "adds/s at the writer" "$(med "${RATE[$D]}")" "adds/s" \
	"push only (AE off)" "$(med "${RATE[$O]:-}")"
bench_row "convergence after load" "$(med "${CONV[$D]}")" ms \
	"push only (AE off)" "$(med "${CONV[$O]:-}")"
bench_row "idle wire bytes/s (writer)" "$idle" "bytes/s"
bench_table_close
