#!/usr/bin/env bash
# demo.sh - the three-peer tour behind `make demo`: write at one peer and
# read at another, cut a peer off, edit the same cart on both sides of the
# cut (a remove racing an add included), heal, and watch all three
# converge.  The cluster keeps running at the end so you can play with it.
#
# Usage: scripts/demo.sh BUILD_DIR      (make demo passes build/)
# Env:   DEMO_BASE_PORT (default 8080): HTTP ports P..P+2, gossip P+100..
#        DEMO_DIR (default ./cartd-local, cartctl's default): the cluster's
#        data, logs and key.  Data is kept between runs; the demo cart is
#        cleared at the start instead.
#
# Every wait polls with a deadline; nothing assumes a fixed delay suffices.
set -euo pipefail

BUILD=${1:?usage: scripts/demo.sh BUILD_DIR}
CTL="$BUILD/cartctl"
DIR=${DEMO_DIR:-./cartd-local}
BASE=${DEMO_BASE_PORT:-8080}
A=127.0.0.1:$BASE
B=127.0.0.1:$((BASE + 1))
C=127.0.0.1:$((BASE + 2))
GA=127.0.0.1:$((BASE + 100))
GB=127.0.0.1:$((BASE + 101))
CART=demo

[ -x "$CTL" ] || { echo "demo: $CTL not found; run make first" >&2; exit 1; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Shows a command, then runs it.
run() {
	local cmd=$1
	shift
	printf '$ %s %s\n' "${cmd##*/}" "$*"
	"$cmd" "$@"
}
at() { local peer=$1; shift; run "$CTL" --peer "$peer" "$@"; }
cart_json() { "$CTL" --peer "$1" --json get "$CART"; }

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.1 s until it
# succeeds or the deadline passes.
wait_for() {
	local secs=$1 what=$2
	local deadline=$((SECONDS + secs))
	shift 2
	until "$@"; do
		if ((SECONDS >= deadline)); then
			echo "demo: gave up waiting for $what after $secs s" >&2
			return 1
		fi
		sleep 0.1
	done
}
same_cart() { [ "$(cart_json "$1")" = "$(cart_json "$2")" ]; }
all_same() { same_cart "$A" "$B" && same_cart "$A" "$C"; }
has_sku() { "$CTL" --peer "$1" get "$CART" | grep -q "^  $2 "; }

step "Start three peers (fault injection on, fast protocol timers)"
if ls "$DIR"/peer*.pid >/dev/null 2>&1; then
	echo "# stopping the cluster a previous run left in $DIR"
	"$CTL" cluster down --dir "$DIR" >/dev/null || true
fi
run "$CTL" cluster up 3 --base-port "$BASE" --dir "$DIR" --fault-injection -- \
	--ae-interval-ms 300 --ping-interval-ms 300 --ping-timeout-ms 100 \
	--suspect-ms 1500 --dead-retry-ms 500

step "Service 1 adds items at peer A"
"$CTL" --peer "$A" clear "$CART" >/dev/null   # a clean cart if data was kept
at "$A" add "$CART" apple 2
at "$A" add "$CART" pear 1

step "Service 2 reads the cart at peer B (it arrives within milliseconds)"
wait_for 10 "the cart to reach B" same_cart "$A" "$B"
at "$B" get "$CART"

step "Cut peer C off: C drops every datagram to or from A and B"
wait_for 10 "the cart to reach C" same_cart "$A" "$C"
at "$C" faults set --block "$GA" --block "$GB"

step "Concurrent edits on both sides of the cut"
echo "# at A: remove apple (A has seen 2 apples), add milk"
at "$A" remove "$CART" apple
at "$A" add "$CART" milk 1
echo "# at C, at the same time: add one more apple, set pear to 5"
at "$C" add "$CART" apple 1
at "$C" set "$CART" pear 5

step "The two sides now disagree"
wait_for 10 "A's edits to reach B" same_cart "$A" "$B"
echo "# A and B:"
at "$A" get "$CART"
echo "# C:"
at "$C" get "$CART"
if has_sku "$C" milk; then
	echo "demo: the cut leaked: C has milk" >&2
	exit 1
fi

step "Heal the partition"
at "$C" faults clear

step "Watch all three converge (anti-entropy repairs what the cut kept apart)"
start=$(date +%s%3N)
wait_for 30 "the peers to converge" all_same
echo "# converged $(($(date +%s%3N) - start)) ms after healing;"
echo "# every peer now holds byte-identical state:"
for p in "$A" "$B" "$C"; do
	at "$p" get "$CART"
done
cat <<EOF

What happened:
  apple 1   A's remove took away the 2 apples A had seen; C's concurrent add
            of 1 was not seen by that remove, so it survives (add wins).
  pear 5    C's set replaced the pear line it had observed.
  milk 1    A's add, made during the cut, reached C after healing.
EOF

step "The cluster as A sees it"
at "$A" cluster

cat <<EOF

The cluster is still running.  Try, for example:
  $CTL --peer $B add $CART kiwi 3
  $CTL --peer $C get $CART
  $CTL --peer $A metrics | grep cartd_deltas
Logs are in $DIR/peer*.log.  Stop it with:
  $CTL cluster down --dir $DIR
EOF
