/*
 * node_internal.h - the state of a cartd peer, shared by the files that
 * implement node.h:
 *
 *   node.c        lifecycle, getters, shutdown
 *   node_keys.c   reading the keyring file (start-up and SIGHUP)
 *   node_io.c     UDP receive and send, the engine timer, member events
 *   node_drops.c  rate-limited log lines for datagrams dropped on receipt
 *   node_write.c  the local write path, commit completions, persist retries
 *   node_commit.c the committer on the loop: its fd, the retry timer,
 *                 persisting carts that replication changed
 *   node_fault.c  fault injection: delayed datagrams, peer ids by address
 *   node_idset.c  a set of cart ids (carts waiting to be persisted)
 *   node_idfifo.c a FIFO of cart ids (replicated changes in the committer)
 *   node_token.c  issuing and opening read tokens
 *   node_views.c  the read models of node_views.h
 *
 * Not part of the API.  Everything runs on the loop thread.
 */
#ifndef APP_NODE_INTERNAL_H
#define APP_NODE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/peer/committer.h"
#include "app/peer/db.h"
#include "app/peer/fault.h"
#include "app/peer/node.h"
#include "crdt/cart.h"
#include "net/reject.h"
#include "net/udp.h"

/* A set of cart ids: open addressing with tombstones; ids are copied. */
typedef struct idset {
	char **slots;
	size_t cap, n, tombs;
} idset;

/* 0 or CARTD_ENOMEM; adding a present id changes nothing. */
int idset_add(idset *s, const char *id, size_t len);
/* Offers every id to fn: IDSET_DONE removes it, IDSET_KEEP keeps it,
 * IDSET_STOP keeps it and ends the walk.  fn must not touch the set. */
enum { IDSET_DONE, IDSET_KEEP, IDSET_STOP };
typedef int (*idset_fn)(void *arg, const char *id, size_t len);
void idset_drain(idset *s, idset_fn fn, void *arg);
void idset_destroy(idset *s);

/* A FIFO of cart ids (1..CRDT_MAX_NAME bytes each). */
typedef struct idfifo {
	uint8_t *buf;
	size_t cap, head, tail;     /* live entries in buf[head..tail) */
	size_t n;                   /* entries */
} idfifo;
/* Room for one id of len bytes: 0 or CARTD_ENOMEM.  A push after it
 * cannot fail. */
int idfifo_reserve(idfifo *q, size_t len);
void idfifo_push(idfifo *q, const char *id, size_t len);
/* Takes the oldest id into out (CRDT_MAX_NAME + 1 bytes, NUL-terminated);
 * returns its length, 0 when empty. */
size_t idfifo_pop(idfifo *q, char *out);
void idfifo_destroy(idfifo *q);

/* A local write between node_write and its durable commit. */
typedef struct pending_write {
	struct pending_write *prev, *next;
	node_done_fn done;          /* NULL once the caller has been answered */
	void *arg;
	crdt_cart delta;            /* pushed once durable */
	uint64_t start_ns;          /* node_write call, for the latency histogram */
	uint64_t retry_at_ms;       /* waiting: not before this */
	uint32_t backoff_ms;        /* after a failed commit */
	bool submitted;             /* in the committer (else waiting to be) */
	bool replay;                /* a keyed write already made: nothing applied,
	                               answered CARTD_EIDEMPOTENT once durable */
	uint64_t seq;               /* order in which node_write applied it */
	uint64_t id_hash;           /* the cart id: its crdt_id's hash, length */
	uint8_t id_len;
	char id[CRDT_MAX_NAME + 1]; /* and bytes, NUL-terminated for the logs */
} pending_write;

typedef struct write_list {
	pending_write *head, *tail;
	size_t n;
} write_list;

/* Rate limit of the drop log lines (node_drops.c): one line per kind of
 * drop, a cause or a decode reason, per NODE_DROP_LOG_MS. */
#define NODE_DROP_LOG_MS 10000u
#define NODE_DROP_CAUSES 17u
#define NODE_DROP_KINDS (NODE_DROP_CAUSES + REJECT_ROWS * REJECT_NFIELDS)
typedef struct drop_log {
	uint64_t last_ms[NODE_DROP_KINDS];
	uint64_t suppressed[NODE_DROP_KINDS];   /* drops not logged since */
	bool logged[NODE_DROP_KINDS];
	uint64_t seen_truncated, seen_badaddr;  /* socket counters already seen */
} drop_log;

/* A datagram held back by an injected delay. */
typedef struct delayed_dgram delayed_dgram;

/* Last known replica id per address, from member events (faults only). */
typedef struct addr_id {
	engine_addr addr;
	uint64_t id;
} addr_id;

struct node {
	struct event_base *base;
	char *name;
	char *key_file;
	char gossip[UDP_ADDRSTR_MAX];
	uint64_t self_id;          /* peer id, from the keyring identity */
	uint64_t replica_id;       /* dots, from the data dir */
	uint32_t epoch;
	bool closing;               /* node_shutdown ran: no new writes */
	uint32_t idem_window_s;     /* --idempotency-window */

	db *db;
	committer *com;
	size_t max_pending;         /* committer bound in records */
	size_t max_bytes;           /* committer bound in bytes */
	crdt_store *store;
	wire_keyring *ring;
	wire *w;
	engine *eng;
	udp_sock *udp;

	struct event *ev_udp, *ev_commit, *ev_timer, *ev_retry;
	uint64_t timer_at;          /* deadline ev_timer is armed for; 0 = none */

	write_list inflight;        /* submitted to the committer */
	write_list waiting;         /* applied, not yet submitted */
	pending_write *spare;       /* freed writes kept for the next ones, */
	size_t nspare;              /* linked by next: at most NODE_SPARE_WRITES */
	uint64_t write_seq;         /* pending_write.seq of the last write */
	uint64_t drain_ns;          /* node_mono_ns() as the completions now
	                               delivered were drained: their time */
	idset dirty;                /* carts changed by replication, to persist */
	idfifo persisting;          /* ... handed to the committer, oldest first */
	uint64_t dirty_retry_at_ms; /* after a failed persist batch */
	uint32_t dirty_backoff_ms;

	node_latency lat;           /* counts per bucket, not cumulative */
	uint64_t persist_submitted, persist_failed, persist_lost;
	uint64_t write_failed;      /* commits of local writes that failed */
	uint64_t fail_log_ms;       /* last commit-failure log line */
	uint64_t fail_unlogged;     /* failures since, folded into the next line */

	drop_log drops;

	fault_state *faults;        /* NULL unless fault injection is enabled */
	delayed_dgram *delayed;     /* doubly linked, any order */
	size_t ndelayed;
	addr_id *ids;
	size_t nids, ids_cap;
};

/* node_keys.c: reads and parses the keyring file; logs why on failure.
 * 0, CARTD_EKEYRING or CARTD_ENOMEM. */
int node_read_keyring(const char *path, wire_keyring **out);

/* node_io.c */
uint64_t node_mono_ns(void);
int node_io_start(node *n);                 /* events for UDP and the timer */
void node_io_stop(node *n);
void node_rearm(node *n);                   /* after anything the engine did */
void node_cb_send(void *arg, const engine_addr *to, const uint8_t *d, size_t len);
void node_cb_member(void *arg, uint64_t id, const engine_addr *addr,
                    enum engine_member_state from, enum engine_member_state to);
/* Sends or receives one datagram for real (past fault injection). */
void node_send_now(node *n, const engine_addr *to, const uint8_t *d, size_t len);
void node_receive_now(node *n, const engine_addr *from, const uint8_t *d, size_t len);

/* node_drops.c: rate-limited log lines for dropped datagrams. */
/* One datagram engine_receive refused with rc (d, len: the datagram). */
void node_drop_datagram(node *n, int rc, const engine_addr *from, const uint8_t *d,
                        size_t len);
/* Drops the socket counted since the last call (oversize, bad source). */
void node_drop_socket(node *n);

/* node_write.c */
#define NODE_RETRY_MS 10u          /* queue full or no memory: try again soon */
#define NODE_BACKOFF_MIN_MS 100u   /* after a failed commit ... */
#define NODE_BACKOFF_MAX_MS 1000u  /* ... doubling up to this */
void node_commit_drain(node *n);            /* deliver completions */
/* Stops the committer (committing what is queued) and drops every
 * completion (no cookie owns memory); for node_free. */
void node_commit_discard(node *n);
void node_retry_writes(node *n);            /* re-submit waiting writes that are due */
/* Shutdown: answers (if answer) and frees every write still pending. */
void node_write_abort_all(node *n, bool answer);
/* Frees the spare pending writes (node_free, after node_write_abort_all). */
void node_write_free_spares(node *n);
void node_log_commit_failure(node *n, const char *what, const char *id, int rc);
/* The latency histogram so far, cumulative (node_stats.latency). */
void node_commit_latency(const node *n, node_latency *out);

/* node_commit.c */
/* The cookie of a replicated change handed to the committer (local writes
 * pass a pending_write pointer, which is at least 8-aligned); its id waits
 * in node.persisting. */
#define NODE_PERSIST_COOKIE 1u
int node_commit_start(node *n);             /* committer fd event, retry timer */
void node_commit_stop(node *n);             /* frees both events */
void node_arm_retry(node *n);               /* retry timer in NODE_RETRY_MS */
void node_cb_persist(void *arg, const crdt_id *id, const crdt_cart *delta, const uint8_t *enc,
                     size_t enc_len);
void node_persist_dirty(node *n);           /* submit carts marked dirty */

/* node_token.c: the read token of cart id whose state here is cart (NULL:
 * none), leaving out this peer's writes that are not yet durable, into room
 * (room_len bytes) when it fits, else a new heap string: *out is room or a
 * string the caller frees (token_seal_in).  0 or CARTD_ENOMEM (*out NULL). */
int node_token_issue(const node *n, const crdt_id *id, const crdt_cart *cart, char *room,
                     size_t room_len, char **out);

/* node_fault.c */
/* Applies fault injection to one datagram (n->faults not NULL). */
void node_fault_send(node *n, const engine_addr *to, const uint8_t *d, size_t len);
void node_fault_receive(node *n, const engine_addr *from, const uint8_t *d, size_t len);
void node_fault_learn(node *n, uint64_t id, const engine_addr *addr);
void node_fault_free(node *n);

#endif
