#!/usr/bin/env bash
# bench_httplib.sh - the HTTP libraries packaged in Debian on cartd's add,
# against libmicrohttpd (which cartd used to run) and cartd's own HTTP/1.1
# connection code (which replaced it), in the same run on the same
# machine; then the system calls each makes per request, and what each does
# by itself with the malformed requests cartd refuses (app/http/http_parse.h)
# and with a header trickled one byte a second (app/http/http_conn.h).
#
#   bench/bench_httplib.sh         (bench/run.sh runs it; BUILD=build)
#
# Servers, all $BUILD/bench/bench_httplib serve LIB on 127.0.0.1, one
# thread each (bench/httplib/): mhd (libmicrohttpd in external-epoll mode
# under libevent, each request's connection suspended and resumed on a later
# loop turn, as cartd did for a write until it is durable),
# mhd-now (the same, answered in the handler: what suspend/resume costs),
# evhttp (libevent's, answered from a later loop turn), h2o
# (libh2o-evloop, h2o_send from its zero timeout), when it was built, and
# cartd (app/http/http_conn.c, answered from a later loop turn).
# Load: wrk with one thread and bench/lua/add.lua, as bench/bench_http.sh.
# Each cell runs RUNS times for SECS seconds, interleaved run by run (and
# the libraries in a rotating order) so that the machine's drift hits them
# all alike.  Reported: median requests/s, median server CPU us per request
# (/proc/PID/stat user + system), ratios to mhd; system calls per request
# over a fixed count of requests (perf stat on the syscall tracepoints, or
# strace -c where perf cannot); the probes' table.
#
# Env: BENCH_RUNS (5), BENCH_HTTPLIB_SECONDS (3), BENCH_HTTP_CONNS
#      ("16 50 64"), BENCH_HTTPLIB_COUNT (30000, the syscall run),
#      BENCH_HTTPLIB_SLOW (15, seconds of trickle), BENCH_OUT (bench/out).
#      CSV: $BENCH_OUT/httplib.csv.
set -uo pipefail

here=$(dirname "$0")
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
bench_args "$0" "$@"

RUNS=${BENCH_RUNS:-5}
SECS=${BENCH_HTTPLIB_SECONDS:-3}
read -r -a CONNS <<<"${BENCH_HTTP_CONNS:-16 50 64}"
COUNT=${BENCH_HTTPLIB_COUNT:-30000}
SLOW=${BENCH_HTTPLIB_SLOW:-15}
CARTS=100000
SKUS=100000
CMAX=${CONNS[${#CONNS[@]}-1]}
CMID=${CONNS[$(( ${#CONNS[@]} / 2 ))]}
PROG="$BUILD/bench/bench_httplib"
LUA="$here/lua"
TCK=$(getconf CLK_TCK)

bench_need "$PROG" wrk
bench_init httplib "HTTP libraries on cartd's add: libmicrohttpd against evhttp, h2o and cartd's own (same run)" \
	"$0" "$@"

read -r -a LIBS <<<"$("$PROG" libs | head -n 1)"
"$PROG" libs | sed -n '2s/^/   /p'    # "h2o: not built", when it is not
printf '   libraries: %s; %d runs x %d s per cell, connections: %s\n' "${LIBS[*]}" "$RUNS" \
	"$SECS" "${CONNS[*]}"
printf '   load: wrk -t1 -cC -d%ds -s bench/lua/add.lua http://127.0.0.1:PORT -- %d %d\n' \
	"$SECS" "$CARTS" "$SKUS"

declare -A PORT PIDOF RPS CPU P99 BAD

# server_up LIB: starts `bench_httplib serve LIB` and waits for its port.
server_up() {
	local lib=$1 log="$BENCH_TMP/$1.log" pid i
	"$PROG" serve "$lib" >"$log" 2>&1 &
	pid=$!
	bench_track "$pid"
	for ((i = 0; i < 50; i++)); do
		PORT[$lib]=$(sed -n 's/^port //p' "$log")
		if [ -n "${PORT[$lib]}" ]; then
			PIDOF[$lib]=$pid
			# shellcheck disable=SC2034   # read by bench_cpu_ticks (lib.sh)
			BENCH_PID[${PORT[$lib]}]=$pid
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		bench_pause 0.1
	done
	bench_die "$lib did not start: $(head -c 200 "$log")"
}

# cell LIB CONNS: one timed wrk run against LIB.
cell() {
	local lib=$1 c=$2 port=${PORT[$1]} out t0 k
	local -A v
	bench_cpu_ticks "$port"
	t0=$BENCH_TICKS
	out=$(timeout --foreground $((SECS * 3 + 15)) wrk -t1 -c"$c" -d"${SECS}s" -s "$LUA/add.lua" \
		"http://127.0.0.1:$port" -- "$CARTS" "$SKUS" 2>&1)
	bench_cpu_ticks "$port"
	for k in requests rps p99_ms non2xx errors; do
		if ! bench_result "$out" "$k"; then
			echo "bench: wrk gave no result for $lib c$c: ${out:0:200}" >&2
			return
		fi
		v[$k]=$BENCH_VALUE
	done
	RPS[$lib c$c]+=" ${v[rps]}"
	P99[$lib c$c]+=" ${v[p99_ms]}"
	CPU[$lib c$c]+=" $(bench_calc "${v[requests]} > 0 ? ($BENCH_TICKS - $t0) * 1e6 / $TCK / ${v[requests]} : 0")"
	BAD[$lib c$c]=$((${BAD[$lib c$c]:-0} + v[non2xx] + v[errors]))
}

# shellcheck disable=SC2086   # split on purpose
med() { bench_median ${1:-}; }

for lib in "${LIBS[@]}"; do
	server_up "$lib"
done
# Warm-up, untimed: connections, allocator and page cache settle.
for lib in "${LIBS[@]}"; do
	timeout --foreground 20 wrk -t1 -c"$CMAX" -d1s -s "$LUA/add.lua" \
		"http://127.0.0.1:${PORT[$lib]}" -- "$CARTS" "$SKUS" >/dev/null 2>&1
done

# --- throughput, interleaved ------------------------------------------------
n=${#LIBS[@]}
for ((r = 0; r < RUNS; r++)); do
	for c in "${CONNS[@]}"; do
		for ((i = 0; i < n; i++)); do
			cell "${LIBS[$(((i + r) % n))]}" "$c"
		done
	done
done
printf '   load average %s after the runs\n' "$(cut -d' ' -f1-3 /proc/loadavg)"

printf '\n%-8s %5s %10s %13s %7s %10s %7s %8s %6s %4s\n' library conns "req/s" "(runs min-max)" \
	"x mhd" "CPU us/r" "x mhd" "p99 ms" errors runs
for c in "${CONNS[@]}"; do
	base_rps=$(med "${RPS[mhd c$c]:-}")
	base_cpu=$(med "${CPU[mhd c$c]:-}")
	for lib in "${LIBS[@]}"; do
		k="$lib c$c"
		read -r -a runs <<<"${RPS[$k]:-}"
		rps=$(med "${RPS[$k]:-}")
		cpu=$(med "${CPU[$k]:-}")
		printf '%-8s %5d %10.0f %13s %7.3f %10.2f %7.3f %8.2f %6s %4d\n' "$lib" "$c" "$rps" \
			"$(printf '%s\n' "${runs[@]}" | sort -g | sed -n '1s/\..*//p;$s/\..*//p' | paste -sd-)" \
			"$(bench_calc "$base_rps > 0 ? $rps / $base_rps : 0")" "$cpu" \
			"$(bench_calc "$base_cpu > 0 ? $cpu / $base_cpu : 0")" "$(med "${P99[$k]:-}")" \
			"${BAD[$k]:-?}" "${#runs[@]}"
	done
done

bench_table_head
for c in "${CONNS[@]}"; do
	for lib in "${LIBS[@]}"; do
		[ "$lib" = mhd ] && continue
		bench_row "$lib c$c req/s" "$(med "${RPS[$lib c$c]:-}")" "req/s" \
			"mhd, same run" "$(med "${RPS[mhd c$c]:-}")"
		bench_row "$lib c$c server CPU/req" "$(med "${CPU[$lib c$c]:-}")" us \
			"mhd, same run" "$(med "${CPU[mhd c$c]:-}")"
	done
done

# --- system calls per request -------------------------------------------------
# perf stat counts the syscall tracepoints without stopping the server, so
# the loop batches as it does unobserved; strace -c stops it at every call
# (it runs some 20 times slower, and its epoll_wait count is off for it).
SYSCALLS=(read readv recvfrom recvmsg write writev sendto sendmsg epoll_ctl epoll_wait
	epoll_pwait ioctl timerfd_settime brk mmap munmap accept4 close shutdown setsockopt fcntl)
tool=strace
if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
	tool=perf
fi

# syscalls LIB: prints "name count" lines for one fixed-count run at CMID
# connections, then "requests N".
syscalls() {
	local lib=$1 port=${PORT[$1]} pid=${PIDOF[$1]} out="$BENCH_TMP/$1.sys" tp s ev w d=5
	if [ "$tool" = perf ]; then
		ev=raw_syscalls:sys_enter
		for s in "${SYSCALLS[@]}"; do
			tp=/sys/kernel/tracing/events/syscalls/sys_enter_$s
			if [ -d "$tp" ] || [ ! -d /sys/kernel/tracing/events ]; then
				ev+=",syscalls:sys_enter_$s"
			fi
		done
		perf stat -x, -e "$ev" -p "$pid" -o "$out" &
	else
		strace -c -f -q -o "$out" -p "$pid" &
		d=60
	fi
	tp=$!
	bench_pause 0.5
	w=$(timeout --foreground 120 wrk -t1 -c"$CMID" -d"${d}s" \
		-s "$LUA/add.lua" "http://127.0.0.1:$port" -- "$CARTS" "$SKUS" "$COUNT" 2>&1)
	kill -INT "$tp" 2>/dev/null
	wait "$tp" 2>/dev/null
	if [ "$tool" = perf ]; then
		awk -F, '$3 == "raw_syscalls:sys_enter" { print "total", $1; next }
			$3 ~ /^syscalls:sys_enter_/ { sub(/^syscalls:sys_enter_/, "", $3); print $3, $1 }' "$out"
	else
		# "% time  seconds  usecs/call  calls  [errors]  syscall", then
		# the same for the total: the calls are always the fourth field.
		awk '$NF == "total" { print "total", $4; next }
			$1 ~ /^[0-9.]+$/ && NF >= 5 { print $NF, $4 }' "$out"
	fi
	bench_result "$w" requests && echo "requests $BENCH_VALUE"
}

printf '\n   system calls per request, %s, one run of %d adds at %d connections:\n' "$tool" \
	"$COUNT" "$CMID"
printf '   wrk -t1 -c%d -d5s -s bench/lua/add.lua http://127.0.0.1:PORT -- %d %d %d\n' "$CMID" \
	"$CARTS" "$SKUS" "$COUNT"
for lib in "${LIBS[@]}"; do
	syscalls "$lib" | awk -v lib="$lib" '
		$1 == "requests" { req = $2; next }
		$1 == "total" { total = $2; next }
		$2 > 0 && $1 !~ /^<not/ { name[++k] = $1; n[k] = $2; known += $2 }
		END {
			if (req == 0) { printf "   %-8s no result\n", lib; exit }
			line = sprintf("   %-8s %6.2f per request:", lib, total / req)
			for (i = 1; i <= k; i++)
				if (n[i] / req >= 0.005)
					line = line sprintf(" %s %.2f", name[i], n[i] / req)
			if (total > known && (total - known) / req >= 0.005)
				line = line sprintf(" other %.2f", (total - known) / req)
			print line
		}'
done

# --- malformed requests -------------------------------------------------------
printf '\n   what each library does by itself (t= target bytes, b= body bytes the handler got;\n'
printf '   each request sends a 23-byte body; ", then N": a second answer on the connection)\n'
declare -A SEEN
cases=()
slow=()
for lib in "${LIBS[@]}"; do
	[ "$lib" = mhd-now ] && continue   # the same parser as mhd
	"$PROG" slow "${PORT[$lib]}" "$SLOW" >"$BENCH_TMP/$lib.slow" &
	slow+=($!)
	bench_track $!
done
for lib in "${LIBS[@]}"; do
	[ "$lib" = mhd-now ] && continue
	# Every library gets the same cases in the same order: the first
	# names the rows.
	first=$(( ${#cases[@]} == 0 ))
	while IFS=$'\t' read -r k what; do
		SEEN[$lib/$k]=$what
		[ "$first" = 1 ] && cases+=("$k")
	done < <("$PROG" probe "${PORT[$lib]}")
done
wait "${slow[@]}" 2>/dev/null
for lib in "${LIBS[@]}"; do
	[ "$lib" = mhd-now ] && continue
	IFS=$'\t' read -r k what <"$BENCH_TMP/$lib.slow"
	SEEN[$lib/$k]=$what
done
cases+=("one byte a second")
printf '\n%-28s' "request"
for lib in "${LIBS[@]}"; do
	[ "$lib" != mhd-now ] && printf ' %-20s' "$lib"
done
echo
for k in "${cases[@]}"; do
	printf '%-28s' "$k"
	for lib in "${LIBS[@]}"; do
		[ "$lib" != mhd-now ] && printf ' %-20s' "${SEEN[$lib/$k]:-?}"
	done
	echo
done
printf '   (timeouts, HTTPLIB_TIMEOUT_S = %d s: mhd MHD_OPTION_CONNECTION_TIMEOUT, evhttp evhttp_set_timeout,\n' 5
printf '    h2o http1.req_timeout, cartd its header deadline; the trickle sends the next byte every\n'
printf '    second for %d s)\n' "$SLOW"
bench_table_close
