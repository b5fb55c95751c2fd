/*
 * engine_internal.h - the engine's state, shared by its implementation
 * files: engine.c (lifecycle, dispatch, timers), members.c (membership
 * table and rumours), swim.c (failure detection), push.c (delta queue and
 * datagram packing), ae.c (anti-entropy).  Not part of the API.
 */
#ifndef NET_ENGINE_INTERNAL_H
#define NET_ENGINE_INTERNAL_H

#include "crdt/buf.h"
#include "crdt/store.h"
#include "net/engine.h"
#include "net/msg.h"
#include "net/wire.h"

struct member {
	uint64_t id;                /* 0: a seed whose id we have not heard yet */
	engine_addr addr;
	enum engine_member_state state;
	uint64_t incarnation;
	uint64_t last_heard;        /* ms; 0 = never */
	uint64_t state_since;       /* ms of the last state change */
	uint64_t last_sync;         /* last anti-entropy round that matched */
	uint64_t next_retry;        /* dead or unknown: when to probe again */
	uint32_t differing;         /* groups that differed in the last round */
	uint32_t ae_rounds;         /* anti-entropy rounds we started with it */
	uint32_t rumours;           /* times its state is still to be piggybacked */
	uint64_t hello_at;          /* when we last sent it a HELLO; 0 = never */
	bool seed;
	bool verified;              /* addr answered our challenge (else a candidate) */
	uint8_t vouches;            /* candidate: told of it by this many peers in turn */
	uint64_t voucher;           /* the last peer that told us of it */
};

/* An indirect probe we run for another member (a PING_REQ we accepted). */
struct relay {
	uint64_t my_seq;            /* the PING we sent to the target */
	uint64_t their_seq;         /* the requester's probe number */
	uint64_t target;
	engine_addr requester;
	uint64_t expires;
};
#define ENGINE_RELAYS 32
#define ENGINE_CREDITS 256          /* unverified addresses whose bytes are counted */

/* Writes begun and not yet durable, per cart (engine_write_begin/done).
 * A keyed write's dot is not one of our counter dots (it is derived from
 * the request, app/shared/idem.h), so durable_max cannot stand for it: such dots
 * are listed one by one until the delta that holds them is durable. */
struct pending {
	char id[CRDT_MAX_NAME + 1];
	uint8_t len;
	uint32_t count;
	uint64_t durable_max;       /* our highest counter in the cart known on disk */
	crdt_dot *keyed;            /* dots of keyed writes in flight (heap, or NULL) */
	uint32_t nkeyed, keyed_cap;
};

struct engine {
	engine_config cfg;
	crdt_store *store;
	wire *w;
	engine_callbacks cb;
	engine_stats stats;
	uint64_t rng;
	uint64_t now;
	bool ticked;                /* engine_tick ran at least once */

	struct member *members;
	size_t nmembers;
	uint64_t incarnation;       /* ours: raised to refute suspicion */
	uint32_t self_rumours;
	size_t gossip_cursor;       /* where the next membership sweep goes on */

	/* failure detection (swim.c) */
	uint64_t probe_seq;
	struct {
		bool active, acked, indirect_sent;
		uint64_t seq, target, started;
	} probe;
	size_t probe_cursor;
	uint64_t next_probe;
	struct relay relays[ENGINE_RELAYS];
	uint64_t dead_gate;         /* no retry of a dead member before this */
	uint64_t next_table_sync;   /* next push of our table to a random member */
	bool members_learnt;        /* a new member since the last push */

	/* push (push.c) */
	crdt_store *queue;          /* local deltas coalesced by cart */
	crdt_store *relay_queue;    /* received deltas to re-gossip */
	uint8_t relay_hops;
	uint64_t flush_at;          /* 0 = nothing queued */
	uint64_t last_flush;        /* when the push queue last flushed (0: never) */
	double pack_ratio;          /* recent deflate ratio: how much raw to pack */
	struct push_rx {            /* a received DELTA, decoded: kept between */
		crdt_id *ids;       /* messages, so that receiving allocates */
		crdt_cart *carts;   /* only what the carts themselves need */
		const uint8_t **ends;   /* where each cart's encoding ends in the
		                           payload (it starts right after its id) */
		uint32_t cap;
	} rx;

	/* anti-entropy (ae.c) */
	uint32_t ae_round;
	size_t ae_cursor;
	uint64_t next_ae;
	double ae_tokens;           /* bytes the repair budget allows now */
	uint64_t ae_tokens_at;
	uint64_t *ae_changed_at;    /* per bucket: when a cart of it last changed */

	struct pending *pending;
	uint64_t *pending_hash;     /* pending[i]'s id hash, packed: a lookup scans
	                               these, not the entries (3 cache lines each) */
	size_t npending, pending_cap;

	/* handshake (hello.c) */
	uint8_t chal_key[32];       /* keys the challenges we send, per address */
	const engine_addr *cur_from;  /* the datagram being handled: its source */
	struct credit {             /* bytes an unverified address may still get */
		engine_addr addr;
		uint64_t in, out, used;
	} credits[ENGINE_CREDITS];
	uint64_t credit_clock;      /* orders credits for LRU reuse */
	uint64_t cur_sender;        /* and its sender, so replies need no lookup */
	enum reject_field why;      /* field of the last CARTD_EDECODE (reject.h) */
	unsigned last_row, last_field;  /* reason of the last refused datagram */

	buf_writer payload;         /* scratch for building payloads */
	uint8_t *dgram;             /* one sealed datagram */
	size_t dgram_cap;
};

/* engine.c */
uint64_t engine_rand(engine *e);
/* Sends one payload to each of to[0..nto), deflated once and sealed per
 * target; *total = bytes sent, *last = the size of one datagram sent (0:
 * none went).  0, or CARTD_EOVERSIZE / CARTD_EINVAL from wire_pack or when
 * the datagram would be too big (the same for every target: the caller
 * splits); other per-target failures are counted and skipped. */
int engine_send_each(engine *e, const engine_addr *const *to, size_t nto, uint8_t type,
                     const uint8_t *payload, size_t len, size_t *total, size_t *last);
/* Seals payload as type and sends it to addr.  0 or the wire error; a
 * peer we have no session with is sent a HELLO instead (CARTD_ESESSION).
 * *sent (may be NULL) receives the datagram size, or on CARTD_EOVERSIZE the
 * size it would have needed. */
int engine_send(engine *e, const engine_addr *to, uint8_t type, const uint8_t *payload,
                size_t len);
int engine_send_sized(engine *e, const engine_addr *to, uint8_t type, const uint8_t *payload,
                      size_t len, size_t *sent);
/* The id of the peer at addr, as far as we know (0: none). */
uint64_t engine_peer_at(engine *e, const engine_addr *to);
/* Records why the message being handled is refused and returns
 * CARTD_EDECODE, for handlers that refuse after a successful decode. */
int engine_refuse(engine *e, enum reject_field f);
/* The payload scratch, emptied. */
buf_writer *engine_scratch(engine *e);
bool engine_is_pending(const engine *e, const char *id, size_t len);
/* Largest payload that always fits a datagram. */
size_t engine_max_body(const engine *e);

/* members.c */
struct member *members_find(engine *e, uint64_t id);
struct member *members_find_addr(engine *e, const engine_addr *a);
/* Records an authentic datagram from id at addr: first-hand proof that id
 * lives if addr is its verified address; otherwise addr is challenged and
 * id, if new, becomes a candidate.  Returns the member if verified there. */
struct member *members_heard(engine *e, uint64_t id, const engine_addr *addr);
/* id answered our challenge at addr: a verified member there, now. */
struct member *members_verified(engine *e, uint64_t id, const engine_addr *addr);
/* Is addr the verified address of a member (of member id, unless id is 0)? */
bool members_addr_verified(engine *e, const engine_addr *addr, uint64_t id);
int members_add_seed(engine *e, const engine_addr *addr);
void members_set_state(engine *e, struct member *m, enum engine_member_state st,
                       uint64_t incarnation);
/* Removes the members ring revokes (SIGHUP). */
void members_drop_revoked(engine *e, const wire_keyring *ring);
/* Applies a piggybacked rumour. */
void members_apply_rumour(engine *e, const msg_member *r, const engine_addr *from);
/* Fills p->gossip with rumours to piggyback (ours first). */
void members_fill_gossip(engine *e, msg_probe *p);
/* Members that are alive or suspect, with a known id; the i-th of them. */
size_t members_live_count(const engine *e);
struct member *members_live_at(engine *e, size_t i);
void members_count_states(engine *e);
/* Sends our member table to one peer (first contact, periodic push-pull). */
void members_send_table(engine *e, const engine_addr *to);
/* Handles a MEMBERS message. */
int members_on_table(engine *e, const engine_addr *from, const uint8_t *p, size_t len);

/* hello.c */
void hello_init(engine *e);
/* Sends a HELLO to addr (peer id `to` or 0), at most once per ping timeout
 * per member. */
void hello_send(engine *e, const engine_addr *addr, uint64_t to);
/* Handles an opened HELLO from addr. */
void hello_on_hello(engine *e, const engine_addr *from, const wire_msg *m);
/* A datagram from addr was refused for want of a (current) session. */
void hello_on_stale(engine *e, const engine_addr *from);
/* An unasked HELLO to an unverified seed or candidate (budgeted by the
 * caller). */
void hello_probe(engine *e, struct member *m);
/* Counts bytes received from addr, if unverified. */
void credit_received(engine *e, const engine_addr *addr, size_t len);
/* May n bytes for peer id (0: unknown) go to addr?  Always when addr is
 * id's verified address; for any other, while what addr sent covers it
 * (then charged).  An address verified for one peer is not for another:
 * a member cannot have others' replies reflected to it. */
bool credit_allow(engine *e, const engine_addr *addr, uint64_t id, size_t n);

/* swim.c */
void swim_tick(engine *e);
uint64_t swim_deadline(const engine *e);
void swim_on_ping(engine *e, const engine_addr *from, uint64_t sender, const msg_probe *p);
void swim_on_ack(engine *e, const engine_addr *from, uint64_t sender, const msg_probe *p);
void swim_on_ping_req(engine *e, const engine_addr *from, uint64_t sender, const msg_probe *p);

/* push.c */
int push_init(engine *e);
void push_destroy(engine *e);
/* Queues a durable local delta of id. */
int push_enqueue(engine *e, const crdt_id *id, const crdt_cart *delta);
void push_tick(engine *e);
int push_on_delta(engine *e, const engine_addr *from, uint64_t sender,
                   const uint8_t *payload, size_t len);
/* Sends (id, cart) pairs to one peer, splitting and packing as needed;
 * returns bytes sent.  Used by anti-entropy. */
typedef struct pack_item {
	const char *id;
	size_t len;
	const crdt_cart *cart;
} pack_item;
size_t push_send_items(engine *e, const engine_addr *const *to, size_t nto,
                       const pack_item *items, size_t n, uint8_t hops, bool repair);

/* ae.c */
void ae_tick(engine *e);
/* The cart whose id hashes to h (crdt_name_hash) changed here now (a local
 * write or one that replication brought): its bucket is busy for
 * AE_BUSY_MS. */
void ae_note_change(engine *e, uint64_t h);
int ae_on_groups(engine *e, const engine_addr *from, uint64_t sender, const uint8_t *p, size_t len);
int ae_on_buckets(engine *e, const engine_addr *from, uint64_t sender, const uint8_t *p, size_t len);
int ae_on_carts(engine *e, const engine_addr *from, uint64_t sender, const uint8_t *p, size_t len);
int ae_on_want(engine *e, const engine_addr *from, uint64_t sender, const uint8_t *p, size_t len);
int ae_on_status(engine *e, const engine_addr *from, uint64_t sender, const uint8_t *p, size_t len);

#endif
