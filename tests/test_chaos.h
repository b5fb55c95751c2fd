/*
 * test_chaos.h - helpers of the chaos suite (check_chaos.c): a client-side
 * write load whose every answer is recorded, the checks that compare what
 * the clients were told with what the peers hold, convergence waits, a
 * command runner for the user scripts, and a private network namespace for
 * the nftables partition tests.
 *
 * The load is the ground truth of the suite.  Each write adds quantity 1 of
 * a sku written by nobody else (thread t's k-th write is sku "s<k>" of cart
 * "<prefix>-t<t>-<k / TC_PER_CART>"), and its outcome is recorded from the
 * client's side:
 *   acked     HTTP 200: durable at the peer; must never be lost
 *   refused   the TCP connect was refused: never reached a peer; must never
 *             appear
 *   unknown   the connection broke or timed out after it was made (the peer
 *             was killed meanwhile): may or may not appear
 *   rejected  any other HTTP answer: nothing applied (the API's promise);
 *             must never appear, and the tests expect none at all
 * So after the chaos every peer must hold every acked sku with quantity
 * exactly 1, and no sku that was not acked or unknown.  Skus starting with
 * 'x' are the tests' own writes to the load's carts and are not checked.
 */
#ifndef TEST_CHAOS_H
#define TEST_CHAOS_H

#include <stdbool.h>
#include <stddef.h>

#include "tests/test_proc.h"

#define TC_MAX_THREADS 16
#define TC_PER_CART 400         /* writes per cart: well under the 1000-line limit */

enum tc_outcome { TC_NONE, TC_ACKED, TC_REFUSED, TC_UNKNOWN, TC_REJECTED };

typedef struct tc_load tc_load;

/*
 * Starts nthreads writer threads (1..TC_MAX_THREADS), each making at most
 * max_writes adds; write k of thread t goes to peer targets[(t + k) %
 * ntargets] of c.  Cart ids start with prefix (at most 24 characters).
 * The threads never assert: they only record.  Asserts on set-up failure.
 */
tc_load *tc_load_start(tp_cluster *c, const int *targets, int ntargets, int nthreads,
                       int max_writes, const char *prefix);
/* Stops the threads (each finishes the write it is in) and joins them. */
void tc_load_stop(tc_load *l);
void tc_load_free(tc_load *l);   /* stops first if still running; NULL-safe */

/* Number of writes with that outcome so far (any thread). */
long tc_load_count(const tc_load *l, enum tc_outcome o);
/* Polls until at least n writes are acked; false (after printing the
 * counts) if the deadline passes first. */
bool tc_load_wait_acked(const tc_load *l, long n, int timeout_ms);
/* One line of counts, for progress and failure messages. */
void tc_load_describe(const tc_load *l, char *buf, size_t cap);
/* The first rejected answer ("" when none), for failure messages. */
const char *tc_load_first_reject(const tc_load *l);

/*
 * Reads every cart of the (stopped) load at peer i and compares it with the
 * record: every acked sku present with quantity 1, nothing present that was
 * refused, rejected or never tried.  Returns the number of violations and
 * describes the first few in report.
 */
int tc_load_verify(const tc_load *l, tp_cluster *c, int i, char *report, size_t cap);

/*
 * Are the running peers of c identical: same root digest in /cluster and
 * byte-identical GET answers (items and token) for every cart in carts
 * (NULL-terminated) and every cart of load l (either may be NULL)?  On false
 * the first difference is in diff.
 */
bool tc_identical(tp_cluster *c, const tc_load *l, const char *const *carts, char *diff,
                  size_t cap);
/* Polls tc_identical until true or the deadline; asserts with the last
 * difference seen. */
void tc_wait_identical(tp_cluster *c, const tc_load *l, const char *const *carts,
                       int timeout_ms);

/* Peer i's boot epoch (from /health). */
long long tc_epoch(tp_cluster *c, int i);
/* Peer i's view of the member whose gossip port is port: "alive",
 * "suspect", "dead" or "absent", into state. */
void tc_member_state(tp_cluster *c, int i, unsigned port, char *state, size_t cap);
/* Polls until peer i sees the member at port in state want; asserts with
 * what it saw. */
void tc_wait_member_state(tp_cluster *c, int i, unsigned port, const char *want,
                          int timeout_ms);

/*
 * Runs argv (argv[0] looked up in PATH) with stdout and stderr into out
 * (NUL-terminated, cut at cap) and the environment plus the NAME=VALUE
 * strings of env (NULL-terminated, may be NULL).  Returns the exit status,
 * or 128 + signal, or -1 if it could not be run.  Bounded: killed after
 * timeout_ms.
 */
int tc_run(const char *const *argv, const char *const *env, char *out, size_t cap,
           int timeout_ms);

/* Directory of the user scripts: $CARTD_SCRIPTS, else the scripts/ beside
 * $CARTD_BIN's build directory, else "scripts". */
const char *tc_scripts_dir(void);

/* Writes c's peers as DIR/cluster.env in the format of `cartctl cluster
 * up` (peers numbered from 1), so the scripts can drive a test cluster. */
void tc_write_cluster_env(const tp_cluster *c);

/*
 * Whether nftables partitions can run here: root, an nft command, Check's
 * fork mode, and a private network namespace in which nft accepts a table.
 * Probed in a child process, so nothing of the probe stays behind.  On
 * false, why is in reason.
 */
bool tc_nft_usable(char *reason, size_t cap);
/* Moves the calling (forked test) process into a new network namespace
 * with loopback up.  Peers started afterwards live in it; the namespace,
 * its nftables rules included, vanishes when the test process and its
 * peers have exited, whatever the way.  Asserts. */
void tc_enter_netns(void);

#endif
