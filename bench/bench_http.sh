#!/usr/bin/env bash
# bench_http.sh - HTTP writes and reads of a cartd peer against Redis doing
# the equivalent work, in the same run on the same machine.
#
#   bench/bench_http.sh            (bench/run.sh runs it; BUILD=build)
#
# Servers, all on 127.0.0.1, started here and stopped on exit:
#   cartd, 1 peer, --sync on      (the default: a write is answered once synced)
#   cartd, 1 peer, --sync off     (experiments only: no durability)
#   cartd, 3 peers, --sync on     (writes at peer 1, peers 2 and 3 replicating)
#   cartd, 1 peer, --sync on, x2  (LINES carts of 1 line, and of 50 lines)
#   redis-server --save '' --appendonly yes --appendfsync always   (durable)
#   redis-server --save '' --appendonly no                         (in memory)
# Load: wrk with one thread, bench/lua/add.lua (POST one of SKUS skus to a
# random cart of CARTS, with or without Prefer: return=minimal) or
# bench/lua/get.lua (GET a random cart); redis-benchmark (one thread) with
# HINCRBY cart:<rand> sku:<rand> 1 or HGETALL cart:<rand> over the same
# numbers of keys and connections.  Each cell runs RUNS times for about
# SECS seconds; the cells are interleaved run by run so that the machine's
# drift hits cartd and Redis alike.  Reported: medians of requests/s and of
# the runs' p50 and p99 latency, and cartd/Redis ratios.
#
# Env: BENCH_RUNS (5), BENCH_HTTP_SECONDS (2), BENCH_HTTP_CONNS ("16 50 64"),
#      BENCH_HTTP_CARTS (100000), BENCH_HTTP_SKUS (100000), BENCH_OUT
#      (bench/out), BENCH_KEEP (keep the temp dir).  CSV: $BENCH_OUT/http.csv.
set -uo pipefail

here=$(dirname "$0")
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_args "$0" "$@"

RUNS=${BENCH_RUNS:-5}
SECS=${BENCH_HTTP_SECONDS:-2}
read -r -a CONNS <<<"${BENCH_HTTP_CONNS:-16 50 64}"
CARTS=${BENCH_HTTP_CARTS:-100000}
SKUS=${BENCH_HTTP_SKUS:-100000}
# Carts of the 1-line and 50-line cells.  Every add of a 1-line cell lands
# on the one line of a cart, and a line refuses local adds past
# CRDT_MAX_LINE_ENTRIES (1024) live entries (docs/semantics.md): the two
# 1-line cells must spread their adds (up to ~15k/s x 2 s x runs x 2 on a
# fast disk) over enough carts to stay well under it, or they measure
# refusals.
LCARTS=2000
CMAX=${CONNS[${#CONNS[@]}-1]}
LUA="$here/lua"

bench_need "$CTL" "$BUILD/cartd" wrk redis-server redis-benchmark redis-cli curl
bench_init http "HTTP writes and reads: cartd against Redis (same run)" "$0" "$@"

# Per cell: space-separated per-run figures, and the command of the cell.
declare -A RPS P50 P99 BAD CMD SERVER N_REDIS REQS TICKS
TCK=$(getconf CLK_TCK)

# account CELL PORT TICKS0 REQUESTS: adds a run's requests and the server's
# CPU ticks since TICKS0 to the cell's totals.
account() {
	bench_cpu_ticks "$2"
	REQS[$1]=$((${REQS[$1]:-0} + $4))
	TICKS[$1]=$((${TICKS[$1]:-0} + BENCH_TICKS - $3))
}

# wrk_cell CELL SERVER PORT SCRIPT CONNS [ARGS...]: one run of wrk against a
# cartd; ARGS (default: CARTS SKUS) go to the script.
wrk_cell() {
	local cell=$1 port=$3 script=$4 c=$5 out t0 k
	local -a args=("${@:6}")
	local -A v
	[ ${#args[@]} -eq 0 ] && args=("$CARTS" "$SKUS")
	SERVER[$cell]=$2
	CMD[$cell]="wrk -t1 -c$c -d${SECS}s -s bench/lua/$script http://127.0.0.1:PORT -- ${args[*]}"
	bench_cpu_ticks "$port"
	t0=$BENCH_TICKS
	out=$(timeout --foreground $((SECS * 3 + 15)) wrk -t1 -c"$c" -d"${SECS}s" -s "$LUA/$script" \
		"http://127.0.0.1:$port" -- "${args[@]}" 2>&1)
	for k in requests rps p50_ms p99_ms non2xx errors; do
		if ! bench_result "$out" "$k"; then
			echo "bench: wrk gave no result for $cell: ${out:0:200}" >&2
			return
		fi
		v[$k]=$BENCH_VALUE
	done
	account "$cell" "$port" "$t0" "${v[requests]}"
	RPS[$cell]+=" ${v[rps]}"
	P50[$cell]+=" ${v[p50_ms]}"
	P99[$cell]+=" ${v[p99_ms]}"
	BAD[$cell]=$((${BAD[$cell]:-0} + v[non2xx] + v[errors]))
}

# redis_cell CELL SERVER PORT CONNS COMMAND...: one run of redis-benchmark,
# sized from the previous run's rate to last about SECS seconds.
redis_cell() {
	local cell=$1 server=$2 port=$3 c=$4 n next csv t0 rate
	local -a col
	shift 4
	n=${N_REDIS[$cell]:-2000}
	bench_cpu_ticks "$port"
	t0=$BENCH_TICKS
	csv=$(timeout --foreground $((SECS * 5 + 15)) redis-benchmark -p "$port" -c "$c" -n "$n" -r "$CARTS" \
		--csv "$@" 2>/dev/null)
	# Last line: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
	# "p95_latency_ms","p99_latency_ms","max_latency_ms", values quoted.
	csv=${csv##*$'\n'}
	csv=${csv//\"/}
	IFS=, read -r -a col <<<"$csv"
	rate=${col[1]:-}
	if ! [[ $rate =~ ^[0-9.]+$ ]] || [ "${#col[@]}" -lt 7 ]; then
		echo "bench: redis-benchmark gave no result for $cell" >&2
		return
	fi
	next=$((${rate%.*} * SECS))
	N_REDIS[$cell]=$((next < 1000 ? 1000 : next > 5000000 ? 5000000 : next))
	[ -n "${CALIBRATE:-}" ] && return
	SERVER[$cell]=$server
	CMD[$cell]="redis-benchmark -p PORT -c $c -n N -r $CARTS --csv $*"
	account "$cell" "$port" "$t0" "$n"
	RPS[$cell]+=" $rate"
	P50[$cell]+=" ${col[4]}"
	P99[$cell]+=" ${col[6]}"
	BAD[$cell]=${BAD[$cell]:-0}
}

# med "N N N": the median of a space-separated list (split on purpose).
# shellcheck disable=SC2086
med() { bench_median ${1:-}; }

# --- servers ---------------------------------------------------------------
ON='' OFF='' TRIO='' L1='' L50='' AOF='' MEM=''    # their ports, set by *_up
bench_cluster_up ON 1 --sync on
bench_cluster_up OFF 1 --sync off
bench_cluster_up TRIO 3 --sync on
bench_cluster_up L1 1 --sync on
bench_cluster_up L50 1 --sync on
bench_redis_up AOF --save '' --appendonly yes --appendfsync always
bench_redis_up MEM --save '' --appendonly no
bench_cluster_wait_alive "$TRIO" 2 15

HINCR=(HINCRBY 'cart:__rand_int__' 'sku:__rand_int__' 1)
HGET=(HGETALL 'cart:__rand_int__')
printf '   %d runs x ~%d s per cell, connections: %s, %d carts x %d skus; 1 client thread (wrk, redis-benchmark)\n' \
	"$RUNS" "$SECS" "${CONNS[*]}" "$CARTS" "$SKUS"
printf '   cartd:  %s cluster up N --base-port P --dir D -- --sync on|off\n' "$CTL"
printf "   redis:  redis-server --port P --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always\n"
printf "           redis-server --port P --bind 127.0.0.1 --save '' --appendonly no\n"

# Warm-up, untimed: fills the carts that the reads will find, and sizes the
# redis-benchmark runs.
for p in "$ON" "$OFF" "$TRIO"; do
	timeout --foreground 20 wrk -t1 -c"$CMAX" -d1s -s "$LUA/add.lua" "http://127.0.0.1:$p" \
		-- "$CARTS" "$SKUS" >/dev/null 2>&1
done
# The line cells: every cart holds its 1 line, or its 50 lines, before timing.
timeout --foreground 20 wrk -t1 -c"$CMAX" -d1s -s "$LUA/add.lua" "http://127.0.0.1:$L1" \
	-- "$LCARTS" 1 >/dev/null 2>&1
lines50=0
for _ in 1 2 3 4; do   # a slow disk fills slowly: until cart-0 has its 50 lines
	timeout --foreground 60 wrk -t1 -c"$CMAX" -d5s -s "$LUA/add.lua" "http://127.0.0.1:$L50" \
		-- "$LCARTS" 50 >/dev/null 2>&1
	lines50=$(bench_http_get "$L50" "/carts/cart-0" | grep -o '"sku"' | wc -l)
	[ "$lines50" -ge 50 ] && break
done
printf '   50-line carts: cart-0 holds %s lines after the fill\n' "$lines50"
timeout --foreground 30 redis-benchmark -p "$MEM" -c "$CMAX" -n "$((CARTS * 2))" -r "$CARTS" -q \
	"${HINCR[@]}" >/dev/null 2>&1
CALIBRATE=1
for c in "${CONNS[@]}"; do
	redis_cell "add on c$c" redis "$AOF" "$c" "${HINCR[@]}"
	redis_cell "add off c$c" redis "$MEM" "$c" "${HINCR[@]}"
	redis_cell "get c$c" redis "$MEM" "$c" "${HGET[@]}"
done
CALIBRATE=

# --- measured runs, interleaved ---------------------------------------------
commits0=$(bench_http_get "$ON" /metrics)
trio_w0=$(bench_http_get "$TRIO" /metrics)
trio_r0=$(bench_http_get "$((TRIO + 1))" /metrics)
for _ in $(seq "$RUNS"); do
	for c in "${CONNS[@]}"; do
		wrk_cell "cartd add on c$c" "cartd 1 peer, sync on" "$ON" add.lua "$c"
		redis_cell "add on c$c" "redis aof always" "$AOF" "$c" "${HINCR[@]}"
		wrk_cell "cartd add min c$c" "cartd sync on, minimal" "$ON" add.lua "$c" \
			"$CARTS" "$SKUS" 0 minimal
		wrk_cell "cartd add off c$c" "cartd 1 peer, sync off" "$OFF" add.lua "$c"
		redis_cell "add off c$c" "redis no aof" "$MEM" "$c" "${HINCR[@]}"
		wrk_cell "cartd get c$c" "cartd 1 peer, sync on" "$ON" get.lua "$c"
		redis_cell "get c$c" "redis no aof" "$MEM" "$c" "${HGET[@]}"
	done
	wrk_cell "cartd add trio c$CMAX" "cartd 3 peers, sync on" "$TRIO" add.lua "$CMAX"
	wrk_cell "cartd add 1line c$CMAX" "cartd 1-line carts" "$L1" add.lua "$CMAX" "$LCARTS" 1
	wrk_cell "cartd add 50line c$CMAX" "cartd 50-line carts" "$L50" add.lua "$CMAX" "$LCARTS" 50
	wrk_cell "cartd min 1line c$CMAX" "1-line carts, minimal" "$L1" add.lua "$CMAX" \
		"$LCARTS" 1 0 minimal
	wrk_cell "cartd min 50line c$CMAX" "50-line carts, minimal" "$L50" add.lua "$CMAX" \
		"$LCARTS" 50 0 minimal
done
commits1=$(bench_http_get "$ON" /metrics)
trio_w1=$(bench_http_get "$TRIO" /metrics)
trio_r1=$(bench_http_get "$((TRIO + 1))" /metrics)

# --- report -----------------------------------------------------------------
# cpu_per_req CELL: the server's CPU microseconds per request over the runs.
cpu_per_req() {
	bench_calc "${REQS[$1]:-0} > 0 ? ${TICKS[$1]:-0} * 1e6 / $TCK / ${REQS[$1]:-1} : 0"
}

printf '\n%-17s %-24s %10s %9s %9s %9s %7s %5s\n' cell server "req/s" "p50 ms" "p99 ms" \
	"CPU us/r" errors runs
cells=()
for c in "${CONNS[@]}"; do
	cells+=("cartd add on c$c" "cartd add min c$c" "add on c$c" "cartd add off c$c" "add off c$c"
		"cartd get c$c" "get c$c")
done
cells+=("cartd add trio c$CMAX" "cartd add 1line c$CMAX" "cartd add 50line c$CMAX"
	"cartd min 1line c$CMAX" "cartd min 50line c$CMAX")
for k in "${cells[@]}"; do
	read -r -a runs <<<"${RPS[$k]:-}"
	printf '%-17s %-24s %10.0f %9.2f %9.2f %9.1f %7s %5d\n' "${k#cartd }" "${SERVER[$k]:-?}" \
		"$(med "${RPS[$k]:-}")" "$(med "${P50[$k]:-}")" "$(med "${P99[$k]:-}")" \
		"$(cpu_per_req "$k")" "${BAD[$k]:-?}" "${#runs[@]}"
done
echo
echo "   commands (PORT: the server's port; redis-benchmark's N is sized per run to last ~${SECS} s):"
for k in "${cells[@]}"; do
	printf '   %-22s %s\n' "${k#cartd }:" "${CMD[$k]:-}"
done

# delta_metric BEFORE AFTER NAME: how much series NAME grew between two
# /metrics texts.
delta_metric() { echo $(( $(bench_metric "$2" "$3") - $(bench_metric "$1" "$3") )); }

# Group commit of the sync-on peer over the measured runs.
rec=$(delta_metric "$commits0" "$commits1" cartd_committer_records_written_total)
com=$(delta_metric "$commits0" "$commits1" cartd_committer_commits_total)
syn=$(delta_metric "$commits0" "$commits1" cartd_committer_syncs_total)
if [ "$com" -gt 0 ]; then
	printf '   cartd sync on: %d records in %d commits (%.1f per commit), %d syncs (%.2f per commit)\n' \
		"$rec" "$com" "$(bench_calc "$rec / $com")" "$syn" "$(bench_calc "$syn / $com")"
fi

bench_table_head
for c in "${CONNS[@]}"; do
	bench_row "add sync=on c$c req/s" "$(med "${RPS[cartd add on c$c]:-}")" "req/s" \
		"redis HINCRBY aof=always" "$(med "${RPS[add on c$c]:-}")"
	bench_row "add sync=on c$c p99" "$(med "${P99[cartd add on c$c]:-}")" ms \
		"redis p99" "$(med "${P99[add on c$c]:-}")"
	bench_row "add minimal sync=on c$c req/s" "$(med "${RPS[cartd add min c$c]:-}")" "req/s" \
		"redis HINCRBY aof=always" "$(med "${RPS[add on c$c]:-}")"
	bench_row "add sync=on c$c server CPU/req" "$(cpu_per_req "cartd add on c$c")" us \
		"redis aof=always CPU/req" "$(cpu_per_req "add on c$c")"
	bench_row "add minimal c$c server CPU/req" "$(cpu_per_req "cartd add min c$c")" us \
		"redis aof=always CPU/req" "$(cpu_per_req "add on c$c")"
	bench_row "add sync=off c$c req/s" "$(med "${RPS[cartd add off c$c]:-}")" "req/s" \
		"redis HINCRBY no aof" "$(med "${RPS[add off c$c]:-}")"
	bench_row "add sync=off c$c p99" "$(med "${P99[cartd add off c$c]:-}")" ms \
		"redis p99" "$(med "${P99[add off c$c]:-}")"
	bench_row "get c$c req/s" "$(med "${RPS[cartd get c$c]:-}")" "req/s" \
		"redis HGETALL" "$(med "${RPS[get c$c]:-}")"
	bench_row "get c$c p99" "$(med "${P99[cartd get c$c]:-}")" ms \
		"redis p99" "$(med "${P99[get c$c]:-}")"
done
for k in "add off" get; do
	bench_row "$k c$CMAX server CPU/req" "$(cpu_per_req "cartd $k c$CMAX")" us \
		"redis-server CPU/req" "$(cpu_per_req "$k c$CMAX")"
done
trio_rps=$(med "${RPS[cartd add trio c$CMAX]:-}")
bench_row "add 3 peers c$CMAX req/s" "$trio_rps" "req/s" \
	"redis HINCRBY aof=always" "$(med "${RPS[add on c$CMAX]:-}")"
bench_row "add 3 peers c$CMAX req/s" "$trio_rps" "req/s" \
	"cartd 1 peer sync=on" "$(med "${RPS[cartd add on c$CMAX]:-}")"
# Log syncs per second of load (the trio is idle between its cells): the
# writer syncs per batch of writes, a replica per COMMITTER_LAZY_MS (20 ms).
trio_load_s=$((RUNS * SECS))
w_syncs=$(delta_metric "$trio_w0" "$trio_w1" cartd_committer_syncs_total)
r_syncs=$(delta_metric "$trio_r0" "$trio_r1" cartd_committer_syncs_total)
r_recs=$(delta_metric "$trio_r0" "$trio_r1" cartd_committer_records_written_total)
printf '   3 peers: the replica (peer 2) logged %d records in %d syncs over ~%d s of load\n' \
	"$r_recs" "$r_syncs" "$trio_load_s"
bench_row "3 peers: replica log syncs/s" "$(bench_calc "$r_syncs / $trio_load_s")" "syncs/s" \
	"writer log syncs/s" "$(bench_calc "$w_syncs / $trio_load_s")" "<=" 60
bench_row "add 50-line carts c$CMAX req/s" "$(med "${RPS[cartd add 50line c$CMAX]:-}")" "req/s" \
	"1-line carts" "$(med "${RPS[cartd add 1line c$CMAX]:-}")"
bench_row "add 50-line carts c$CMAX CPU/req" "$(cpu_per_req "cartd add 50line c$CMAX")" us \
	"1-line carts" "$(cpu_per_req "cartd add 1line c$CMAX")"
bench_row "add min 50-line c$CMAX req/s" "$(med "${RPS[cartd min 50line c$CMAX]:-}")" "req/s" \
	"1-line carts, minimal" "$(med "${RPS[cartd min 1line c$CMAX]:-}")"
bench_row "add min 50-line c$CMAX CPU/req" "$(cpu_per_req "cartd min 50line c$CMAX")" us \
	"1-line carts, minimal" "$(cpu_per_req "cartd min 1line c$CMAX")"

# The committer's ceiling on this disk (no HTTP) from bench_commit, when it
# ran earlier in this run
# (bench/run.sh runs bench_commit first).
commit_csv="${BENCH_OUT:-bench/out}/commit.csv"
if [ -f "$commit_csv" ]; then
	age=$(( $(date +%s) - $(stat -c %Y "$commit_csv") ))
	ceil=$(awk -F, -v w="\"committer ${CMAX}w records/s\"" '$1 == w { print $2 }' "$commit_csv")
	if [ -n "$ceil" ]; then
		bench_row "add sync=on c$CMAX req/s" "$(med "${RPS[cartd add on c$CMAX]:-}")" "req/s" \
			"committer alone ${CMAX}w rec/s" "$ceil"
		printf '   (the committer alone on this disk: commit.csv, written by bench_commit %d s ago; the disk varies a lot)\n' "$age"
	fi
else
	printf '   (no %s: bench_commit measures the committer alone; bench/run.sh runs it first)\n' \
		"$commit_csv"
fi
bench_table_close
