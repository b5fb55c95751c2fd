# find_cartctl.sh - sourced by the cluster scripts: sets CTL to an absolute
# path of cartctl (--cartctl given earlier as CTL, else $CARTCTL, else the
# build tree beside this script, else PATH) and exports it as CARTCTL so
# that scripts they call find the same one.  Needs die() from the caller.
# shellcheck shell=bash

find_cartctl() {
	if [ -z "${CTL:-}" ]; then
		local here
		here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
		if [ -n "${CARTCTL:-}" ]; then
			CTL=$CARTCTL
		elif [ -x "$here/../build/cartctl" ]; then
			CTL=$here/../build/cartctl
		else
			CTL=$(command -v cartctl || true)
		fi
	fi
	[[ -n $CTL && -x $CTL ]] || die "cartctl not found (run make, or give --cartctl PATH)"
	CTL=$(cd "$(dirname "$CTL")" && pwd)/${CTL##*/}
	export CARTCTL=$CTL
}
