/*
 * node_views.h - what the HTTP layer reads of a peer: read models filled by
 * the node, so that app/http/ renders carts, /cluster, /health and /metrics
 * without holding the engine, the wire, the committer or the store.
 *
 * Three of them: a cart with its read token (GET /carts and the answer to a
 * write), a snapshot of the member table, and every counter of the peer in
 * one struct.  They are plain values, or read-only pointers whose lifetime
 * each function states.  The counters of the engine, the wire and the
 * committer come as those modules' own stats structs, copied: the types are
 * data, and copying them keeps one list of fields, not two.
 *
 * Included by node.h; everything here runs on the loop thread, like the
 * rest of the node.
 */
#ifndef APP_NODE_VIEWS_H
#define APP_NODE_VIEWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/peer/committer.h"
#include "app/peer/fault.h"
#include "crdt/cart.h"
#include "net/engine.h"
#include "net/wire.h"

typedef struct node node;

/* ---- a cart as a client reads it ---- */

/*
 * Cart id as this peer holds it now (read-only), or NULL when it holds no
 * such cart (a cart never written here reads as empty).  The pointer is
 * valid until the store next changes: use it before returning to the loop,
 * and before any node_write.
 */
const crdt_cart *node_cart(const node *n, const crdt_id *id);

/* A cart and the read token issued for that same state. */
/* Tokens up to this many characters (NUL included) live in the view. */
#define NODE_VIEW_TOKEN_ROOM 160u

typedef struct node_cart_view {
	const crdt_cart *cart;   /* as node_cart(), with its lifetime; NULL = empty */
	char *token;             /* NUL-terminated base64url (app/peer/token.h): in
	                            token_room, or owned on the heap; so a view is
	                            not copied, only read where it was filled */
	char token_room[NODE_VIEW_TOKEN_ROOM];
} node_cart_view;

/*
 * Fills out (caller-owned) with cart id and its token: the token covers what
 * this peer holds of the cart leaving out its own writes that are not yet
 * durable (engine_token_ctx), sealed with the keyring's current token key,
 * so a remove or clear under it takes only what was read, and never a dot a
 * crash could make this peer hand out again.  0 or CARTD_ENOMEM; on error
 * out->cart and out->token are NULL.  Release with node_cart_view_destroy,
 * which frees the token (NULL-safe, idempotent).
 */
int node_cart_view_get(const node *n, const crdt_id *id, node_cart_view *out);
void node_cart_view_destroy(node_cart_view *v);

/* ---- the member table ---- */

#define NODE_ADDR_STRLEN 64u   /* host:port, NUL included (node_format_addr) */

/* One member as the engine knows it (engine_member_info), with its address
 * formatted. */
typedef struct node_member {
	uint64_t id;                   /* 0 while only the address is known (a seed) */
	engine_addr addr;              /* the engine's form: what fault blocking takes */
	char addr_text[NODE_ADDR_STRLEN];  /* host:port */
	enum engine_member_state state;
	bool verified;                 /* the address answered our challenge */
	uint64_t incarnation;
	uint64_t last_heard_ms;        /* loop clock (node_now_ms); 0 = never */
	uint64_t last_sync_ms;         /* last anti-entropy round that found no
	                                  difference; 0 = never */
	uint32_t differing_buckets;    /* from the last round with it */
} node_member;

typedef struct node_members {
	node_member *v;                /* n of them, heap, owned */
	size_t n;
	uint64_t now_ms;               /* node_now_ms when taken, to age the times by */
} node_members;

/*
 * Fills out (caller-owned) with every member in the engine's table, in its
 * order.  0 or CARTD_ENOMEM (out->v NULL, out->n 0).  The snapshot does not
 * change as the loop runs; node_members_destroy frees it (NULL-safe,
 * idempotent).
 */
int node_members_get(const node *n, node_members *out);
void node_members_destroy(node_members *m);

/* "alive", "suspect", "dead" (static strings), or "unknown". */
const char *node_member_state_name(enum engine_member_state s);

/* ---- counters ---- */

/* Latency histogram of write acknowledgements (submit to durable): counts
 * per upper bound in seconds, cumulative like Prometheus. */
#define NODE_LAT_BUCKETS 12
typedef struct node_latency {
	double le[NODE_LAT_BUCKETS];      /* upper bounds, seconds; last is +Inf */
	uint64_t count[NODE_LAT_BUCKETS]; /* cumulative */
	double sum;
	uint64_t total;
} node_latency;

/* Counters of the peer's own plumbing since node_new.  Gauges say so;
 * everything else only grows. */
typedef struct node_counters {
	uint64_t udp_rx_dgrams, udp_rx_bytes;  /* delivered to the engine */
	uint64_t udp_rx_truncated;    /* longer than --max-datagram: dropped */
	uint64_t udp_rx_badaddr, udp_rx_errors;
	uint64_t udp_tx_dgrams, udp_tx_bytes;
	uint64_t udp_tx_dropped;      /* socket buffer full (EAGAIN): dropped */
	uint64_t udp_tx_errors;
	uint64_t persist_submitted;   /* replicated carts handed to the committer */
	uint64_t persist_failed;      /* ... whose commit failed (retried) */
	uint64_t persist_lost;        /* not even queued for retry (no memory) */
	uint64_t persist_waiting;     /* gauge: replicated carts not yet submitted */
	uint64_t write_commit_failed; /* local write commits that failed (retried) */
	uint64_t writes_inflight;     /* gauge: local writes in the committer */
	uint64_t writes_waiting;      /* gauge: applied, waiting to be submitted */
	uint64_t fault_held;          /* gauge: datagrams held by an injected delay */
} node_counters;

/* Everything /metrics, /cluster and /health report, taken at one moment. */
typedef struct node_stats {
	engine_stats engine;          /* replication, membership counts, decode rejections */
	wire_stats wire;              /* sealing, wire bytes, rejections by cause */
	committer_stats committer;    /* group commit */
	node_counters node;           /* socket, persistence, write queues */
	node_latency latency;         /* write acknowledgements */
	bool faults_enabled;          /* started with fault injection */
	fault_state faults;           /* its settings and counters; all zero unless enabled */
	uint64_t carts;               /* carts held */
	uint32_t buckets;             /* digest buckets */
	uint64_t digest;              /* XOR of the bucket digests: equal on peers whose
	                                 carts are equal */
} node_stats;

/* Fills out (caller-owned; a few KiB, no pointers into the node). */
void node_stats_get(const node *n, node_stats *out);

#endif
