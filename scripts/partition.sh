#!/usr/bin/env bash
# partition.sh - cut and heal the network between the peers of a local cartd
# cluster (one started by `cartctl cluster up`), to watch replicas diverge
# and converge.  Two ways to cut:
#
#   --mode fault   each peer's own fault injection (/admin/faults) blocks the
#                  peers on the other side; no root needed, but the peers must
#                  run with --enable-fault-injection (cluster up --fault-injection)
#   --mode nft     nftables rules drop UDP between the sides' gossip ports on
#                  loopback; root only; the peers need no option.  Everything
#                  lives in one dedicated table, and heal deletes that table
#                  and nothing else.
#
# Run with --help for the usage.  Exit status: 0 done, 1 failed, 2 bad
# command line.
set -euo pipefail

PROG=${0##*/}
DIR=./cartd-local
MODE=fault
TABLE=cartd_partition
CTL=
ACTION=
SPLIT=
ISOLATE=

usage() {
	cat <<EOF
NAME
    $PROG - cut and heal the network between peers of a local cartd cluster

SYNOPSIS
    $PROG [OPTIONS] cut --isolate N
    $PROG [OPTIONS] cut --split GROUPS
    $PROG [OPTIONS] heal
    $PROG [OPTIONS] status

DESCRIPTION
    Works on a cluster started by 'cartctl cluster up': the peers' addresses
    are read from DIR/cluster.env (PEERS=n, PEERi_HTTP=..., PEERi_GOSSIP=...).
    Peers are numbered from 1, as there.

    cut --isolate N      Peer N can no longer exchange datagrams with any
                         other peer; the others still talk to each other.
    cut --split GROUPS   GROUPS is peer numbers separated by ',' within a side
                         and '/' between sides, e.g. 1,2/3 or 1/2/3,4.  Peers
                         of different sides are cut from each other; peers
                         named nowhere keep talking to everyone (a
                         non-transitive partition).
    A cut replaces the previous cut made in the same mode: the partition is
    exactly what the last cut says.
    heal                 Removes every cut of the mode.  Idempotent: healing
                         a healed cluster succeeds and changes nothing.
    status               Shows the cut (blocked peers, or the nft table with
                         its drop counters) and each peer's view of the
                         membership (alive, suspect, dead).

    HTTP and the cartd API are never cut, only gossip (UDP).  After a heal
    the peers find each other again by themselves (dead peers are probed
    again every --dead-retry-ms) and anti-entropy repairs what differs.

OPTIONS
    --dir D          Cluster directory.  Default: ./cartd-local (cartctl's).
    --mode fault|nft How to cut.  Default: fault.
                     fault: POST /admin/faults on the peers of the cut, each
                       blocking the gossip addresses of the peers on the
                       other sides (datagrams both ways); heal unblocks every
                       blocked peer on every peer.  Drop, duplicate and delay
                       rates are left alone.  Needs peers started with
                       --enable-fault-injection.  A peer that does not
                       answer is skipped with a warning: the blocks of the
                       other side cut it anyway (they act both ways), and a
                       restarted peer forgets its own blocks.
                     nft: root only.  Installs the table 'inet TABLE' with
                       one output chain that drops UDP from 127.0.0.1 between
                       the gossip ports of different sides; heal deletes that
                       table, never another.  Survives peer restarts.
    --table NAME     nftables table (family inet) for --mode nft.
                     Default: cartd_partition.
    --cartctl PATH   cartctl binary.  Default: \$CARTCTL, else the build/
                     next to this script, else cartctl from PATH.
    -h, --help       Print this text.

EXAMPLES
    cartctl cluster up 3 --fault-injection
    $PROG cut --isolate 3            # peer3 alone, peers 1 and 2 together
    cartctl --peer 127.0.0.1:8080 add c1 apple 1
    cartctl --peer 127.0.0.1:8082 add c1 apple 2
    $PROG status
    $PROG heal
    sudo $PROG --mode nft cut --split 1/2,3
    sudo $PROG --mode nft heal

EXIT STATUS
    0 done, 1 failed (message on stderr), 2 invalid command line
EOF
}

die() { echo "$PROG: $*" >&2; exit 1; }
usage_error() { echo "$PROG: $*" >&2; echo "Try '$PROG --help'." >&2; exit 2; }

parse_args() {
	while [ $# -gt 0 ]; do
		case $1 in
		-h | --help) usage; exit 0 ;;
		--dir) [ $# -ge 2 ] || usage_error "--dir needs a value"; DIR=$2; shift ;;
		--dir=*) DIR=${1#*=} ;;
		--mode) [ $# -ge 2 ] || usage_error "--mode needs a value"; MODE=$2; shift ;;
		--mode=*) MODE=${1#*=} ;;
		--table) [ $# -ge 2 ] || usage_error "--table needs a value"; TABLE=$2; shift ;;
		--table=*) TABLE=${1#*=} ;;
		--cartctl) [ $# -ge 2 ] || usage_error "--cartctl needs a value"; CTL=$2; shift ;;
		--cartctl=*) CTL=${1#*=} ;;
		--isolate) [ $# -ge 2 ] || usage_error "--isolate needs a peer number"; ISOLATE=$2; shift ;;
		--isolate=*) ISOLATE=${1#*=} ;;
		--split) [ $# -ge 2 ] || usage_error "--split needs groups, e.g. 1,2/3"; SPLIT=$2; shift ;;
		--split=*) SPLIT=${1#*=} ;;
		cut | heal | status)
			[ -z "$ACTION" ] || usage_error "one action only (got $ACTION and $1)"
			ACTION=$1 ;;
		*) usage_error "unknown argument \"$1\"" ;;
		esac
		shift
	done
	[ -n "$ACTION" ] || usage_error "missing action: cut, heal or status"
	case $MODE in fault | nft) ;; *) usage_error "--mode must be fault or nft, not \"$MODE\"" ;; esac
	[[ $TABLE =~ ^[A-Za-z][A-Za-z0-9_]{0,63}$ ]] ||
		usage_error "--table must be a letter then letters, digits or _ (got \"$TABLE\")"
	if [ "$ACTION" = cut ]; then
		[ -n "$ISOLATE" ] || [ -n "$SPLIT" ] || usage_error "cut needs --isolate N or --split GROUPS"
		[ -z "$ISOLATE" ] || [ -z "$SPLIT" ] || usage_error "give --isolate or --split, not both"
	else
		[ -z "$ISOLATE$SPLIT" ] || usage_error "--isolate and --split go with cut only"
	fi
}

# shellcheck source=scripts/find_cartctl.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/find_cartctl.sh"

# Peers from DIR/cluster.env into HTTP[i] and GOSSIP[i], i = 1..NPEERS.
declare -a HTTP=() GOSSIP=()
NPEERS=0
load_env() {
	local env=$DIR/cluster.env line key val
	[ -r "$env" ] || die "$env not found: is there a cluster started by 'cartctl cluster up --dir $DIR'?"
	while IFS= read -r line || [ -n "$line" ]; do
		key=${line%%=*}
		val=${line#*=}
		case $key in
		PEERS) NPEERS=$val ;;
		PEER*_HTTP) HTTP[${key//[!0-9]/}]=$val ;;
		PEER*_GOSSIP) GOSSIP[${key//[!0-9]/}]=$val ;;
		esac
	done <"$env"
	[[ $NPEERS =~ ^[0-9]+$ && $NPEERS -ge 1 ]] || die "$env: no PEERS=n line"
	local i
	for ((i = 1; i <= NPEERS; i++)); do
		[[ -n ${HTTP[i]:-} && -n ${GOSSIP[i]:-} ]] ||
			die "$env: PEER${i}_HTTP or PEER${i}_GOSSIP missing"
	done
}

# SIDE[i] = the side (1..) of peer i in the cut, 0 for peers named nowhere.
declare -a SIDE=()
NSIDES=0
parse_cut() {
	local spec=$SPLIT i g p
	if [ -n "$ISOLATE" ]; then
		[[ $ISOLATE =~ ^[0-9]+$ && $ISOLATE -ge 1 && $ISOLATE -le $NPEERS ]] ||
			usage_error "--isolate: no peer \"$ISOLATE\" (peers are 1..$NPEERS)"
		[ "$NPEERS" -ge 2 ] || usage_error "--isolate: a cluster of one peer has nobody to cut"
		spec=$ISOLATE/
		for ((i = 1; i <= NPEERS; i++)); do
			[ "$i" -eq "$ISOLATE" ] || spec+="$i,"
		done
		spec=${spec%,}
	fi
	[[ $spec =~ ^[0-9]+(,[0-9]+)*(/[0-9]+(,[0-9]+)*)+$ ]] ||
		usage_error "--split: \"$spec\" is not GROUP/GROUP[/...] with GROUP = N[,N...], e.g. 1,2/3"
	for ((i = 1; i <= NPEERS; i++)); do SIDE[i]=0; done
	local -a groups members
	IFS=/ read -ra groups <<<"$spec"
	for g in "${groups[@]}"; do
		NSIDES=$((NSIDES + 1))
		IFS=, read -ra members <<<"$g"
		for p in "${members[@]}"; do
			p=$((10#$p))
			[[ $p -ge 1 && $p -le $NPEERS ]] ||
				usage_error "--split: no peer $p (peers are 1..$NPEERS)"
			[ "${SIDE[p]}" -eq 0 ] || usage_error "--split: peer $p is named twice"
			SIDE[p]=$NSIDES
		done
	done
}

# Peers cut from peer i: those on another side (neither side 0).
cut_from() {
	local i=$1 j
	for ((j = 1; j <= NPEERS; j++)); do
		if [ "${SIDE[i]}" -ne 0 ] && [ "${SIDE[j]}" -ne 0 ] && [ "${SIDE[i]}" -ne "${SIDE[j]}" ]; then
			printf '%s\n' "$j"
		fi
	done
}

describe_cut() {
	local s i out=
	for ((s = 1; s <= NSIDES; s++)); do
		out+="${out:+ | }"
		for ((i = 1; i <= NPEERS; i++)); do
			[ "${SIDE[i]}" -eq "$s" ] && out+="peer$i "
		done
		out=${out% }
	done
	printf '%s' "$out"
}

# ---------------------------------------------------------------- fault mode

# query_blocked I: the entries peer I blocks now into QB, one per line (from
# `cartctl faults show`).  Returns 1, with the reason in QB, when the peer
# cannot be reached; exits when it runs without fault injection.
QB=
query_blocked() {
	local out line
	if ! out=$("$CTL" --peer "${HTTP[$1]}" --timeout 3000 faults show 2>&1); then
		if [[ $out == *"404 not_found"* ]]; then
			die "peer$1 (${HTTP[$1]}) runs without fault injection: start the cluster with" \
				"'cartctl cluster up N --fault-injection', or use --mode nft (root)"
		fi
		QB=$out
		return 1
	fi
	line=$(sed -n 's/^blocked  //p' <<<"$out")
	QB=
	[ "$line" = "(none)" ] || QB=$(printf '%s\n' "${line//, /$'\n'}")
}

# POSTs one change to peer i: unblock every entry in $2 (newline-separated),
# block every entry in $3.
set_blocks() {
	local i=$1 e out
	local -a args=()
	while IFS= read -r e; do [ -n "$e" ] && args+=(--unblock "$e"); done <<<"$2"
	while IFS= read -r e; do [ -n "$e" ] && args+=(--block "$e"); done <<<"$3"
	[ ${#args[@]} -gt 0 ] || return 0
	out=$("$CTL" --peer "${HTTP[i]}" --timeout 3000 faults set "${args[@]}" 2>&1) ||
		die "peer$i (${HTTP[i]}): $out"
}

# A peer that is down cannot take blocks, but it needs none as long as the
# peers on the other side block it (blocks act on both directions); when it
# restarts it has no blocks of its own.  So a down peer is skipped, unless
# some pair to cut has no live peer on either end.
fault_cut() {
	local i j want
	local -a current=() up=()
	# Every peer first: nothing changes unless the whole cut can be made.
	for ((i = 1; i <= NPEERS; i++)); do
		if query_blocked "$i"; then
			up[i]=1
			current[i]=$QB
		else
			up[i]=0
			echo "$PROG: peer$i (${HTTP[i]}) does not answer: skipped (${QB##*: })" >&2
		fi
	done
	for ((i = 1; i <= NPEERS; i++)); do
		for j in $(cut_from "$i"); do
			((up[i] || up[j])) || die "peer$i and peer$j are both down: cannot cut them apart"
		done
	done
	for ((i = 1; i <= NPEERS; i++)); do
		((up[i])) || continue
		want=
		for j in $(cut_from "$i"); do
			want+="${GOSSIP[j]}"$'\n'
		done
		set_blocks "$i" "${current[i]}" "$want"
	done
	echo "cut (fault injection): $(describe_cut)"
}

fault_heal() {
	local i n=0 down=0
	for ((i = 1; i <= NPEERS; i++)); do
		if ! query_blocked "$i"; then
			echo "$PROG: peer$i (${HTTP[i]}) does not answer: skipped (${QB##*: })" >&2
			down=$((down + 1))
			continue
		fi
		[ -z "$QB" ] || n=$((n + 1))
		set_blocks "$i" "$QB" ""
	done
	if [ "$n" -eq 0 ]; then
		echo "healed (fault injection): nothing was blocked"
	else
		echo "healed (fault injection): blocks removed on $n peer(s)"
	fi
	[ "$down" -eq 0 ] || echo "($down peer(s) down; restarted peers have no blocks)"
}

# ------------------------------------------------------------------ nft mode

need_nft() {
	[ "$(id -u)" -eq 0 ] || die "--mode nft needs root (try sudo, or --mode fault)"
	command -v nft >/dev/null || die "--mode nft needs the nft command (apt-get install nftables)"
}

table_exists() { nft list table inet "$TABLE" >/dev/null 2>&1; }

# HOST[i] and PORT[i] of each gossip address (IPv4 only: cluster up uses
# 127.0.0.1).
declare -a HOST=() PORT=()
split_addrs() {
	local i
	for ((i = 1; i <= NPEERS; i++)); do
		[[ ${GOSSIP[i]} =~ ^([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+):([0-9]+)$ ]] ||
			die "peer$i: gossip address \"${GOSSIP[i]}\" is not IPv4 host:port;" \
				"--mode nft handles IPv4 only"
		HOST[i]=${BASH_REMATCH[1]}
		PORT[i]=${BASH_REMATCH[2]}
	done
}

nft_rules() {
	local i j
	for ((i = 1; i <= NPEERS; i++)); do
		for j in $(cut_from "$i"); do
			# One direction per rule; the loop visits both.
			printf '\t\tip saddr %s ip daddr %s udp sport %s udp dport %s counter drop comment "peer%s -> peer%s"\n' \
				"${HOST[i]}" "${HOST[j]}" "${PORT[i]}" "${PORT[j]}" "$i" "$j"
		done
	done
}

nft_cut() {
	need_nft
	split_addrs
	local rules
	rules=$(nft_rules)
	[ -n "$rules" ] || die "the cut separates nobody"
	# Create-then-delete-then-define in one transaction: an atomic replace.
	nft -f - <<EOF || die "nft refused the rules (is the nf_tables module available?)"
table inet $TABLE
delete table inet $TABLE
table inet $TABLE {
	chain output {
		type filter hook output priority 0; policy accept;
$rules
	}
}
EOF
	echo "cut (nft table inet $TABLE): $(describe_cut)"
}

nft_heal() {
	need_nft
	if table_exists; then
		nft delete table inet "$TABLE" || die "could not delete table inet $TABLE"
		echo "healed (nft): table inet $TABLE deleted"
	else
		echo "healed (nft): no table inet $TABLE, nothing to do"
	fi
}

# -------------------------------------------------------------------- status

status() {
	local i out
	echo "cluster $DIR: $NPEERS peer(s)"
	if [ "$(id -u)" -eq 0 ] && command -v nft >/dev/null; then
		if table_exists; then
			echo "nft: table inet $TABLE is installed:"
			nft list table inet "$TABLE" | sed 's/^/    /'
		else
			echo "nft: no table inet $TABLE"
		fi
	else
		echo "nft: not checked (needs root and nft)"
	fi
	for ((i = 1; i <= NPEERS; i++)); do
		echo
		if ! out=$("$CTL" --peer "${HTTP[i]}" --timeout 3000 cluster 2>&1); then
			echo "peer$i  http ${HTTP[i]}  gossip ${GOSSIP[i]}: not answering ($out)"
			continue
		fi
		echo "peer$i  http ${HTTP[i]}  gossip ${GOSSIP[i]}"
		if out=$("$CTL" --peer "${HTTP[i]}" --timeout 3000 faults show 2>/dev/null); then
			sed -n 's/^blocked  /  blocked  /p' <<<"$out"
		else
			echo "  blocked  (fault injection off)"
		fi
		"$CTL" --peer "${HTTP[i]}" --timeout 3000 cluster | sed 's/^/  /'
	done
}

main() {
	parse_args "$@"
	load_env
	if [ "$MODE" = fault ] || [ "$ACTION" = status ]; then
		find_cartctl
	fi
	case $ACTION in
	cut)
		parse_cut
		if [ "$MODE" = fault ]; then fault_cut; else nft_cut; fi ;;
	heal)
		if [ "$MODE" = fault ]; then fault_heal; else nft_heal; fi ;;
	status)
		status ;;
	esac
}

main "$@"
