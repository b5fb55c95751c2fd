#!/usr/bin/env bash
# bench/run.sh - runs every benchmark program in $BUILD/bench (default
# build/bench) and every executable bench/bench_*.sh script, in order of
# their names, after a header naming the machine and the revision.  New
# bench/bench_*.c programs and bench_*.sh scripts are picked up without
# editing this file.  Exits non-zero if any program fails (a missed target
# is not a failure: the tables say MISS).
set -uo pipefail

build="${BUILD:-build}"
dir="$build/bench"

echo "cartd benchmarks"
echo "  date:     $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
echo "  revision: $(git describe --always --dirty 2>/dev/null || echo unknown)"
echo "  cores:    $(nproc)"
echo "  cpu:      $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || echo unknown)"
echo "  load:     $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) (1/5/15 min: other work on the machine skews every figure)"
echo "  build:    $build"

progs=()
while IFS= read -r p; do
	progs+=("$p")
done < <({ find "$dir" -maxdepth 1 -type f -name 'bench_*' ! -name '*.[od]' -perm -u+x
	find "$(dirname "$0")" -maxdepth 1 -type f -name 'bench_*.sh' -perm -u+x; } 2>/dev/null |
	awk -F/ '{ print $NF "\t" $0 }' | LC_ALL=C sort | cut -f2-)

if [ ${#progs[@]} -eq 0 ]; then
	echo "bench: no programs in $dir (run make bench)" >&2
	exit 1
fi

failed=()
for p in "${progs[@]}"; do
	echo
	start=$(date +%s%N)
	if ! "$p"; then
		failed+=("$(basename "$p")")
	fi
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	printf '   (%s took %d.%01d s)\n' "$(basename "$p")" $((ms / 1000)) $((ms % 1000 / 100))
done

echo
if [ ${#failed[@]} -ne 0 ]; then
	echo "bench: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "bench: ${#progs[@]} program(s) ran; CSV under ${BENCH_OUT:-bench/out}"
