/*
 * engine.h - the replication engine: push, anti-entropy and membership for
 * one peer, as a sans-IO state machine.
 *
 * The engine never touches a socket, a clock or a random source.  The host
 * (cartd's event loop, or the deterministic simulator) feeds it received
 * datagrams and the current time, and the engine answers through callbacks:
 * datagrams to send, and carts whose stored state changed through
 * replication and must be persisted.  Its randomness comes from a seed in the
 * config.  One engine drives one crdt_store and one wire object, both
 * borrowed.
 *
 * Local writes: the host calls engine_local_write(), which marks the cart as
 * holding a write that is not yet durable and then applies the operation to
 * the store, in that order; the host persists the cart, and once the write is
 * durable calls engine_write_done() with the delta, which is then queued for
 * push.  Between the two the engine sends no state of that cart (not in
 * anti-entropy either) and read tokens leave the new dot out
 * (engine_token_ctx), so no dot leaves the peer before it is on disk: a crash
 * cannot make the restarted replica reuse a dot that others have already
 * seen, nor a token name it.  The mark must come first: it records the
 * highest durable dot of the cart as it was before the write.  A keyed
 * write (crdt_op.key) has a dot derived from its request rather than one of
 * our counter dots; it is kept out of tokens the same way, listed with the
 * mark until the durable delta's context holds it: a token covering it
 * before then could, after a crash that lost the write, remove a retry of
 * it that arrives later.
 *
 * Time is in milliseconds on any monotonic scale chosen by the host.
 * Not thread-safe: one thread drives an engine.
 */
#ifndef NET_ENGINE_H
#define NET_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/cart.h"
#include "crdt/cart_id.h"
#include "crdt/store.h"
#include "net/reject.h"
#include "net/wire.h"

/* A peer's transport address, opaque to the engine: compared bytewise and
 * carried in membership gossip.  The UDP adapter stores family (1 byte),
 * port (2, big-endian) and the IPv4 or IPv6 address. */
#define ENGINE_ADDR_MAX 19
typedef struct engine_addr {
	uint8_t len;                  /* 0 = none */
	uint8_t b[ENGINE_ADDR_MAX];
} engine_addr;

enum engine_member_state { MEMBER_ALIVE, MEMBER_SUSPECT, MEMBER_DEAD };

typedef struct engine_config {
	uint64_t self_id;           /* this peer's id: wire_self_id() of its wire */
	uint64_t replica_id;        /* the replica id of its dots (0: self_id) */
	uint32_t boot_epoch;        /* this peer's boot number, from storage */
	uint64_t seed;              /* randomness for peer choice and jitter */
	uint32_t flush_delay_ms;    /* push: max time a local delta waits (default 5) */
	uint32_t full_push_max;     /* push to all live peers up to this many (default 16) */
	uint32_t fanout;            /* otherwise to this many, with re-gossip (default 4) */
	uint32_t ae_interval_ms;    /* anti-entropy round period (default 1000) */
	uint32_t ae_bytes_per_sec;  /* repair traffic cap (default 4 MiB/s) */
	uint32_t ping_interval_ms;  /* SWIM protocol period (default 1000) */
	uint32_t ping_timeout_ms;   /* direct probe wait before indirect (default 300) */
	uint32_t indirect_probes;   /* helpers asked for an indirect ping (default 3) */
	uint32_t suspect_ms;        /* suspect -> dead (default 5000) */
	uint32_t dead_retry_ms;     /* how often a dead peer is probed again (default 2000) */
	uint32_t max_members;       /* membership table bound (default 4096) */
	uint32_t max_candidates;    /* of which unverified, at most (default 256) */
} engine_config;

typedef struct engine_callbacks {
	/* Send one sealed datagram to addr.  Must not call back into the engine. */
	void (*send)(void *arg, const engine_addr *to, const uint8_t *dgram, size_t len);
	/* The stored state of cart id changed through replication, by joining
	 * delta (a state of the cart no newer than the stored one: what a peer
	 * sent, not the whole cart): persist it.  Joining delta into what the
	 * disk holds is enough, since join is idempotent and order-free and the
	 * disk only ever holds joins of states the store went through.
	 * enc[0..enc_len) is delta's encoding as the DELTA message carried it:
	 * crdt_encode_cart's form, the only one the decoder accepts, so the
	 * host can log those bytes instead of encoding delta again.  id,
	 * delta and enc are valid only during the call. */
	void (*persist)(void *arg, const crdt_id *id, const crdt_cart *delta, const uint8_t *enc,
	                size_t enc_len);
	/* A member changed state (for logs); may be NULL. */
	void (*member_event)(void *arg, uint64_t id, const engine_addr *addr,
	                     enum engine_member_state from, enum engine_member_state to);
	void *arg;
} engine_callbacks;

typedef struct engine_stats {
	uint64_t dgrams_in, dgrams_out, bytes_in, bytes_out;
	uint64_t deltas_out, deltas_in, carts_changed_in;
	uint64_t rej_decode;          /* authentic datagrams whose payload failed to parse */
	uint64_t hellos_sent, hellos_answered; /* handshakes started / answered */
	uint64_t no_session_drops;    /* messages dropped for want of a session */
	uint64_t addr_verified;       /* addresses that answered our challenge */
	uint64_t hello_probes;        /* HELLOs sent unasked to unverified addresses */
	uint64_t amp_refused;         /* sends refused: unverified address, credit spent */
	uint64_t candidates_evicted;  /* candidates pushed out of a full table */
	uint64_t candidates;          /* unverified entries in the table (gauge) */
	/* ... by reason: [row][field] as in net/reject.h; the cells
	 * reject_valid() refuses stay 0.  Their sum is rej_decode. */
	uint64_t rej_reason[REJECT_ROWS][REJECT_NFIELDS];
	uint64_t rej_nomem;           /* authentic datagrams dropped for want of memory */
	uint64_t ae_rounds, ae_carts_sent, ae_carts_repaired, ae_bytes, ae_throttled;
	uint64_t ae_busy_deferred;    /* differing buckets with a fresh change, left
	                                 to a later round (ae.c) */
	uint64_t pings_out, acks_in, indirect_out, suspicions, deaths, revivals;
	uint64_t push_queue_carts;    /* carts waiting for the next flush (gauge) */
	uint64_t pending_writes;      /* writes begun, not yet durable (gauge) */
	uint64_t members[3];          /* by enum engine_member_state (gauge) */
} engine_stats;

/* One member as reported by engine_members(). */
typedef struct engine_member_info {
	uint64_t id;                  /* 0 while only the address is known (a seed) */
	engine_addr addr;
	bool verified;                /* addr answered our challenge: a member, not a candidate */
	enum engine_member_state state;
	uint64_t incarnation;
	uint64_t last_heard_ms;       /* 0 = never */
	uint64_t last_sync_ms;        /* last anti-entropy round that found no difference */
	uint32_t differing_buckets;   /* from the last round with it */
} engine_member_info;

typedef struct engine engine;

/* Fills cfg with the defaults above (ids, epoch, seed zero). */
void engine_config_init(engine_config *cfg);

/* Smallest datagram the engine works with: the wire overhead (57), a DELTA
 * header (3) and the largest cart id (129) must leave room for a piece of
 * CRDT_MIN_PIECE_BUDGET bytes, or a large cart could never be sent. */
#define ENGINE_MIN_DATAGRAM 445u

/*
 * Creates an engine over store and w (both borrowed; they must outlive the
 * engine).  w's id and boot epoch must match cfg, and its datagrams
 * must allow at least ENGINE_MIN_DATAGRAM bytes.  cb is copied.  The
 * callbacks must not call back into the engine.
 * Errors: CARTD_EINVAL, CARTD_ENOMEM; on failure *out = NULL.
 */
int engine_new(const engine_config *cfg, crdt_store *store, wire *w,
               const engine_callbacks *cb, engine **out);
void engine_free(engine *e);            /* NULL-safe */

/* Adds a seed address (a --peer).  0, CARTD_EINVAL, CARTD_ENOSPC (table
 * full) or CARTD_ENOMEM.  Seeds are never forgotten: dead ones are retried. */
int engine_add_seed(engine *e, const engine_addr *addr, uint64_t now_ms);

/*
 * Handles one received datagram from addr: opens it (wire), parses it,
 * applies it.  Returns 0 or the rejection code (already counted; the caller
 * only logs).  Never fails for the caller's state: a bad datagram changes
 * nothing.  CARTD_EDECODE comes with a reason: engine_last_reject().
 * CARTD_ENOMEM means an authentic datagram was dropped for want of memory
 * (counted in rej_nomem).
 */
int engine_receive(engine *e, const engine_addr *from, const uint8_t *dgram,
                   size_t len, uint64_t now_ms);

/* The reason (net/reject.h row and field) of the last datagram that
 * engine_receive refused with CARTD_EDECODE; (0, REJECT_F_NONE) before
 * any. */
void engine_last_reject(const engine *e, unsigned *row, unsigned *field);

/* Runs every timer due at now_ms (flush, probes, anti-entropy). */
void engine_tick(engine *e, uint64_t now_ms);
/* The time engine_tick next has work to do (never earlier than now_ms+1
 * when nothing is due). */
uint64_t engine_next_deadline(const engine *e, uint64_t now_ms);

/*
 * Local writes (see the header comment).  local_write marks cart id and
 * applies op to the store as this replica: delta receives the operation's
 * delta (crdt_store_apply_id); on error nothing changed and no mark is left.
 * 0 or crdt_store_apply_id's errors.
 *
 * write_begin alone marks cart id as holding a write that is not yet
 * durable (local_write calls it; hosts use local_write); write_done clears
 * one such mark, and the keyed dots in flight that delta's context holds,
 * and queues delta for push (delta is copied; it may be empty, in which
 * case only the mark is cleared).
 * id was checked and hashed where it entered (cart_id.h); none of these
 * checks or hashes it again.
 * 0 or CARTD_ENOMEM (write_done never fails for a begun write).
 */
int engine_local_write(engine *e, const crdt_id *id, const crdt_op *op, crdt_cart *delta);
int engine_write_begin(engine *e, const crdt_id *id);
int engine_write_done(engine *e, const crdt_id *id, const crdt_cart *delta, uint64_t now_ms);

/*
 * The context a client's read token may carry for cart id: ctx minus the
 * dots of our own writes that are not yet durable (counter dots and the
 * dots of keyed writes).  A read can show such a
 * write, but its token must not cover the dot: after a crash the replica
 * hands that dot out again, and a remove or clear under the old token would
 * take away the new, unseen item.  out (initialised) is replaced.
 * 0 or CARTD_ENOMEM.
 */
int engine_token_ctx(const engine *e, const crdt_id *id, const crdt_ctx *ctx, crdt_ctx *out);

const engine_stats *engine_get_stats(engine *e);
/* Fills up to cap members into out; returns how many there are in all. */
size_t engine_members(const engine *e, engine_member_info *out, size_t cap);
/* Swap the keyring (SIGHUP): forwarded to the wire object (wire_set_keyring:
 * 0 or CARTD_EKEYRING when the ring holds another identity).  Members the
 * new ring revokes are dropped from the table. */
int engine_set_keyring(engine *e, const wire_keyring *ring);

#endif
