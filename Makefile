# cartd - top-level build.
#
#   make            build libraries, cartd and cartctl into build/
#   make test       build and run every Check suite (one runner, one summary)
#   make check      the same without installing packages; first `make layers`
#   make layers     check the layering rules on sources and objects
#   make layers-selftest   prove `make layers` catches an injected violation
#   make sanitize   the same tests under ASan+UBSan (separate build dir)
#   make valgrind   the test runner under valgrind memcheck
#   make fuzz       libFuzzer harnesses (clang); FUZZ_SECONDS per harness
#   make bench      benchmarks (not tests): tables on stdout, CSV under bench/out
#   make demo       build and run the three-peer demo cluster
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean
#
# Layers depend one way: app -> net -> crdt, and inside app/ cartd's main
# and config -> http/ -> peer/ -> shared/, cartctl/ -> shared/ (see
# scripts/check_layers.sh).  crdt/, net/ and app/ (with its folders) each
# become a static library; files named *_main.c are programs.  Quiet unless V=1;
# WERROR=1 turns warnings into errors (CI sets it).

SHELL    := /bin/bash
CC       ?= cc
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
SANITIZE ?=
WERROR   ?=
FUZZ_SECONDS ?= 20

PKGS     := libsodium zlib libdeflate libevent jansson lmdb
WARN     := -Wall -Wextra -Wstrict-prototypes -Wwrite-strings -Wmissing-prototypes \
            -Wshadow -Wpointer-arith -Wcast-align -Wformat=2 -Wvla
ifneq ($(WERROR),)
WARN     += -Werror
endif
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -pthread $(WARN) -MMD -MP -I. \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm

BUILD    := build
ifneq ($(SANITIZE),)
BUILD    := build-san
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

CRDT_SRC := $(wildcard crdt/*.c)
NET_SRC  := $(wildcard net/*.c)
APP_SRC  := $(filter-out %_main.c,$(wildcard app/*.c app/*/*.c))
TEST_SRC := $(wildcard tests/*.c)
BENCH_SRC:= $(filter-out bench/bench_common.c,$(wildcard bench/bench_*.c))

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

LIBCRDT  := $(BUILD)/libcrdt.a
LIBNET   := $(BUILD)/libnet.a
LIBAPP   := $(BUILD)/libapp.a
LIBS     := $(LIBAPP) $(LIBNET) $(LIBCRDT)
PROGS    := $(if $(wildcard app/cartd_main.c),$(BUILD)/cartd) $(if $(wildcard app/cartctl/cartctl_main.c),$(BUILD)/cartctl)
RUNNER   := $(BUILD)/tests/check_runner
BENCHES  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
SUITES   := $(patsubst tests/check_%.c,%,$(filter-out tests/check_main.c,$(filter tests/check_%.c,$(TEST_SRC))))

.PHONY: all check layers layers-selftest test sanitize valgrind fuzz bench bench-run demo install clean deps
all: $(PROGS)

# The targets a new user runs install what they need first (scripts/deps.sh
# only calls apt-get for missing packages), then re-enter make so that
# pkg-config sees the freshly installed libraries.
deps:
	$(Q)scripts/deps.sh all

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(LIBCRDT): $(call obj,$(CRDT_SRC))
$(LIBNET):  $(call obj,$(NET_SRC))
$(LIBAPP):  $(call obj,$(APP_SRC))
$(BUILD)/lib%.a:
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/cartd: $(BUILD)/app/cartd_main.o $(LIBS)
$(BUILD)/cartctl: $(BUILD)/app/cartctl/cartctl_main.o $(LIBS)
$(PROGS):
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The runner learns its suites from the file names: tests/check_foo.c must
# define Suite *foo_suite(void).
$(BUILD)/tests/suites.inc: $(filter tests/check_%.c,$(TEST_SRC)) Makefile
	@mkdir -p $(dir $@)
	$(Q)printf 'SUITE(%s)\n' $(SUITES) > $@.tmp && mv $@.tmp $@
$(BUILD)/tests/check_main.o: $(BUILD)/tests/suites.inc
$(BUILD)/tests/check_main.o: CFLAGS += -I$(BUILD)/tests
# --wrap: allocation failure injection (tests/test_alloc.h).
$(RUNNER): $(call obj,$(TEST_SRC)) $(LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc -o $@ $^ $(LDLIBS) \
	  $(shell pkg-config --libs check)

# The builds behind test and sanitize use every core (the test runner itself
# is one process).
NPROC    := $(shell nproc 2>/dev/null || echo 1)
test:
	$(Q)scripts/deps.sh test
	$(Q)$(MAKE) --no-print-directory -j$(NPROC) check

# Layering (DESIGN.md section 2), on the sources and on the objects: crdt/
# uses nothing of net/ or app/, net/ nothing of app/, and crdt/ and the
# engine no socket, clock or randomness.  Prints each violation.
layers: $(LIBS)
	$(Q)scripts/check_layers.sh . $(BUILD)
layers-selftest: $(LIBS)
	$(Q)CC=$(CC) scripts/check_layers.sh --self-test $(BUILD)

check: layers $(RUNNER) $(PROGS)
	$(Q)CARTD_BIN=$(abspath $(BUILD)) $(RUNNER)

sanitize:
	$(Q)scripts/deps.sh test
	$(Q)CARTD_SIM_SCHEDULES=$${CARTD_SIM_SCHEDULES:-60} CARTD_TEST_SANITIZED=1 \
	  CARTD_TEST_SCALE=$${CARTD_TEST_SCALE:-sanitize} \
	  $(MAKE) --no-print-directory -j$(NPROC) SANITIZE=address,undefined check

valgrind: $(RUNNER) $(PROGS)
	$(Q)CK_FORK=no CARTD_BIN=$(abspath $(BUILD)) CARTD_TEST_SCALE=valgrind \
	  valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	  --quiet $(RUNNER)

# libFuzzer harnesses: tests/fuzz/fuzz_*.c, built with clang against the
# library sources directly so that the whole decoder is instrumented.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
FUZZ_SAN    := address,undefined
# UBSan aborts on its first report, so that undefined behaviour stops the
# fuzzer with a crash file like any other bug instead of scrolling past.
# libevent for the connection harness: http_conn runs on a libevent loop.
# Every harness links every object, so every harness links it.
FUZZ_PKGS   := libsodium zlib libdeflate libevent
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -I. -MMD -MP -fsanitize=fuzzer-no-link,$(FUZZ_SAN) \
               -fno-sanitize-recover=undefined $(if $(WERROR),-Werror) \
               $(shell pkg-config --cflags $(FUZZ_PKGS) 2>/dev/null)
# The context-token decoder of the HTTP API reads untrusted bytes too, the
# request parser every byte a client sends, the connection around it how
# those bytes arrive (with the answer heads it renders), and the
# write-ahead log reader whatever a crash left on disk.
FUZZ_APP := app/peer/token.c app/peer/b64url.c app/http/http_parse.c \
            app/http/http_conn.c app/http/http_reply.c app/peer/wal.c
# The library sources are compiled once for all harnesses (instrumented for
# coverage, not linked with libFuzzer's main); each harness links them.
FUZZ_OBJ := $(patsubst %.c,build-fuzz/obj/%.o,$(CRDT_SRC) $(NET_SRC) $(FUZZ_APP))
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)clang $(FUZZ_CFLAGS) -c -o $@ $<
build-fuzz/fuzz_%: build-fuzz/obj/tests/fuzz/fuzz_%.o $(FUZZ_OBJ)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)clang -fsanitize=fuzzer,$(FUZZ_SAN) -fno-sanitize-recover=undefined -o $@ $^ $(shell pkg-config --libs $(FUZZ_PKGS)) -lm
-include $(FUZZ_OBJ:.o=.d) $(patsubst tests/fuzz/%.c,build-fuzz/obj/tests/fuzz/%.d,$(FUZZ_SRC))
# A harness may come with a dictionary (tests/fuzz/NAME.dict) and seed
# inputs (tests/fuzz/corpus/NAME/, read only: new inputs go to build-fuzz).
fuzz: $(FUZZ_BIN)
	$(Q)for f in $(FUZZ_BIN); do \
	  n=$$(basename $$f); mkdir -p build-fuzz/corpus-$$n; \
	  opts=; test -f tests/fuzz/$$n.dict && opts="-dict=tests/fuzz/$$n.dict"; \
	  seeds=; test -d tests/fuzz/corpus/$$n && seeds=tests/fuzz/corpus/$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$opts \
	    build-fuzz/corpus-$$n $$seeds 2>&1 \
	    | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' || true; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/bench/bench_common.o $(LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# bench_httplib: one server per HTTP library, in bench/httplib/; h2o only
# where libh2o-evloop is installed (the program then says "h2o: not built").
HTTPLIB_SRC := $(wildcard bench/httplib/*.c)
H2O_LIBS := $(shell pkg-config --libs libh2o-evloop 2>/dev/null)
$(BUILD)/bench/bench_httplib: $(call obj,$(HTTPLIB_SRC))
MHD_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null)
# The libraries again after the httplib objects: cartd.o needs libapp.
$(BUILD)/bench/bench_httplib: LDLIBS := $(LIBS) $(LDLIBS) $(H2O_LIBS) $(MHD_LIBS)
$(BUILD)/bench/httplib/mhd.o: CFLAGS += $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
$(BUILD)/bench/httplib/h2o.o: CFLAGS += $(if $(H2O_LIBS),-DBENCH_HAVE_H2O)

bench:
	$(Q)scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory bench-run
bench-run: $(BENCHES) $(PROGS)
	$(Q)BUILD=$(BUILD) bench/run.sh

demo:
	$(Q)scripts/deps.sh build
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh $(BUILD)

install: $(PROGS)
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(PROGS) $(DESTDIR)$(BINDIR)

clean:
	rm -rf build build-san build-fuzz bench/out

.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
