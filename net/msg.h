/*
 * msg.h - the engine's message types and their payload encodings (what a
 * sealed datagram carries; framing is in wire.h).  docs/protocol.md has the
 * byte diagrams.
 *
 * Encoders write into a buf_writer.  Decoders parse an authenticated
 * payload strictly (cursor and end, bounds before every read, counts checked
 * against the bytes left, names validated) into a caller-owned struct whose
 * pointers refer into the payload; they never allocate, except msg_next_cart
 * which decodes one cart into a caller-initialised crdt_cart.
 *
 * Every decoder returns 0 or CARTD_EDECODE, and on CARTD_EDECODE stores in
 * *why the field that failed (net/reject.h), so a refusal can be named.
 * Integer fields are checked against the limits below before anything is
 * sized or indexed by them; arithmetic on them uses net/checked.h.
 */
#ifndef NET_MSG_H
#define NET_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/buf.h"
#include "crdt/cart.h"
#include "crdt/cart_id.h"
#include "net/engine.h"
#include "net/reject.h"

enum msg_type {
	MSG_DELTA = 1,       /* cart deltas or state pieces */
	MSG_PING = 2,        /* SWIM probe */
	MSG_ACK = 3,         /* probe answer, direct or relayed */
	MSG_PING_REQ = 4,    /* ask a helper to probe a target for us */
	MSG_AE_GROUPS = 5,   /* anti-entropy: digests of bucket groups */
	MSG_AE_BUCKETS = 6,  /* anti-entropy: bucket digests of one group */
	MSG_AE_CARTS = 7,    /* anti-entropy: (cart id, digest) of one bucket */
	MSG_AE_WANT = 8,     /* anti-entropy: send me these carts */
	MSG_AE_STATUS = 9,   /* anti-entropy: how a round compared */
	MSG_MEMBERS = 10,    /* a chunk of the sender's member table */
};

#define MSG_GROUP_SIZE 32u         /* buckets per group */
#define MSG_MAX_GOSSIP 16u         /* member entries piggybacked per probe message */
#define MSG_MAX_TABLE 64u          /* member entries per MEMBERS message */
#define MSG_MEMBER_MAX_BYTES (18u + 1u + ENGINE_ADDR_MAX)
#define MSG_MAX_HOPS 16u
/* Largest incarnation a rumour may carry: 2^63 - 1.  Larger ones are
 * refused, so that refuting one (incarnation + 1) never wraps, and so that
 * every incarnation prints as a JSON integer.  A peer's own incarnation
 * saturates here (members.c). */
#define MSG_INCARNATION_MAX ((uint64_t)INT64_MAX)

/* One membership rumour. */
typedef struct msg_member {
	uint64_t id;
	uint8_t state;             /* enum engine_member_state */
	uint64_t incarnation;
	engine_addr addr;          /* len 0: "the address this came from" */
} msg_member;

/* PING, ACK and PING_REQ share one layout; unused fields are zero. */
typedef struct msg_probe {
	uint64_t seq;              /* the prober's probe number */
	uint64_t subject;          /* ACK: who is alive; PING_REQ: the target */
	engine_addr target_addr;   /* PING_REQ: where to find the target */
	size_t ngossip;
	msg_member gossip[MSG_MAX_GOSSIP];
} msg_probe;

/* DELTA: hops then (cart id, cart) pairs; iterate with msg_next_cart. */
#define MSG_DELTA_REPAIR 0x80u     /* hops byte flag: sent by anti-entropy */
typedef struct msg_delta {
	uint8_t hops;              /* how many more times receivers re-gossip */
	bool repair;               /* anti-entropy repair rather than push */
	uint32_t count;
	buf_reader rest;           /* the pairs not yet read */
} msg_delta;

/* GROUPS and BUCKETS: digests[i] belongs to group/bucket first + i. */
typedef struct msg_digests {
	uint32_t round;
	uint32_t nbuckets;
	uint32_t first;
	uint32_t count;
	const uint8_t *digests;    /* count * 8 bytes, u64le each */
} msg_digests;

#define MSG_CARTS_REPLY 0x01u      /* CARTS flag: answer with your own listing */
typedef struct msg_carts {
	uint32_t round;
	uint32_t nbuckets;
	uint32_t bucket;
	uint8_t flags;
	uint32_t count;
	buf_reader rest;           /* count * (id str, u64le digest) */
} msg_carts;

typedef struct msg_status {
	uint32_t round;
	uint32_t differing;        /* groups that differed; 0 = in sync */
} msg_status;

void msg_put_probe(buf_writer *w, const msg_probe *p);
int msg_get_probe(const uint8_t *p, size_t len, msg_probe *out, enum reject_field *why);

/* A DELTA payload: msg_begin_delta, then msg_put_cart per cart; counts are
 * fixed-width u16 fields patched by msg_end_* (so callers need not know them
 * in advance).  At most MSG_MAX_ITEMS items per message. */
#define MSG_MAX_ITEMS 65535u
void msg_begin_delta(buf_writer *w, uint8_t hops, bool repair);
void msg_put_cart(buf_writer *w, const char *id, size_t len, const crdt_cart *c);
void msg_end_delta(buf_writer *w, uint32_t count);
/* Encoded size of one (id, cart) pair. */
size_t msg_cart_size(size_t id_len, const crdt_cart *c);
int msg_get_delta(const uint8_t *p, size_t len, msg_delta *out, enum reject_field *why);
/* Reads the next pair: the id is checked and hashed (crdt_id_make) and
 * *id borrows it from the payload; cart (initialised) is replaced.
 * CARTD_ENOMEM when the cart could not be allocated (not the sender's
 * fault). */
int msg_next_cart(msg_delta *d, crdt_id *id, crdt_cart *cart, enum reject_field *why);

void msg_put_digests(buf_writer *w, const msg_digests *d, const uint64_t *values);
/* count is 1..65535; first is not checked here: the receiver checks
 * first + count against its own groups or buckets (checked_range_within). */
int msg_get_digests(const uint8_t *p, size_t len, msg_digests *out, enum reject_field *why);
uint64_t msg_digest_at(const msg_digests *d, uint32_t i);

void msg_begin_carts(buf_writer *w, uint32_t round, uint32_t nbuckets, uint32_t bucket,
                     uint8_t flags);
void msg_end_carts(buf_writer *w, uint32_t count);
void msg_put_listing(buf_writer *w, const char *id, size_t len, uint64_t digest);
/* Validates every listed pair up front, so msg_next_listing cannot fail
 * after msg_get_carts succeeded (likewise for WANT). */
int msg_get_carts(const uint8_t *p, size_t len, msg_carts *out, enum reject_field *why);
int msg_next_listing(msg_carts *c, const char **id, size_t *len, uint64_t *digest);

/* WANT: u16 count then ids; the count is patched by msg_end_want. */
void msg_begin_want(buf_writer *w);
void msg_end_want(buf_writer *w, uint32_t count);
int msg_get_want(const uint8_t *p, size_t len, uint32_t *count, buf_reader *rest,
                 enum reject_field *why);
int msg_next_id(buf_reader *r, const char **id, size_t *len);

/* MEMBERS: msg_begin_members, msg_put_member per entry, msg_end_members. */
void msg_begin_members(buf_writer *w);
void msg_put_member(buf_writer *w, const msg_member *m);
void msg_end_members(buf_writer *w, uint32_t count);
/* out has room for MSG_MAX_TABLE entries. */
int msg_get_members(const uint8_t *p, size_t len, msg_member *out, size_t *n,
                    enum reject_field *why);

void msg_put_status(buf_writer *w, const msg_status *s);
int msg_get_status(const uint8_t *p, size_t len, msg_status *out, enum reject_field *why);

#endif
