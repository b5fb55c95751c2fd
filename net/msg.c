/*
 * msg.c - payload encodings of the engine's messages (see msg.h and
 * docs/protocol.md).
 *
 *   probe   := u64 seq, u64 subject, addr target, u8 ngossip, ngossip * member
 *   member  := u64 id, u8 state, u64 incarnation, addr
 *   addr    := u8 len (0..ENGINE_ADDR_MAX), len bytes
 *   delta   := u8 hops (bit 7: repair), u16 count, count * (str id, cart)
 *   digests := u32 round, u32 nbuckets, u32 first, u16 count, count * u64
 *   carts   := u32 round, u32 nbuckets, u32 bucket, u8 flags, u16 count,
 *              count * (str id, u64 digest)
 *   want    := u16 count, count * str id
 *   members := u8 count (..MSG_MAX_TABLE), count * member
 *   status  := u32 round, u32 differing
 * Integers little-endian; str = varint length + bytes; cart per codec.h.
 */
#include "net/msg.h"

#include "crdt/codec.h"
#include "crdt/error.h"

/* Any parse failure of an authenticated payload returns one code,
 * CARTD_EDECODE, and names the field that failed in *why (net/reject.h):
 * operators must be able to tell a --buckets mismatch from corruption. */
#define REFUSE(f) do { *why = (f); return CARTD_EDECODE; } while (0)
/* A read that can only fail because the payload ends early. */
#define READ(expr) do { if ((expr) != 0) REFUSE(REJECT_F_TRUNCATED); } while (0)
/* A nested decoder that has already set *why. */
#define CHECK(expr) do { if ((expr) != 0) return CARTD_EDECODE; } while (0)

static void put_u16(buf_writer *w, uint32_t v)
{
	buf_put_u8(w, (uint8_t)v);
	buf_put_u8(w, (uint8_t)(v >> 8));
}

static int get_u16(buf_reader *r, uint32_t *out, enum reject_field *why)
{
	uint8_t lo, hi;
	READ(buf_get_u8(r, &lo));
	READ(buf_get_u8(r, &hi));
	*out = (uint32_t)lo | (uint32_t)hi << 8;
	return 0;
}

static void patch_u16(buf_writer *w, size_t at, uint32_t v)
{
	if (!w->err && at + 2 <= w->len) {
		w->data[at] = (uint8_t)v;
		w->data[at + 1] = (uint8_t)(v >> 8);
	}
}

static void put_addr(buf_writer *w, const engine_addr *a)
{
	buf_put_u8(w, a->len);
	buf_put_bytes(w, a->b, a->len);
}

static int get_addr(buf_reader *r, engine_addr *a, enum reject_field *why)
{
	const uint8_t *b;
	READ(buf_get_u8(r, &a->len));
	if (a->len > ENGINE_ADDR_MAX)
		REFUSE(REJECT_F_ADDR);
	READ(buf_get_bytes(r, a->len, &b));
	for (uint8_t i = 0; i < a->len; i++)
		a->b[i] = b[i];
	return 0;
}

static int get_id(buf_reader *r, const char **id, size_t *len, enum reject_field *why)
{
	const uint8_t *p;
	int rc = buf_get_str(r, CRDT_MAX_NAME, &p, len);
	if (rc == CARTD_ETRUNC)
		REFUSE(REJECT_F_TRUNCATED);
	if (rc != 0 || crdt_check_id((const char *)p, *len) != 0)
		REFUSE(REJECT_F_ID);
	*id = (const char *)p;
	return 0;
}

/* A cart id, as get_id reads it, made into a crdt_id. */
static int get_cart_id(buf_reader *r, crdt_id *id, enum reject_field *why)
{
	const uint8_t *p;
	size_t len;
	int rc = buf_get_str(r, CRDT_MAX_NAME, &p, &len);
	if (rc == CARTD_ETRUNC)
		REFUSE(REJECT_F_TRUNCATED);
	if (rc != 0 || crdt_id_make(id, (const char *)p, len) != 0)
		REFUSE(REJECT_F_ID);
	return 0;
}

static int end_check(const buf_reader *r, enum reject_field *why)
{
	if (buf_left(r) != 0)
		REFUSE(REJECT_F_TRAILING);
	return 0;
}

void msg_put_member(buf_writer *w, const msg_member *m)
{
	buf_put_u64le(w, m->id);
	buf_put_u8(w, m->state);
	buf_put_u64le(w, m->incarnation);
	put_addr(w, &m->addr);
}

static int get_member(buf_reader *r, msg_member *m, enum reject_field *why)
{
	READ(buf_get_u64le(r, &m->id));
	READ(buf_get_u8(r, &m->state));
	READ(buf_get_u64le(r, &m->incarnation));
	CHECK(get_addr(r, &m->addr, why));
	if (m->id == 0)
		REFUSE(REJECT_F_MEMBER_ID);
	if (m->state > MEMBER_DEAD)
		REFUSE(REJECT_F_STATE);
	/* A larger one could not be refuted without passing the maximum. */
	if (m->incarnation > MSG_INCARNATION_MAX)
		REFUSE(REJECT_F_INCARNATION);
	return 0;
}

/* n members, after a u8 count that must not exceed max. */
static int get_members(buf_reader *r, size_t max, msg_member *out, size_t *n,
                       enum reject_field *why)
{
	uint8_t count;
	READ(buf_get_u8(r, &count));
	if (count > max)
		REFUSE(REJECT_F_COUNT);
	for (size_t i = 0; i < count; i++)
		CHECK(get_member(r, &out[i], why));
	*n = count;
	return 0;
}

void msg_put_probe(buf_writer *w, const msg_probe *p)
{
	buf_put_u64le(w, p->seq);
	buf_put_u64le(w, p->subject);
	put_addr(w, &p->target_addr);
	buf_put_u8(w, (uint8_t)p->ngossip);
	for (size_t i = 0; i < p->ngossip; i++)
		msg_put_member(w, &p->gossip[i]);
}

int msg_get_probe(const uint8_t *p, size_t len, msg_probe *out, enum reject_field *why)
{
	buf_reader r;
	buf_reader_init(&r, p, len);
	READ(buf_get_u64le(&r, &out->seq));
	READ(buf_get_u64le(&r, &out->subject));
	CHECK(get_addr(&r, &out->target_addr, why));
	CHECK(get_members(&r, MSG_MAX_GOSSIP, out->gossip, &out->ngossip, why));
	return end_check(&r, why);
}

void msg_begin_members(buf_writer *w)
{
	buf_put_u8(w, 0);
}

void msg_end_members(buf_writer *w, uint32_t count)
{
	if (!w->err && w->len >= 1)
		w->data[0] = (uint8_t)count;
}

int msg_get_members(const uint8_t *p, size_t len, msg_member *out, size_t *n,
                    enum reject_field *why)
{
	buf_reader r;
	buf_reader_init(&r, p, len);
	CHECK(get_members(&r, MSG_MAX_TABLE, out, n, why));
	return end_check(&r, why);
}

void msg_begin_delta(buf_writer *w, uint8_t hops, bool repair)
{
	buf_put_u8(w, (uint8_t)(hops | (repair ? MSG_DELTA_REPAIR : 0)));
	put_u16(w, 0);
}

void msg_put_cart(buf_writer *w, const char *id, size_t len, const crdt_cart *c)
{
	buf_put_str(w, id, len);
	crdt_encode_cart(w, c);
}

void msg_end_delta(buf_writer *w, uint32_t count)
{
	patch_u16(w, 1, count);
}

size_t msg_cart_size(size_t id_len, const crdt_cart *c)
{
	return buf_varint_size(id_len) + id_len + crdt_cart_encoded_size(c);
}

int msg_get_delta(const uint8_t *p, size_t len, msg_delta *out, enum reject_field *why)
{
	buf_reader_init(&out->rest, p, len);
	READ(buf_get_u8(&out->rest, &out->hops));
	CHECK(get_u16(&out->rest, &out->count, why));
	out->repair = (out->hops & MSG_DELTA_REPAIR) != 0;
	out->hops &= (uint8_t)~MSG_DELTA_REPAIR;
	if (out->hops > MSG_MAX_HOPS)
		REFUSE(REJECT_F_HOPS);
	/* A pair takes at least 4 bytes (id length, id, two counts): bound the
	 * count before the receiver sizes anything by it. */
	if (out->count == 0 || out->count > buf_left(&out->rest) / 4)
		REFUSE(REJECT_F_COUNT);
	return 0;
}

int msg_next_cart(msg_delta *d, crdt_id *id, crdt_cart *cart, enum reject_field *why)
{
	if (d->count == 0)
		REFUSE(REJECT_F_COUNT);
	CHECK(get_cart_id(&d->rest, id, why));
	int rc = crdt_decode_cart(&d->rest, cart);
	if (rc == CARTD_ENOMEM)
		return rc;   /* ours, not the sender's: counted apart */
	if (rc != 0)
		REFUSE(REJECT_F_CART);
	d->count--;
	return d->count == 0 ? end_check(&d->rest, why) : 0;
}

void msg_put_digests(buf_writer *w, const msg_digests *d, const uint64_t *values)
{
	buf_put_u32le(w, d->round);
	buf_put_u32le(w, d->nbuckets);
	buf_put_u32le(w, d->first);
	put_u16(w, d->count);
	for (uint32_t i = 0; i < d->count; i++)
		buf_put_u64le(w, values[i]);
}

int msg_get_digests(const uint8_t *p, size_t len, msg_digests *out, enum reject_field *why)
{
	buf_reader r;
	buf_reader_init(&r, p, len);
	READ(buf_get_u32le(&r, &out->round));
	READ(buf_get_u32le(&r, &out->nbuckets));
	READ(buf_get_u32le(&r, &out->first));
	CHECK(get_u16(&r, &out->count, why));
	if (out->nbuckets == 0 || out->nbuckets > CRDT_MAX_BUCKETS)
		REFUSE(REJECT_F_NBUCKETS);
	if (out->count == 0)
		REFUSE(REJECT_F_COUNT);
	/* count < 2^16, so count * 8 cannot wrap a size_t. */
	READ(buf_get_bytes(&r, (size_t)out->count * 8u, &out->digests));
	return end_check(&r, why);
}

uint64_t msg_digest_at(const msg_digests *d, uint32_t i)
{
	const uint8_t *p = d->digests + (size_t)i * 8u;   /* i < count < 2^16 */
	uint64_t v = 0;
	for (int k = 0; k < 8; k++)
		v |= (uint64_t)p[k] << (8 * k);
	return v;
}

void msg_begin_carts(buf_writer *w, uint32_t round, uint32_t nbuckets, uint32_t bucket,
                     uint8_t flags)
{
	buf_put_u32le(w, round);
	buf_put_u32le(w, nbuckets);
	buf_put_u32le(w, bucket);
	buf_put_u8(w, flags);
	put_u16(w, 0);
}

void msg_end_carts(buf_writer *w, uint32_t count)
{
	patch_u16(w, 13, count);
}

void msg_put_listing(buf_writer *w, const char *id, size_t len, uint64_t digest)
{
	buf_put_str(w, id, len);
	buf_put_u64le(w, digest);
}

int msg_get_carts(const uint8_t *p, size_t len, msg_carts *out, enum reject_field *why)
{
	buf_reader r;
	buf_reader_init(&r, p, len);
	READ(buf_get_u32le(&r, &out->round));
	READ(buf_get_u32le(&r, &out->nbuckets));
	READ(buf_get_u32le(&r, &out->bucket));
	READ(buf_get_u8(&r, &out->flags));
	CHECK(get_u16(&r, &out->count, why));
	if (out->nbuckets == 0 || out->nbuckets > CRDT_MAX_BUCKETS)
		REFUSE(REJECT_F_NBUCKETS);
	if (out->bucket >= out->nbuckets)
		REFUSE(REJECT_F_BUCKET);
	if (out->flags & ~MSG_CARTS_REPLY)
		REFUSE(REJECT_F_FLAGS);
	out->rest = r;
	for (uint32_t i = 0; i < out->count; i++) {
		const char *id;
		size_t n;
		uint64_t digest;
		CHECK(get_id(&r, &id, &n, why));
		READ(buf_get_u64le(&r, &digest));
	}
	return end_check(&r, why);
}

int msg_next_listing(msg_carts *c, const char **id, size_t *len, uint64_t *digest)
{
	enum reject_field why;
	if (c->count == 0 || get_id(&c->rest, id, len, &why) != 0 ||
	    buf_get_u64le(&c->rest, digest) != 0)
		return CARTD_EDECODE;
	c->count--;
	return 0;
}

void msg_begin_want(buf_writer *w)
{
	put_u16(w, 0);
}

void msg_end_want(buf_writer *w, uint32_t count)
{
	patch_u16(w, 0, count);
}

int msg_get_want(const uint8_t *p, size_t len, uint32_t *count, buf_reader *rest,
                 enum reject_field *why)
{
	buf_reader r;
	buf_reader_init(&r, p, len);
	CHECK(get_u16(&r, count, why));
	if (*count == 0)
		REFUSE(REJECT_F_COUNT);
	*rest = r;
	for (uint32_t i = 0; i < *count; i++) {
		const char *id;
		size_t n;
		CHECK(get_id(&r, &id, &n, why));
	}
	return end_check(&r, why);
}

int msg_next_id(buf_reader *r, const char **id, size_t *len)
{
	enum reject_field why;
	return get_id(r, id, len, &why);
}

void msg_put_status(buf_writer *w, const msg_status *s)
{
	buf_put_u32le(w, s->round);
	buf_put_u32le(w, s->differing);
}

int msg_get_status(const uint8_t *p, size_t len, msg_status *out, enum reject_field *why)
{
	buf_reader r;
	buf_reader_init(&r, p, len);
	READ(buf_get_u32le(&r, &out->round));
	READ(buf_get_u32le(&r, &out->differing));
	return end_check(&r, why);
}
