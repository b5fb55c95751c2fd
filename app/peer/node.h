/*
 * node.h - one cartd peer: the store, its durability, the replication
 * engine, the UDP socket and the timers, on one libevent loop.
 *
 * The HTTP layer (app/http/http.h) talks to the peer only through this header
 * and the read models it includes (app/peer/node_views.h): it never holds
 * the engine, the wire, the committer or the store.  Everything here runs
 * on the loop thread.
 *
 * Write path: node_write marks the cart as holding a non-durable write and
 * applies the operation to the in-memory store, in that order and in one
 * call (engine_local_write), submits the cart's new state to the group
 * committer, and calls the caller back once
 * the record is synced; only then is the delta handed to the engine for
 * push.  So an acknowledged write is on disk, and no dot leaves the peer
 * before it is.  Before applying, node_write checks that the committer has
 * room, so a write refused for back-pressure (CARTD_ENOSPC) changes nothing.
 */
#ifndef APP_NODE_H
#define APP_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "app/peer/fault.h"
#include "app/peer/node_views.h"
#include "crdt/cart.h"
#include "crdt/context.h"
#include "net/engine.h"

typedef struct node node;

typedef struct node_config {
	const char *name;           /* peer name for logs (default: the gossip address) */
	const char *data_dir;       /* required */
	const char *key_file;       /* required: keyring file */
	const char *cluster;        /* cluster name (default "cartd") */
	const char *gossip_addr;    /* host:port to bind UDP (default 127.0.0.1:7946) */
	const char **peers;         /* host:port seeds, npeers of them */
	size_t npeers;
	bool sync;                  /* fsync commits (default true) */
	bool fault_injection;       /* enable the fault admin route */
	size_t max_datagram;        /* default WIRE_MAX_DATAGRAM_DEFAULT */
	uint32_t nbuckets;          /* default CRDT_DEFAULT_BUCKETS; same on all peers */
	int deflate_level;          /* 0 (never) ..9; default WIRE_DEFLATE_LEVEL_DEFAULT */
	size_t max_pending;         /* committer bound in records (default
	                               COMMITTER_DEFAULT_MAX_RECORDS) */
	size_t wal_size;            /* log bytes per generation before a fold
	                               (default COMMITTER_DEFAULT_WAL_ROTATE) */
	size_t udp_sockbuf;         /* SO_RCVBUF/SO_SNDBUF wanted (default 4 MiB) */
	uint64_t fault_seed;        /* fault injection randomness; 0 = random */
	uint32_t idem_window_s;     /* idempotency records kept at least this long
	                               (IDEM_WINDOW_MIN_S..IDEM_WINDOW_MAX_S, default
	                               IDEM_WINDOW_DEFAULT_S; app/shared/idem.h) */
	engine_config engine;       /* timers etc.; ids and seed filled in by node_new */
} node_config;

/* Fills cfg with defaults (engine_config_init included). */
void node_config_init(node_config *cfg);

/*
 * Opens the data dir (new replica id on a new dir, boot epoch + 1), loads
 * every cart, reads the keyring, binds the UDP socket and registers its
 * events on base (borrowed).  Errors: CARTD_ECONFIG, CARTD_EDATADIR,
 * CARTD_ESTORAGE, CARTD_EKEYRING, negative errno (socket); a message is
 * logged.  On failure *out = NULL.
 */
int node_new(const node_config *cfg, struct event_base *base, node **out);

/*
 * Starts a clean shutdown: later node_write calls fail with CARTD_ESHUTDOWN,
 * everything queued is committed (blocks for the final sync), and every
 * outstanding write's done callback runs now, with 0 if it became durable
 * or an error.  Gossip keeps running, so the loop may turn a little longer
 * to push the last deltas and let HTTP answer.  Idempotent.
 */
void node_shutdown(node *n);

/* Commits what is queued (as node_shutdown, but without calling any done
 * callback: their owner may be gone by now, so call node_shutdown first to
 * have them answered), then stops gossip and timers, frees the engine,
 * closes the socket and LMDB.  NULL-safe. */
void node_free(node *n);

/* Reloads the keyring file (SIGHUP).  0 or CARTD_EKEYRING (old ring kept). */
int node_reload_keys(node *n);

/* Who this peer is; the strings are valid until node_free. */
uint64_t node_self_id(const node *n);
uint32_t node_boot_epoch(const node *n);
const char *node_name(const node *n);
const char *node_gossip_addr(const node *n);  /* bound address, host:port */

/*
 * The context a client's read token (app/peer/token.h; issued with
 * node_cart_view_get) covers for cart id, opened with the keyring's token
 * keys, into out (initialised, replaced): 0 or token_open's errors.
 */
int node_token_open(node *n, const crdt_id *id, const char *tok, size_t tok_len,
                    crdt_ctx *out);

/* Formats an engine address as host:port into buf (NODE_ADDR_STRLEN bytes
 * always suffice). */
void node_format_addr(const engine_addr *a, char *buf, size_t len);

/*
 * Fault injection (app/peer/fault.h), present only when the node was
 * started with node_config.fault_injection.
 *
 * node_faults_view: the settings and counters now, read-only, or NULL when
 * fault injection is off.  Valid until node_free; the counters move as
 * datagrams pass, so copy what must hold still.
 *
 * node_faults_set: makes the settings of f (rates, delays, blocked peers)
 * the node's, all or nothing; the counters and the random state stay the
 * node's own.  Build f from a copy of the view with fault.h's setters.
 * 0, CARTD_EINVAL or CARTD_ENOSPC as those setters (a setting out of range,
 * too many blocked peers: nothing changes), or CARTD_ENOTFOUND when fault
 * injection is off.
 */
const fault_state *node_faults_view(const node *n);
int node_faults_set(node *n, const fault_state *f);

/*
 * Applies op to cart id and calls done(arg, rc, delta) once the write is
 * durable (rc = 0) or failed durably (rc < 0, e.g. CARTD_ESTORAGE).  delta
 * is what the write changed (for a checkout, it holds the new close
 * marker), valid only during the call; NULL unless rc is 0.  Returns 0
 * when done will be called, or an error now, in which case nothing changed
 * and done is not called: CARTD_ESKU, CARTD_EQTY, CARTD_ELINES,
 * CARTD_ELINEFULL, CARTD_ETOKENFUTURE, CARTD_ECOUNTER, CARTD_EKEYREUSED,
 * CARTD_ECLOSED, CARTD_ETOKENAHEAD, CARTD_EEMPTYCART (crdt_cart_apply),
 * CARTD_ENOSPC (committer full: retry later), CARTD_ESHUTDOWN,
 * CARTD_ENOMEM.  A write that changes nothing (removing an absent sku)
 * still completes through done, after the current batch, so
 * acknowledgements stay ordered.
 *
 * A keyed write (op->key) that crdt_cart_apply finds already made
 * (CARTD_EIDEMPOTENT) is a replay: nothing is applied, and it completes
 * through done like a write that changed nothing, with rc =
 * CARTD_EIDEMPOTENT (and no delta) once durable, so the caller answers the
 * replay.  It is answered only after every write of the cart that was
 * applied before it is durable (the first attempt, if made at this peer,
 * among them): a replay never confirms what a crash could still lose.
 *
 * A write whose commit fails (disk error) is reported through done with the
 * error, but it cannot be undone in memory: it stays visible in local reads
 * and the node keeps re-submitting the cart in the background (backing off
 * up to a second); its delta is pushed only once a commit succeeds, so even
 * then nothing leaves the peer before it is durable.
 */
typedef void (*node_done_fn)(void *arg, int rc, const crdt_cart *delta);
int node_write(node *n, const crdt_id *id, const crdt_op *op, node_done_fn done, void *arg);

/* Milliseconds on the loop's monotonic clock (what the engine sees). */
uint64_t node_now_ms(const node *n);

/* Milliseconds since the Unix epoch: the time written into idempotency
 * records and checkouts (crdt_keyrec.at_ms, crdt_close.at_ms), which other
 * peers compare, so it must be a clock they share. */
uint64_t node_wall_ms(const node *n);
/* How long this peer keeps an idempotency record (--idempotency-window),
 * in milliseconds. */
uint64_t node_idem_window_ms(const node *n);

#endif
