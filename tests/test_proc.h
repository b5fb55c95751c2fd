/*
 * test_proc.h - real cartd processes for the cluster suite: start on free
 * loopback ports with their own data dirs, talk HTTP to them, wait for
 * conditions with deadlines, stop them (SIGTERM or SIGKILL).
 *
 * Binaries come from $CARTD_BIN (the Makefile's check target sets it).
 * Every peer is started with PR_SET_PDEATHSIG, so when the test process
 * dies, whatever the reason (a failed assertion _exits a forked Check test,
 * a timeout kills it), its peers die with it; tp_cluster_destroy stops them
 * on the normal path.  Peers run with short protocol timers (TP_FAST_ARGS)
 * so partitions are noticed and healed in about a second.
 */
#ifndef TEST_PROC_H
#define TEST_PROC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "net/hostport.h"
#include "app/cartctl/cartctl_http.h"

#define TP_MAX_PEERS 8

typedef struct tp_peer {
	pid_t pid;                 /* 0 when not running */
	unsigned http_port, gossip_port;
	hostport_ip http;
	char name[16];
	char dir[256];             /* data dir */
	char log[256];
	char key[256];             /* keyring file it was started with */
	bool faults;               /* --enable-fault-injection */
	int seeds[TP_MAX_PEERS];   /* indexes of the peers it seeds from */
	int nseeds;
	char seed_addr[32];        /* a further --peer address, or "" */
} tp_peer;

typedef struct tp_cluster {
	char base[128];            /* temporary directory of this cluster */
	char key[256];             /* the shared keyring */
	tp_peer peers[TP_MAX_PEERS];
	int n;
	const char *const *extra_args;  /* more cartd flags for every peer, NULL-ended */
} tp_cluster;

/* True (and a note printed once) when CARTD_TEST_SCALE=valgrind. */
bool tp_light(void);
/* True when the peers are sanitizer builds (make sanitize sets
 * CARTD_TEST_SANITIZED=1): ASan holds freed memory in its quarantine, so
 * a peer's RSS then says nothing about what the peer keeps. */
bool tp_sanitized(void);
/* The cartd binary, or NULL (and a note printed) when it cannot be found. */
const char *tp_cartd(void);

/* Creates base (a new directory under parent) and a fresh shared keyring.
 * Asserts. */
void tp_cluster_init(tp_cluster *c, const char *parent);
/* Stops every peer still running with SIGTERM (SIGKILL after 10 s),
 * removes base, then asserts each exited with status 0: a clean shutdown,
 * and under the sanitizers a run free of leaks and errors. */
void tp_cluster_destroy(tp_cluster *c);

/* Writes another fresh keyring to path.  Asserts. */
void tp_keygen(const char *path);

/*
 * Adds peer number c->n (seeded from every earlier peer), picks free ports
 * and starts it; waits until /health answers.  key NULL = the shared key.
 * Returns its index.  Asserts (with the peer's log) on failure.
 */
int tp_add_peer(tp_cluster *c, bool faults, const char *key);
/* Adds a peer seeded from addr ("host:port", NULL for none) instead of
 * the earlier peers: a peer that knows the cluster only through a relay,
 * or a lone one.  Returns its index.  Asserts. */
int tp_add_peer_via(tp_cluster *c, const char *addr);
/* Starts peer i again with the same ports, data dir and key. */
void tp_restart(tp_cluster *c, int i);
/* Sends sig (SIGTERM or SIGKILL) and reaps the process; asserts it ended
 * (a SIGTERM must end in exit status 0 within 10 s). */
void tp_stop(tp_cluster *c, int i, int sig);

/* One HTTP request to peer i; asserts the transport worked. */
void tp_http(tp_cluster *c, int i, const ctl_http_request *req, ctl_http_response *res);
/* JSON request: status into *status; returns the parsed body (caller
 * decrefs) or asserts it is JSON. */
json_t *tp_json(tp_cluster *c, int i, const char *method, const char *target,
                const char *body, int *status);

/* A JSON request whose answer is not needed: returns the status. */
int tp_write(tp_cluster *c, int i, const char *method, const char *target, const char *body);
/* POST /carts/cart/items {"sku","qty"}; asserts a 200. */
void tp_add(tp_cluster *c, int i, const char *cart, const char *sku, int qty);
/* The token of a GET /carts/cart at peer i (heap; the caller frees). */
char *tp_token(tp_cluster *c, int i, const char *cart);
/* A cart's items as "sku:qty,sku:qty" (sorted as served) into buf. */
void tp_items(tp_cluster *c, int i, const char *cart, char *buf, size_t cap);
/* Polls until peer i shows cart with exactly want (tp_items format) or the
 * deadline passes; returns whether it did and leaves the last seen value
 * in seen. */
bool tp_wait_items(tp_cluster *c, int i, const char *cart, const char *want, int timeout_ms,
                   char *seen, size_t cap);
/* tp_wait_items that fails the test, printing what was seen. */
void tp_expect_items(tp_cluster *c, int i, const char *cart, const char *want, int timeout_ms);
/* Value of one Prometheus sample ("name{labels}" exactly as printed), or
 * -1 when absent. */
double tp_metric(tp_cluster *c, int i, const char *sample);

/* Milliseconds since an arbitrary start (monotonic). */
long long tp_now_ms(void);
void tp_sleep_ms(int ms);

#endif
