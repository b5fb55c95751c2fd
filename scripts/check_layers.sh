#!/usr/bin/env bash
# Checks the layering rules of DESIGN.md section 2 on the sources and, when
# given, on the compiled objects:
#
#   1. crdt/ includes and links nothing from net/ or app/;
#   2. net/ includes and links nothing from app/;
#   2a. inside app/: shared/ (log, idempotency keys) uses no other folder of
#      app/; peer/ (the node and its durability) uses shared/ only; http/
#      (transport, API, metrics) uses peer/ and shared/; cartctl/ uses
#      shared/ only; cartd's main and config (app/*.c) sit above them all;
#   2b. http/ sees the peer through app/peer/node.h and its read models
#      only: it includes none of the headers of the engine, the wire, the
#      socket, the committer, the database, the store or the node's
#      internals, and its objects call none of their functions;
#   3. crdt/ and the replication engine (net/engine*, ae, push, swim,
#      members, msg) touch no socket, clock or randomness: none of the
#      headers that declare them, no call to them, no such undefined symbol
#      in their objects.
#
# Usage: scripts/check_layers.sh [SRCDIR [OBJDIR]]   (default: . and none)
#        scripts/check_layers.sh --self-test OBJDIR
# Prints every violation (file:line and what) and exits 1 when there is one.
# --self-test copies the tree to a temporary directory, injects one
# violation of each kind in turn and fails unless each is caught (and the
# clean copy passes), so a check that silently stopped matching is noticed.
set -uo pipefail

ENGINE_GLOB='net/engine*.[ch] net/ae.c net/push.c net/swim.c net/members.c net/msg.[ch]'
ENGINE_OBJS=$(echo "$ENGINE_GLOB" | sed 's/\.\[ch\]/.o/g; s/\.c/.o/g')
# Headers that declare sockets, clocks, randomness or file I/O.
BAD_HEADERS='sys/socket\.h|netinet/[a-z_]+\.h|arpa/inet\.h|netdb\.h|sys/un\.h|time\.h|sys/time\.h|sys/random\.h|unistd\.h|fcntl\.h|poll\.h|sys/epoll\.h|event2/[a-z_]+\.h'
BAD_CALLS='socket|socketpair|bind|connect|accept|send|sendto|sendmsg|sendmmsg|recv|recvfrom|recvmsg|recvmmsg|clock_gettime|clock|gettimeofday|time|rand|rand_r|srand|random|srandom|drand48|lrand48|getrandom|getentropy|arc4random|randombytes|randombytes_[a-z_]+'

# What app/http/ must not include (rule 2b), after the opening quote, and
# the objects whose functions it must not call.
HTTP_PAST_NODE='net/(engine|wire|udp|msg)[a-z_]*\.h|app/peer/(committer|db|node_internal)[a-z_]*\.h|crdt/store[a-z_]*\.h'
HTTP_PAST_NODE_OBJS="$ENGINE_OBJS net/wire*.o net/udp*.o app/peer/committer.o app/peer/db*.o crdt/store*.o"

fail=0
report() { echo "layers: $*"; fail=1; }

# Prints file:line:text for every line of the given files that, with
# comments and string literals blanked, matches the regex $1.
grep_code() {   # regex files...
	local re=$1; shift
	[ $# -gt 0 ] || return 0
	RE="$re" perl -0777 -ne '
		s{/\*.*?\*/}{ my $c = $&; $c =~ s/[^\n]//g; $c }gse;
		s{//[^\n]*}{}g; s{"(?:\\.|[^"\\\n])*"}{""}g;
		my $n = 0;
		for my $l (split /\n/, $_, -1) { $n++; print "$ARGV:$n:$l\n" if $l =~ /$ENV{RE}/; }
	' "$@"
}

check_includes() {   # dir pattern what
	local dir=$1 pat=$2 what=$3 f
	for f in "$SRC"/$dir/*.[ch]; do
		[ -e "$f" ] || continue
		grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"<]($pat)" "$f" |
		while IFS= read -r hit; do
			echo "layers: ${f#"$SRC"/}:${hit%%:*}: $what: ${hit#*:}"
		done
	done
}

check_pure_sources() {
	local files=() f rel hit
	for rel in crdt/*.[ch] $ENGINE_GLOB; do
		for f in "$SRC"/$rel; do
			[ -e "$f" ] && files+=("$f")
		done
	done
	grep_code "^\\s*#\\s*include\\s*<($BAD_HEADERS)>" "${files[@]}" |
	while IFS= read -r hit; do
		echo "layers: ${hit#"$SRC"/}: I/O header in a pure module"
	done
	grep_code "(^|[^A-Za-z0-9_.>])($BAD_CALLS)\\s*\\(" "${files[@]}" |
	while IFS= read -r hit; do
		echo "layers: ${hit#"$SRC"/}: socket/clock/random call in a pure module"
	done
}

# The objects among the globs that have a source in SRC: an object left in
# the build dir by a file since moved or deleted is not part of the program.
live_objs() {   # globs...
	local o rel
	for o in $*; do
		[ -e "$o" ] || continue
		rel=${o#"$OBJ"/}
		[ -e "$SRC/${rel%.o}.c" ] && echo "$o"
	done
}

# Undefined symbols of the objects in $1 (globs) that objects in $2 define.
check_links() {   # objs providers what
	local objs providers
	objs=$(live_objs $1)
	providers=$(live_objs $2)
	[ -n "$objs" ] && [ -n "$providers" ] || return 0
	nm -A -u $objs | awk -v what="$3" -v obj="$OBJ/" '
		NR == FNR { def[$1] = 1; next }
		($NF in def) { f = $1; sub(/:$/, "", f); sub(obj, "", f);
		               print "layers: " f ": " what ": uses " $NF }' \
		<(nm --defined-only -g $providers 2>/dev/null | awk 'NF == 3 { print $3 }') -
}

check_pure_objects() {
	local objs
	objs=$(cd "$OBJ" && ls crdt/*.o $ENGINE_OBJS 2>/dev/null)
	[ -n "$objs" ] || return 0
	(cd "$OBJ" && nm -A -u $objs) | awk -v re="^($BAD_CALLS)$" '
		$NF ~ re { f = $1; sub(/:$/, "", f);
		           print "layers: " f ": socket/clock/random symbol in a pure module: " $NF }'
}

run_checks() {
	local out
	out=$({
		check_includes crdt 'net/|app/|tests/' 'crdt/ includes a higher layer'
		check_includes net 'app/|tests/' 'net/ includes app/'
		check_includes app 'tests/' 'app/ includes tests/'
		check_includes app/shared 'app/(peer/|http/|cartctl/|config\.h)|tests/' 'app/shared/ includes a folder above it'
		check_includes app/peer 'app/(http/|cartctl/|config\.h)|tests/' 'app/peer/ includes a folder above it'
		check_includes app/http 'app/(cartctl/|config\.h)|tests/' 'app/http/ includes cartctl/ or config'
		check_includes app/cartctl 'app/(peer/|http/|config\.h)|tests/' 'app/cartctl/ includes the peer'
		check_includes app/http "$HTTP_PAST_NODE" 'app/http/ reaches past node.h into the peer'
		check_pure_sources
		if [ -n "$OBJ" ]; then
			check_links "$OBJ/crdt/*.o" "$OBJ/net/*.o $OBJ/app/*.o $OBJ/app/*/*.o" 'crdt/ links a higher layer'
			check_links "$OBJ/net/*.o" "$OBJ/app/*.o $OBJ/app/*/*.o" 'net/ links app/'
			check_links "$OBJ/app/shared/*.o" "$OBJ/app/*.o $OBJ/app/peer/*.o $OBJ/app/http/*.o $OBJ/app/cartctl/*.o" 'app/shared/ links a folder above it'
			check_links "$OBJ/app/peer/*.o" "$OBJ/app/*.o $OBJ/app/http/*.o $OBJ/app/cartctl/*.o" 'app/peer/ links a folder above it'
			check_links "$OBJ/app/http/*.o" "$OBJ/app/*.o $OBJ/app/cartctl/*.o" 'app/http/ links cartctl/ or config'
			check_links "$OBJ/app/cartctl/*.o" "$OBJ/app/*.o $OBJ/app/peer/*.o $OBJ/app/http/*.o" 'app/cartctl/ links the peer'
			check_links "$OBJ/app/http/*.o" "$(echo "$HTTP_PAST_NODE_OBJS" | sed "s|[^ ][^ ]*|$OBJ/&|g")" \
				'app/http/ reaches past node.h into the peer'
			check_pure_objects
		fi
	})
	if [ -n "$out" ]; then
		echo "$out"
		echo "layers: FAILED (DESIGN.md section 2: app -> net -> crdt; crdt/ and the engine do no I/O)"
		return 1
	fi
	echo "layers: ok (crdt/, net/ and app/'s folders point down only; crdt/ and the engine do no I/O)"
	return 0
}

self_test() {
	local objdir=$1 rc=0 name
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/cartd-layers.XXXXXX") || exit 1
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/src" "$tmp/obj"
	cp -r crdt net app "$tmp/src/"
	for d in crdt net app app/shared app/peer app/http app/cartctl; do
		mkdir -p "$tmp/obj/$d"
		cp "$objdir/$d"/*.o "$tmp/obj/$d/" 2>/dev/null
	done
	expect() {   # name, then what the run must do: pass or fail
		local out
		out=$(SRC="$tmp/src" OBJ="$tmp/obj" run_checks)
		local got=$?
		if { [ "$2" = fail ] && [ $got -eq 0 ]; } || { [ "$2" = pass ] && [ $got -ne 0 ]; }; then
			echo "layers self-test: $1: expected $2, got:"; echo "$out"; rc=1
		else
			echo "layers self-test: $1: ${2/%pass/passe}s as it should${out:+ (${out%%$'\n'*})}"
		fi
	}
	inject() {   # file, line to append
		cp "$tmp/src/$1" "$tmp/src/$1.orig"; printf '%s\n' "$2" >> "$tmp/src/$1"
	}
	restore() { mv "$tmp/src/$1.orig" "$tmp/src/$1"; }

	expect "clean tree" pass
	for name in 'crdt/cart.c|#include "net/engine.h"' 'crdt/store.h|#include "app/peer/node.h"' \
	            'net/wire.c|#include "app/shared/log.h"' 'net/push.c|#include <sys/socket.h>' \
	            'app/peer/db.c|#include "app/http/api.h"' \
	            'app/cartctl/cartctl_cmds.c|#include "app/peer/node.h"' \
	            'app/shared/log.c|#include "app/config.h"' \
	            'app/http/metrics.c|#include "net/engine.h"' \
	            'app/http/api_exec.c|#include "app/peer/committer.h"' \
	            'app/http/api_cluster.c|#include "crdt/store.h"' \
	            'net/swim.c|#include <time.h>' \
	            'net/ae.c|static long now_of(void) { return (long)time (0); }' \
	            'crdt/join.c|static void r(void *b) { randombytes_buf(b, 8); }'; do
		inject "${name%%|*}" "${name#*|}"
		expect "${name%%|*} + ${name#*|}" fail
		restore "${name%%|*}"
	done
	# Link level: an object in crdt/ that calls into app/, and one in the
	# engine that reads the clock, without any include to give it away.
	if [ -e "$objdir/app/peer/node.o" ]; then
		printf 'int node_new(void);\nint crdt_x(void) { return node_new(); }\n' > "$tmp/x.c"
		for d in crdt app/cartctl; do   # (an object counts when its source exists)
			${CC:-cc} -c -o "$tmp/obj/$d/x.o" "$tmp/x.c" && cp "$tmp/x.c" "$tmp/src/$d/x.c"
			expect "$d object calling node_new" fail
			rm -f "$tmp/obj/$d/x.o" "$tmp/src/$d/x.c"
		done
		${CC:-cc} -c -o "$tmp/obj/app/cartctl/x.o" "$tmp/x.c"
		expect "stale object without a source" pass
		rm -f "$tmp/obj/app/cartctl/x.o"
		# An HTTP object that asks the engine for its members itself.
		printf 'int engine_members(void);\nint http_x(void) { return engine_members(); }\n' > "$tmp/z.c"
		${CC:-cc} -c -o "$tmp/obj/app/http/z.o" "$tmp/z.c" && cp "$tmp/z.c" "$tmp/src/app/http/z.c"
		expect "app/http object calling engine_members" fail
		rm -f "$tmp/obj/app/http/z.o" "$tmp/src/app/http/z.c"
		printf 'long gettimeofday(void *, void *);\nlong eng_x(void) { return gettimeofday(0, 0); }\n' > "$tmp/y.c"
		${CC:-cc} -c -o "$tmp/obj/net/msg.o" "$tmp/y.c"
		expect "engine object calling gettimeofday" fail
	fi
	return $rc
}

if [ "${1:-}" = "--self-test" ]; then
	self_test "${2:?usage: $0 --self-test OBJDIR}"
	exit $?
fi
SRC=${1:-.}
OBJ=${2:-}
run_checks
