# shellcheck shell=bash disable=SC2034
# (SC2034: the BENCH_* results set here are read by the sourcing scripts.)
# bench/lib.sh - what the shell benchmarks (bench/bench_*.sh) share: the run
# header, medians, the result table and its CSV (the same layout as
# bench_common.c), starting and stopping local cartd clusters and
# redis-servers, and small HTTP and /metrics helpers.
#
# Sourced, not run.  Everything listens on 127.0.0.1 only.  Every process
# started through here is recorded and stopped by bench_cleanup, which
# bench_init installs as the EXIT trap (INT and TERM exit through it too).

BUILD=${BUILD:-build}
CTL="$BUILD/cartctl"
BENCH_TMP=""
BENCH_CSV=""
BENCH_MISSES=0
BENCH_CLUSTERS=()
BENCH_REDIS_PIDS=()
# Other servers a script started itself (bench_track), stopped on exit.
BENCH_PIDS=()
# Server pid by port (cartd HTTP port, redis port), for CPU accounting.
declare -A BENCH_PID
# Next port block: blocks of 200 ports (HTTP base.., gossip base+100..),
# starting at a random place so that concurrent runs rarely collide.
BENCH_NEXT_PORT=$((20000 + (RANDOM % 120) * 200))

bench_die() {
	echo "bench: $*" >&2
	exit 1
}

# bench_args SCRIPT ARGS...: the scripts take their settings from BENCH_*
# variables, not from arguments.  -h or --help prints the script's header
# comment and exits 0; any other argument is refused (exit 2) instead of
# ignored, so a mistyped option never starts a run of several minutes.
bench_args() {
	local script=$1
	shift
	[ $# -eq 0 ] && return 0
	case $1 in
	-h | --help)
		sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$script"
		exit 0
		;;
	esac
	echo "$(basename "$script"): no arguments taken: '$1' (settings are BENCH_* variables; see --help)" >&2
	exit 2
}

# bench_need CMD...: exits with a message if a command is missing.
bench_need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || [ -x "$c" ] ||
			bench_die "$c not found (make bench installs wrk, redis-server, redis-tools)"
	done
}

bench_cleanup() {
	local d p
	trap - EXIT INT TERM
	for d in "${BENCH_CLUSTERS[@]}"; do
		# A failed `cluster up` stopped its own peers and left no pid files.
		compgen -G "$d/peer*.pid" >/dev/null || continue
		"$CTL" cluster down --dir "$d" >/dev/null 2>&1 ||
			echo "bench: could not stop the cluster in $d" >&2
	done
	for p in "${BENCH_REDIS_PIDS[@]}" "${BENCH_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${BENCH_REDIS_PIDS[@]}" "${BENCH_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ -n "$BENCH_TMP" ] && [ -z "${BENCH_KEEP:-}" ]; then
		rm -rf "$BENCH_TMP"
	fi
}

# bench_init NAME TITLE ARGS...: header (title, command, cores, load),
# temp dir, cleanup trap, and the CSV $BENCH_OUT/NAME.csv (default
# bench/out, as bench_common.c).
bench_init() {
	local name=$1 title=$2 out=${BENCH_OUT:-bench/out}
	shift 2
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cartd-bench.XXXXXX") || bench_die "mktemp failed"
	printf '== %s\n   command: %s\n' "$title" "$*"
	printf '   cores: %s online, load average %s at start\n' "$(nproc)" \
		"$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')"
	BENCH_CSV="$out/$name.csv"
	if ! { mkdir -p "$out" && echo "metric,value,unit,baseline_what,baseline,ratio,goal,target,status" \
		>"$BENCH_CSV"; } 2>/dev/null; then
		echo "bench: cannot write $BENCH_CSV" >&2
		BENCH_CSV=""
	fi
}

# bench_median N...: the median of the numbers given (0 for none).
bench_median() {
	printf '%s\n' "$@" | LC_ALL=C sort -g | awk '
		NF { v[++n] = $1 }
		END {
			if (n == 0) print 0
			else if (n % 2) print v[(n + 1) / 2]
			else printf "%.6g\n", (v[n / 2] + v[n / 2 + 1]) / 2
		}'
}

# bench_calc EXPR: awk arithmetic on numbers, e.g. bench_calc "3 / 4".
bench_calc() {
	awk "BEGIN { printf \"%.6g\n\", ($1) }"
}

bench_table_head() {
	printf '\n%-30s %14s %-9s %14s %-24s %8s %15s  %s\n' metric value unit \
		baseline "(same run)" "x base" target status
}

# bench_row METRIC VALUE UNIT [BASELINE_WHAT BASELINE [GOAL TARGET]]: one
# row as bench_table_row prints it (GOAL is ">=" or "<="; BASELINE_WHAT ""
# for none), also appended to the CSV.  A missed target counts in
# BENCH_MISSES.
bench_row() {
	local line status
	line=$(awk -v m="$1" -v v="$2" -v u="$3" -v bw="${4:-}" -v b="${5:-0}" \
		-v g="${6:-}" -v t="${7:-0}" -v csv="$BENCH_CSV" '
		function num(x) { return (x >= 1000 || x <= -1000) ? sprintf("%.0f", x) : sprintf("%.2f", x) }
		BEGIN {
			bs = "-"; r = "-"; tg = "-"; st = "-"; rc = ""
			if (bw != "") { bs = num(b); if (b != 0) { r = sprintf("%.3f", v / b); rc = r } }
			if (g != "") {
				tg = g " " num(t)
				st = (g == ">=" ? v >= t : v <= t) ? "PASS" : "MISS"
			}
			printf "%-30s %14s %-9s %14s %-24s %8s %15s  %s\n", m, num(v), u, bs, bw, r, tg, st
			if (csv != "")
				printf "\"%s\",%.6g,%s,\"%s\",%.6g,%s,%s,%.6g,%s\n", m, v, u, bw,
					(bw != "" ? b : 0), rc, g, (g != "" ? t : 0), st >> csv
		}')
	printf '%s\n' "$line"
	status=${line##* }
	if [ "$status" = MISS ]; then
		BENCH_MISSES=$((BENCH_MISSES + 1))
	fi
}

bench_table_close() {
	printf '%d target(s) missed\n' "$BENCH_MISSES"
}

# bench_cluster_up VAR N [CARTD-OPTIONS...]: starts N local peers with
# `cartctl cluster up` in a fresh dir under the temp dir, on the next free
# port block, and sets VAR to the HTTP base port.  Peer I serves HTTP on
# base+I-1.  Retries other port blocks when ports are taken.
bench_cluster_up() {
	local -n base_out=$1
	local n=$2 try dir i
	shift 2
	for try in 1 2 3 4 5; do
		dir="$BENCH_TMP/cluster-$BENCH_NEXT_PORT"
		base_out=$BENCH_NEXT_PORT
		BENCH_NEXT_PORT=$((BENCH_NEXT_PORT + 200))
		if [ "$BENCH_NEXT_PORT" -gt 60000 ]; then
			BENCH_NEXT_PORT=20000
		fi
		if "$CTL" cluster up "$n" --base-port "$base_out" --dir "$dir" -- "$@" \
			>"$dir.up.log" 2>&1; then
			BENCH_CLUSTERS+=("$dir")
			for ((i = 1; i <= n; i++)); do
				BENCH_PID[$((base_out + i - 1))]=$(cat "$dir/peer$i.pid")
			done
			return 0
		fi
		# A partial start stops its own peers; keep the dir for cleanup anyway.
		BENCH_CLUSTERS+=("$dir")
		echo "bench: cluster up on port $base_out failed (try $try):" \
			"$(tail -n 1 "$dir.up.log")" >&2
	done
	bench_die "could not start a cluster of $n"
}

# bench_cluster_wait_alive PORT MEMBERS SECONDS: waits until the peer at
# PORT sees MEMBERS other members alive.
bench_cluster_wait_alive() {
	local port=$1 want=$2 deadline=$((SECONDS + $3)) got
	while :; do
		got=$(bench_http_get "$port" /health | sed -n 's/.*"alive":\([0-9]*\).*/\1/p')
		if [ "${got:-0}" -ge "$want" ]; then
			return 0
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			bench_die "peer on $port sees ${got:-0} of $want members alive after $3 s"
		fi
		sleep 0.1
	done
}

# bench_redis_up VAR OPTIONS...: starts a redis-server on 127.0.0.1, the next
# free port, its files in a fresh dir under the temp dir, and sets VAR to
# its port.  OPTIONS are redis-server options (--appendonly ...).
bench_redis_up() {
	local -n port_out=$1
	local try dir pid i
	shift
	for try in 1 2 3 4 5; do
		port_out=$BENCH_NEXT_PORT
		BENCH_NEXT_PORT=$((BENCH_NEXT_PORT + 200))
		dir="$BENCH_TMP/redis-$port_out"
		mkdir -p "$dir"
		redis-server --port "$port_out" --bind 127.0.0.1 --dir "$dir" --daemonize no \
			--logfile "$dir/redis.log" "$@" &
		pid=$!
		BENCH_REDIS_PIDS+=("$pid")
		BENCH_PID[$port_out]=$pid
		for i in $(seq 50); do
			if [ "$(redis-cli -p "$port_out" ping 2>/dev/null)" = PONG ]; then
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$pid" 2>/dev/null
		echo "bench: redis-server on port $port_out did not start (try $try, $i polls)" >&2
	done
	bench_die "could not start redis-server"
}

# bench_track PID: stops PID (a server the script started) on exit.
bench_track() {
	BENCH_PIDS+=("$1")
}

# bench_cpu_ticks PORT: sets BENCH_TICKS to the CPU time (user + system,
# all threads, in clock ticks of getconf CLK_TCK) used so far by the server
# listening on PORT.  No process is started (forks are slow on a loaded box).
bench_cpu_ticks() {
	local stat f
	BENCH_TICKS=0
	read -r stat <"/proc/${BENCH_PID[$1]:-0}/stat" 2>/dev/null || return 0
	read -r -a f <<<"${stat##*) }"
	BENCH_TICKS=$((f[11] + f[12]))
}

# bench_http_get PORT PATH: the body of GET http://127.0.0.1:PORT/PATH.
bench_http_get() {
	curl -sf --max-time 5 "http://127.0.0.1:$1$2"
}

# bench_http_body PORT PATH: GET over bash's /dev/tcp, without starting a
# process (starting curl takes 100+ ms on a loaded machine: too coarse for
# timing convergence).  Sets BENCH_BODY to the whole answer, headers
# included; returns non-zero if the request failed.
bench_http_body() {
	local fd
	BENCH_BODY=""
	exec {fd}<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null || return 1
	printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&"$fd"
	IFS= read -r -d '' -t 5 -u "$fd" BENCH_BODY
	exec {fd}>&-
	[ -n "$BENCH_BODY" ]
}

# bench_pause SECONDS: sleep without starting a process (a read that times
# out on a FIFO nobody writes).
bench_pause() {
	if [ -z "${BENCH_PAUSE_FD:-}" ]; then
		mkfifo "$BENCH_TMP/pause"
		exec {BENCH_PAUSE_FD}<>"$BENCH_TMP/pause"
	fi
	read -r -t "$1" -u "$BENCH_PAUSE_FD" _ || :
}

# bench_metric TEXT SERIES: the value of one series (name with its labels,
# exactly as exposed) in a /metrics text, 0 if absent.
bench_metric() {
	awk -v s="$2" '$1 == s { v = $2 } END { printf "%.0f\n", v + 0 }' <<<"$1"
}

# bench_result TEXT KEY: sets BENCH_VALUE to the value of KEY=VALUE on the
# RESULT line of wrk's output (bench/lua/*.lua); returns 1 if absent.
bench_result() {
	BENCH_VALUE=""
	[[ $1 =~ RESULT.*\ $2=([0-9.]+) ]] || return 1
	BENCH_VALUE=${BASH_REMATCH[1]}
}
