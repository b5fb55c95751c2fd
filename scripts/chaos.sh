#!/usr/bin/env bash
# chaos.sh - kill -9 and restart random peers of a local cartd cluster while
# clients write to it, then check that the peers converge and that no
# acknowledged add was lost.  The clients record, on their side, every add
# the cluster acknowledged; that record is the ground truth.
#
# Run with --help for the usage.  Exit status: 0 passed, 1 a check failed or
# the run could not be carried out, 2 bad command line.
set -euo pipefail
export LC_ALL=C   # one byte order for sort and comm

PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=./cartd-local
UP=0
BASE=18080
ROUNDS=5
DURATION=60
WRITERS=4
WRITES=2000
DOWN_MS=200-1500
PAUSE_MS=300-1500
SEED=
CUT_MODE=
CONVERGE_S=60
CTL=

usage() {
	cat <<EOF
NAME
    $PROG - kill -9 and restart cartd peers under load, then verify

SYNOPSIS
    $PROG [OPTIONS]

DESCRIPTION
    Against a local cluster started by 'cartctl cluster up' (or one this
    script starts with --up N):

    1. WRITERS client loops add items with 'cartctl add', each write to a
       random peer, each item a new sku (carts chaos-RUN-wW-K), and record
       every add that was acknowledged (exit 0: HTTP 200, durable).
    2. Meanwhile, ROUNDS times: wait a random pause, kill -9 a random peer,
       leave it down for a random time, restart it with its own command line
       (same data dir, ports and key), and check that it comes back with a
       higher boot epoch.  With --cut-mode, each round also isolates another
       random peer with partition.sh while the first is down, and heals.
    3. Stops the writers, heals every cut, and waits until every peer shows
       the same root digest (/cluster) and the same answer, byte for byte,
       token included, for every cart written.
    4. Checks that every acknowledged add is present, and that nothing
       appears that no client wrote.  Prints a summary.

    Everything is bounded: at most WRITES adds per writer, and the kill phase
    ends after DURATION seconds even if rounds are left.  On exit (also on
    Ctrl-C) it stops its writers, restarts a peer it left down, heals its
    cuts, and takes down the cluster if it started it.  Restarted peers keep
    running in the background as the originals did; 'cartctl cluster down'
    stops them (their pid files are updated).

    Client logs (acked and failed writes) and the run's log are kept in
    DIR/chaos-RUN/ when a check fails, and removed when all pass.

OPTIONS
    --dir D              Cluster directory.  Default: ./cartd-local.
    --up N               Start an N-peer cluster in D first (with
                         --fault-injection and fast failure detection) and
                         take it down at the end.  D must hold no running
                         cluster.  Default: use the running cluster in D.
    --base-port P        HTTP ports of --up: P..P+N-1, gossip P+100...
                         Default: 18080.
    --rounds N           Kill/restart rounds, 1..1000.  Default: 5.
    --duration S         Bound of the kill phase, seconds.  Default: 60.
    --writers K          Concurrent client loops, 1..64.  Default: 4.
    --writes N           Adds per writer at most.  Default: 2000.
    --down-ms MIN-MAX    How long a killed peer stays down.  Default: 200-1500.
    --pause-ms MIN-MAX   Pause before each kill.  Default: 300-1500.
    --seed N             Seed of the random choices (printed; reuse it to
                         repeat the same choices).  Default: from the clock.
    --cut-mode fault|nft Also isolate a random peer each round, with
                         scripts/partition.sh in that mode (fault needs peers
                         with --enable-fault-injection; nft needs root).
    --converge-timeout S Wait at most S seconds for convergence.  Default: 60.
    --cartctl PATH       cartctl binary.  Default: \$CARTCTL, else the build/
                         next to this script, else cartctl from PATH.
    -h, --help           Print this text.

EXAMPLES
    $PROG --up 3                       # a throw-away cluster in ./cartd-local
    cartctl cluster up 3 --fault-injection
    $PROG --rounds 10 --writers 8 --cut-mode fault
    $PROG --up 5 --dir /tmp/chaos --seed 42 --duration 30

EXIT STATUS
    0 every check passed, 1 a check failed (or the run could not proceed),
    2 invalid command line
EOF
}

die() { echo "$PROG: $*" >&2; exit 1; }
usage_error() { echo "$PROG: $*" >&2; echo "Try '$PROG --help'." >&2; exit 2; }
now_ms() { date +%s%3N; }

# log MESSAGE: timestamped line on stdout and in the run log.
T0=$(now_ms)
WORK=
log() {
	local line
	line=$(printf '[%6.2fs] %s' "$(bc_ms $(($(now_ms) - T0)))" "$*")
	echo "$line"
	[ -z "$WORK" ] || echo "$line" >>"$WORK/run.log"
}
bc_ms() { printf '%d.%02d' $(($1 / 1000)) $((($1 % 1000) / 10)); }

num() { # num NAME VALUE MIN MAX
	if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < $3 || $2 > $4)); then
		usage_error "$1 must be a number in $3..$4, not \"$2\""
	fi
}
range() { # range NAME VALUE: MIN-MAX of milliseconds
	if ! [[ $2 =~ ^([0-9]+)-([0-9]+)$ ]] || ((BASH_REMATCH[1] > BASH_REMATCH[2])); then
		usage_error "$1 must be MIN-MAX in milliseconds, e.g. 200-1500, not \"$2\""
	fi
}

parse_args() {
	while [ $# -gt 0 ]; do
		local opt=$1 val=
		case $opt in
		-h | --help) usage; exit 0 ;;
		--*=*) val=${opt#*=}; opt=${opt%%=*} ;;
		--dir | --up | --base-port | --rounds | --duration | --writers | --writes | --down-ms | \
			--pause-ms | --seed | --cut-mode | --converge-timeout | --cartctl)
			[ $# -ge 2 ] || usage_error "$opt needs a value"
			val=$2; shift ;;
		*) usage_error "unknown argument \"$opt\"" ;;
		esac
		case $opt in
		--dir) DIR=$val ;;
		--up) num --up "$val" 1 20; UP=$val ;;
		--base-port) num --base-port "$val" 1 65000; BASE=$val ;;
		--rounds) num --rounds "$val" 1 1000; ROUNDS=$val ;;
		--duration) num --duration "$val" 1 86400; DURATION=$val ;;
		--writers) num --writers "$val" 1 64; WRITERS=$val ;;
		--writes) num --writes "$val" 1 1000000; WRITES=$val ;;
		--down-ms) range --down-ms "$val"; DOWN_MS=$val ;;
		--pause-ms) range --pause-ms "$val"; PAUSE_MS=$val ;;
		--seed) num --seed "$val" 0 2147483647; SEED=$val ;;
		--cut-mode) [[ $val == fault || $val == nft ]] ||
				usage_error "--cut-mode must be fault or nft, not \"$val\""
			CUT_MODE=$val ;;
		--converge-timeout) num --converge-timeout "$val" 1 3600; CONVERGE_S=$val ;;
		--cartctl) CTL=$val ;;
		*) usage_error "unknown option \"$opt\"" ;;
		esac
		shift
	done
}

# shellcheck source=scripts/find_cartctl.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/find_cartctl.sh"

# random MIN-MAX: a number in that range (inclusive) from the seeded RANDOM.
random_in() {
	local lo=${1%-*} hi=${1#*-}
	echo $((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
}
sleep_ms() { sleep "$(bc_ms "$1")"; }

# ------------------------------------------------------------------ the peers

declare -a HTTP=() PIDS=()
NPEERS=0
load_env() {
	local env=$DIR/cluster.env line key val i
	[ -r "$env" ] || die "$env not found: start a cluster with 'cartctl cluster up N --dir $DIR'" \
		"or give --up N"
	while IFS= read -r line || [ -n "$line" ]; do
		key=${line%%=*}
		val=${line#*=}
		case $key in
		PEERS) NPEERS=$val ;;
		PEER*_HTTP) HTTP[${key//[!0-9]/}]=$val ;;
		esac
	done <"$env"
	[[ $NPEERS =~ ^[0-9]+$ && $NPEERS -ge 2 ]] || die "$env: chaos needs a cluster of 2 or more peers"
	for ((i = 1; i <= NPEERS; i++)); do
		[ -n "${HTTP[i]:-}" ] || die "$env: PEER${i}_HTTP missing"
	done
}

# Is pid a live (not zombie) cartd whose command line names data dir $2?
is_peer_process() {
	local pid=$1 dir=$2 state
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	state=$(sed -n 's/^[0-9]* (.*) \(.\) .*/\1/p' "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z ]] || return 1
	tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$dir"
}

# Reads every peer's pid and saves its command line for restarts.
record_peers() {
	local i pid data
	for ((i = 1; i <= NPEERS; i++)); do
		data=$(cd "$DIR" && pwd -P)/peer$i
		pid=$(cat "$DIR/peer$i.pid" 2>/dev/null || true)
		is_peer_process "$pid" "$data" ||
			die "peer$i is not running (no live cartd for $data in $DIR/peer$i.pid)"
		PIDS[i]=$pid
		cp "/proc/$pid/cmdline" "$WORK/peer$i.cmd"
	done
}

# epoch_of I: peer I's boot epoch from /health, or nothing.
epoch_of() {
	"$CTL" --peer "${HTTP[$1]}" --timeout 2000 --json health 2>/dev/null |
		grep -o '"epoch":[0-9]*' | head -1 | cut -d: -f2
}

peer_gone() {
	local state
	state=$(sed -n 's/^[0-9]* (.*) \(.\) .*/\1/p' "/proc/$1/stat" 2>/dev/null || true)
	[[ -z $state || $state == Z ]]
}

DOWN=0   # the peer this script killed and has not restarted yet, 0 if none
kill_peer() {
	local i=$1 pid=${PIDS[$1]} data deadline
	data=$(cd "$DIR" && pwd -P)/peer$i
	is_peer_process "$pid" "$data" || die "peer$i (pid $pid) is no longer running: someone else stopped it"
	kill -9 "$pid"
	DOWN=$i
	deadline=$(($(now_ms) + 10000))
	until peer_gone "$pid"; do
		(($(now_ms) < deadline)) || die "peer$i (pid $pid) still there 10 s after kill -9"
		sleep 0.02
	done
}

# restart_peer I: starts peer I again with its saved command line, waits
# for /health; retries while the old ports are not yet released.
restart_peer() {
	local i=$1 attempt pid deadline name
	local -a cmd
	mapfile -d '' -t cmd <"$WORK/peer$i.cmd"
	for attempt in 1 2 3 4 5; do
		# setsid: like cluster up, so that Ctrl-C in this terminal spares it.
		setsid "${cmd[@]}" </dev/null >>"$DIR/peer$i.log" 2>&1 &
		pid=$!
		disown "$pid"   # no "Killed" job report when a later round kills it
		deadline=$(($(now_ms) + 15000))
		while (($(now_ms) < deadline)); do
			peer_gone "$pid" && break
			name=$("$CTL" --peer "${HTTP[i]}" --timeout 1000 --json health 2>/dev/null || true)
			if [[ $name == *"\"name\":\"peer$i\""* ]]; then
				PIDS[i]=$pid
				echo "$pid" >"$DIR/peer$i.pid"
				DOWN=0
				return 0
			fi
			sleep 0.05
		done
		peer_gone "$pid" || { kill -9 "$pid"; die "peer$i did not answer /health within 15 s (log: $DIR/peer$i.log)"; }
		log "  peer$i exited at start (attempt $attempt; port not yet free?), retrying"
		sleep 0.2
	done
	die "peer$i would not restart; see $DIR/peer$i.log"
}

# ---------------------------------------------------------------- the writers

RUN=
STOP=
declare -a WPIDS=()

# writer W: adds one new sku per write to a random peer until its count,
# the deadline or the stop file.
writer() {
	local w=$1 n peer cart sku deadline=$(($(date +%s) + DURATION + 30))
	RANDOM=$((SEED + w))
	for ((n = 1; n <= WRITES; n++)); do
		[ -e "$STOP" ] && break
		(($(date +%s) < deadline)) || break
		peer=$((RANDOM % NPEERS + 1))
		cart=chaos-$RUN-w$w-$((n / 500))
		sku=s$n
		echo "$cart $sku" >>"$WORK/tried.$w"
		if "$CTL" --peer "${HTTP[peer]}" --timeout 3000 add "$cart" "$sku" 1 \
			>/dev/null 2>>"$WORK/errors.$w"; then
			echo "$cart $sku" >>"$WORK/acked.$w"
		else
			echo "$cart $sku peer$peer" >>"$WORK/failed.$w"
			sleep 0.02   # a peer that is down refuses at once: do not spin
		fi
	done
}

start_writers() {
	local w
	for ((w = 1; w <= WRITERS; w++)); do
		: >"$WORK/tried.$w"
		: >"$WORK/acked.$w"
		: >"$WORK/failed.$w"
		writer "$w" &
		WPIDS+=($!)
	done
}

stop_writers() {
	[ -n "$STOP" ] && touch "$STOP"
	local p
	for p in "${WPIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	WPIDS=()
}

count_lines() { cat "$WORK"/"$1".* 2>/dev/null | wc -l; }

# ---------------------------------------------------------------- partitions

CUT=0
cut_peer() {
	"$HERE/partition.sh" --dir "$DIR" --mode "$CUT_MODE" cut --isolate "$1" >/dev/null
	CUT=1
}
heal_cut() {
	"$HERE/partition.sh" --dir "$DIR" --mode "$CUT_MODE" heal >/dev/null
	CUT=0
}

# -------------------------------------------------------------- verification

digest_of() {
	"$CTL" --peer "${HTTP[$1]}" --timeout 3000 --json cluster 2>/dev/null |
		grep -o '"digest":"[0-9a-f]*"' | tail -1 | cut -d'"' -f4
}

# converged: same root digest everywhere and the same GET answer for every
# cart written.  Prints the first difference on stdout.
converged() {
	local i d0 d c a0 a
	d0=$(digest_of 1)
	for ((i = 2; i <= NPEERS; i++)); do
		d=$(digest_of "$i")
		[[ -n $d0 && $d == "$d0" ]] || { echo "root digest: peer1 $d0, peer$i $d"; return 1; }
	done
	while read -r c; do
		a0=$("$CTL" --peer "${HTTP[1]}" --json get "$c" 2>/dev/null) || { echo "peer1: cannot read $c"; return 1; }
		for ((i = 2; i <= NPEERS; i++)); do
			a=$("$CTL" --peer "${HTTP[i]}" --json get "$c" 2>/dev/null) || { echo "peer$i: cannot read $c"; return 1; }
			[ "$a" = "$a0" ] || { echo "cart $c: peer1 $a0 / peer$i $a"; return 1; }
		done
	done <"$WORK/carts"
}

wait_converged() {
	local deadline t diff
	t=$(now_ms)
	deadline=$((t + CONVERGE_S * 1000))
	until diff=$(converged); do
		if (($(now_ms) >= deadline)); then
			log "NOT CONVERGED after $CONVERGE_S s: $diff"
			return 1
		fi
		sleep 0.1
	done
	CONVERGE_MS=$(($(now_ms) - t))
}

# check_acked: every acked (cart, sku) is in peer1's cart (all peers are
# identical by now), and every sku present was tried by a writer.
LOST=0
PHANTOM=0
check_acked() {
	local c
	cat "$WORK"/acked.* | sort -u >"$WORK/acked"
	cat "$WORK"/tried.* | sort -u >"$WORK/tried"
	: >"$WORK/present"
	while read -r c; do
		"$CTL" --peer "${HTTP[1]}" --json get "$c" | grep -o '"sku":"[^"]*"' | cut -d'"' -f4 |
			sed "s/^/$c /" >>"$WORK/present"
	done <"$WORK/carts"
	sort -u -o "$WORK/present" "$WORK/present"
	comm -23 "$WORK/acked" "$WORK/present" >"$WORK/lost"
	comm -13 "$WORK/tried" "$WORK/present" >"$WORK/phantom"
	LOST=$(wc -l <"$WORK/lost")
	PHANTOM=$(wc -l <"$WORK/phantom")
	PRESENT=$(wc -l <"$WORK/present")
}

# ------------------------------------------------------------------ clean-up

STARTED=0
cleanup() {
	local rc=$?
	set +e
	[ ${#WPIDS[@]} -eq 0 ] || { log "stopping the writers"; stop_writers; }
	if [ "$DOWN" -ne 0 ] && [ "$STARTED" -eq 0 ]; then
		log "restarting peer$DOWN, left down by the interruption"
		(restart_peer "$DOWN") || echo "$PROG: could not restart peer$DOWN" >&2
	fi
	[ "$CUT" -eq 0 ] || heal_cut || echo "$PROG: could not heal the cut" >&2
	if [ "$STARTED" -eq 1 ]; then
		"$CTL" cluster down --dir "$DIR" >/dev/null
	fi
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		if [ "$rc" -eq 0 ]; then
			rm -rf "$WORK"
		else
			echo "$PROG: logs of this run kept in $WORK" >&2
		fi
	fi
	exit "$rc"
}

# ---------------------------------------------------------------------- main

start_cluster() {
	[ "$UP" -gt 0 ] || return 0
	log "starting $UP peers in $DIR (HTTP $BASE.., gossip $((BASE + 100))..)"
	"$CTL" cluster up "$UP" --dir "$DIR" --base-port "$BASE" --fault-injection -- \
		--ping-interval-ms 200 --ping-timeout-ms 80 --suspect-ms 1000 \
		--dead-retry-ms 300 --ae-interval-ms 200 >/dev/null ||
		die "cartctl cluster up failed"
	STARTED=1
}

chaos_rounds() {
	local r i j e0 e1 end down
	end=$(($(date +%s) + DURATION))
	for ((r = 1; r <= ROUNDS; r++)); do
		if (($(date +%s) >= end)); then
			log "time is up after $((r - 1)) round(s)"
			break
		fi
		sleep_ms "$(random_in "$PAUSE_MS")"
		i=$((RANDOM % NPEERS + 1))
		e0=$(epoch_of "$i")
		down=$(random_in "$DOWN_MS")
		log "round $r: kill -9 peer$i (pid ${PIDS[i]}, epoch ${e0:-?}); down for ${down} ms;" \
			"acked so far $(count_lines acked)"
		kill_peer "$i"
		KILLS=$((KILLS + 1))
		j=0
		if [ -n "$CUT_MODE" ] && [ "$NPEERS" -ge 3 ]; then
			j=$(((i + RANDOM % (NPEERS - 1)) % NPEERS + 1))
			log "round $r: isolate peer$j ($CUT_MODE)"
			cut_peer "$j"
		fi
		sleep_ms "$down"
		restart_peer "$i"
		e1=$(epoch_of "$i")
		log "round $r: peer$i back (pid ${PIDS[i]}, epoch ${e1:-?})"
		if [[ -z $e0 || -z $e1 || $e1 -le $e0 ]]; then
			log "FAIL: peer$i's boot epoch did not go up (${e0:-?} -> ${e1:-?})"
			EPOCH_FAIL=$((EPOCH_FAIL + 1))
		fi
		if [ "$j" -ne 0 ]; then
			heal_cut
			log "round $r: healed"
		fi
	done
}

main() {
	parse_args "$@"
	find_cartctl
	SEED=${SEED:-$(($(date +%s%N) % 2147483647))}
	RANDOM=$SEED
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	start_cluster
	load_env
	RUN=$(date +%s)-$$
	WORK=$DIR/chaos-$RUN
	mkdir -p "$WORK"
	STOP=$WORK/stop
	record_peers
	log "chaos: $NPEERS peers in $DIR, seed $SEED, $ROUNDS rounds within $DURATION s," \
		"$WRITERS writers x $WRITES adds${CUT_MODE:+, cuts by $CUT_MODE}"

	KILLS=0
	EPOCH_FAIL=0
	start_writers
	chaos_rounds
	log "stopping the writers"
	stop_writers
	[ "$CUT" -eq 0 ] || heal_cut
	cat "$WORK"/tried.* | cut -d' ' -f1 | sort -u >"$WORK/carts"

	log "waiting for convergence (at most $CONVERGE_S s)"
	CONVERGE_MS=-1
	local ok=1
	wait_converged || ok=0
	check_acked
	local tried acked failed
	tried=$(count_lines tried)
	acked=$(count_lines acked)
	failed=$(count_lines failed)
	((LOST == 0 && PHANTOM == 0 && EPOCH_FAIL == 0)) || ok=0

	echo
	echo "chaos summary (seed $SEED)"
	printf '  %-28s %s\n' "peers" "$NPEERS" \
		"kill -9 and restarts" "$KILLS" \
		"writes tried" "$tried" \
		"  acknowledged" "$acked" \
		"  not acknowledged" "$failed" \
		"carts" "$(wc -l <"$WORK/carts")" \
		"items present" "$PRESENT" \
		"acknowledged but missing" "$LOST" \
		"present but never written" "$PHANTOM" \
		"epochs that did not go up" "$EPOCH_FAIL"
	if [ "$CONVERGE_MS" -ge 0 ]; then
		printf '  %-28s %s\n' "converged" "in $(bc_ms "$CONVERGE_MS") s (digests and every cart identical)"
	else
		printf '  %-28s %s\n' "converged" "NO"
	fi
	if [ "$LOST" -gt 0 ]; then
		echo "  lost (first 10):"
		head -10 "$WORK/lost" | sed 's/^/    /'
	fi
	if [ "$PHANTOM" -gt 0 ]; then
		echo "  never written (first 10):"
		head -10 "$WORK/phantom" | sed 's/^/    /'
	fi
	if [ "$ok" -eq 1 ]; then
		echo "PASS"
		return 0
	fi
	echo "FAIL"
	return 1
}

main "$@"
