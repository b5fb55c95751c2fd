/*
 * store_digest.c - incremental cart digests (see store_digest.h).
 *
 * Why a sum of entry hashes rather than a hash of the encoding: hashing the
 * whole canonical encoding made every write cost O(cart), which put a
 * 50-line cart's add at twice the cost of a 1-line cart's and made the
 * store's joins slower than a plain ORSWOT.  The sum is not a collision-
 * resistant set hash against an adversary who chooses entries, and need not
 * be: digests only steer anti-entropy between authenticated peers, and a
 * collision costs a missed repair until the carts change again.
 */
#include "crdt/store_digest.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/codec_internal.h"
#include "crdt/codec_raw.h"
#include "crdt/siphash.h"
#include "crdt/store.h"

#define SHARED_STACK 256u         /* dst lines marked without malloc */

/* Fixed, public SipHash keys: every peer must compute the same digests.
 * "v2": digests of the first form hashed the whole encoding. */
static const unsigned char entry_key[16] = "cartd-entry-v2";
static const unsigned char digest_key[16] = "cartd-digest-v2";

/* Hash of one live entry: str(sku), replica and the entry word (counter,
 * kind and value), so that any change of any field changes the hash.
 * Written raw, without a writer's bounds checks: every write and join
 * hashes the entries of the lines it touches. */
static uint64_t entry_hash(const crdt_line *l, const crdt_entry *e)
{
	uint8_t in[1 + CRDT_MAX_NAME + 16], *p = in;

	*p++ = l->sku_len;
	memcpy(p, crdt_line_sku(l), l->sku_len);
	p = raw_u64(p + l->sku_len, e->replica);
	p = raw_u64(p, e->packed);
	return siphash24(siphash_key_from(entry_key), in, (size_t)(p - in));
}

uint64_t store_line_sum(const crdt_line *l)
{
	uint64_t sum = 0;

	if (l == NULL)
		return 0;
	const crdt_entry *e = crdt_line_entries(l);
	for (uint16_t i = 0; i < l->n; i++)
		sum += entry_hash(l, &e[i]);
	return sum;
}

uint64_t store_cart_sum(const crdt_cart *c)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < c->n; i++)
		sum += store_line_sum(&c->lines[i]);
	return sum;
}

/* Sum of the entries of l whose dots ctx holds. */
static uint64_t covered_sum(const crdt_line *l, const crdt_ctx *ctx)
{
	uint64_t sum = 0;
	const crdt_entry *e = crdt_line_entries(l);

	for (uint16_t i = 0; i < l->n; i++)
		if (crdt_ctx_contains(ctx, crdt_entry_dot(&e[i])))
			sum += entry_hash(l, &e[i]);
	return sum;
}

/* Calls fn for each distinct sku src names, in its lines and its deferred
 * removes (both sorted by sku), in order. */
static void each_named(const crdt_cart *src, void (*fn)(const char *, size_t, void *), void *arg)
{
	uint32_t i = 0, j = 0, nd = crdt_cart_ndefer(src);
	while (i < src->n || j < nd) {
		const crdt_line *l = i < src->n ? &src->lines[i] : NULL;
		const crdt_defer *d = j < nd ? &src->defer->v[j] : NULL;
		int cmp = !l ? 1 : !d ? -1
		          : crdt_name_cmp(crdt_line_sku(l), l->sku_len, d->sku, d->sku_len);
		if (cmp <= 0) {
			fn(crdt_line_sku(l), l->sku_len, arg);
			i++;
			j += cmp == 0;
		} else {
			fn(d->sku, d->sku_len, arg);
			j++;
		}
	}
}

struct named {
	const crdt_cart *dst;
	bool *in;           /* mark_one: dst lines named */
	uint64_t sum;       /* readd_one */
};

static void mark_one(const char *sku, size_t len, void *arg)
{
	struct named *nm = arg;
	const crdt_line *l = crdt_cart_find(nm->dst, sku, len);
	if (l != NULL)
		nm->in[l - nm->dst->lines] = true;
}

static void readd_one(const char *sku, size_t len, void *arg)
{
	struct named *nm = arg;
	nm->sum += store_line_sum(crdt_cart_find(nm->dst, sku, len));
}

/* Marks in[i] for each line i of dst whose sku src names.  A delta names a
 * line or two: binary searches, which touch a few of dst's skus, beat a
 * merge walk that compares every one of them (each a cache miss in a big
 * store). */
static void mark_shared(const crdt_cart *dst, const crdt_cart *src, bool *in)
{
	struct named nm = { dst, in, 0 };
	memset(in, 0, dst->n * sizeof *in);
	each_named(src, mark_one, &nm);
}

uint64_t store_join_removed(const crdt_cart *dst, const crdt_cart *src, bool disjoint)
{
	uint64_t sum = 0;
	/* dst's live entries lie in its context, so a src context sharing no
	 * dot with it (disjoint: a new write's delta) removes none: no entry
	 * but those of the lines src names to visit. */
	bool small[SHARED_STACK], *in = dst->n <= SHARED_STACK ? small : malloc(dst->n);

	if (in == NULL) {
		/* Cannot fail: without memory, mark lines one sku at a time. */
		for (uint32_t i = 0; i < dst->n; i++) {
			const crdt_line *l = &dst->lines[i];
			bool named = crdt_cart_find(src, crdt_line_sku(l), l->sku_len) != NULL;
			for (uint32_t j = 0; !named && j < crdt_cart_ndefer(src); j++)
				named = crdt_name_cmp(src->defer->v[j].sku, src->defer->v[j].sku_len,
				                      crdt_line_sku(l), l->sku_len) == 0;
			if (named)
				sum += store_line_sum(l);
			else if (!disjoint)
				sum += covered_sum(l, &src->ctx);
		}
		return sum;
	}
	mark_shared(dst, src, in);
	for (uint32_t i = 0; i < dst->n; i++) {
		if (in[i])
			sum += store_line_sum(&dst->lines[i]);
		else if (!disjoint)
			sum += covered_sum(&dst->lines[i], &src->ctx);
	}
	if (in != small)
		free(in);
	return sum;
}

uint64_t store_join_readded(const crdt_cart *dst, const crdt_cart *src)
{
	struct named nm = { dst, NULL, 0 };
	each_named(src, readd_one, &nm);
	return nm.sum;
}

/*
 * The digest's input is written a piece at a time into a window on the
 * stack, which is hashed and emptied as it fills: computing a digest
 * allocates nothing, so it cannot fail, and no write has to measure its
 * cart or reserve memory for the digest that will follow it.  The window
 * holds most carts whole (one id, a few context ranges); a larger one
 * drains once per window's worth.
 */
#define DIGEST_WINDOW 512u

_Static_assert(DIGEST_WINDOW >= RAW_PIECE_MAX + 8u, "a piece fits after a drain");

struct digest_sink {
	raw_sink out;                 /* first: the drain is handed &out */
	siphash_state h;
	uint8_t win[DIGEST_WINDOW];
};

/* Hashes the window's whole 8-byte blocks and keeps the 0..7 bytes left. */
static void digest_drain(raw_sink *s)
{
	struct digest_sink *d = (struct digest_sink *)(void *)s;
	size_t n = (size_t)(s->p - d->win), whole = n / 8;

	siphash_blocks(&d->h, d->win, whole);
	memmove(d->win, d->win + 8 * whole, n % 8);
	s->p = d->win + n % 8;
}

uint64_t store_digest_finish(const char *id, size_t id_len, const crdt_cart *c, uint64_t sum)
{
	struct digest_sink d;
	uint8_t *p;

	d.out = (raw_sink){ d.win, d.win + sizeof d.win, digest_drain };
	siphash_begin(&d.h, siphash_key_from(digest_key));
	p = raw_varint(raw_room(&d.out, RAW_PIECE_MAX), id_len);
	memcpy(p, id, id_len);
	d.out.p = p + id_len;
	raw_sink_ctx(&d.out, &c->ctx);
	p = raw_u64(raw_room(&d.out, 8 + 10), sum);
	d.out.p = raw_varint(p, crdt_cart_ndefer(c));
	for (uint32_t i = 0; i < crdt_cart_ndefer(c); i++) {
		const crdt_defer *df = &c->defer->v[i];
		p = raw_varint(raw_room(&d.out, RAW_PIECE_MAX), df->sku_len);
		memcpy(p, df->sku, df->sku_len);
		d.out.p = p + df->sku_len;
		raw_sink_ctx(&d.out, &df->dots);
	}
	codec_sink_marks(&d.out, c);
	size_t n = (size_t)(d.out.p - d.win);
	siphash_blocks(&d.h, d.win, n / 8);
	return siphash_end(&d.h, d.win + (n & ~(size_t)7), n & 7);
}

uint64_t crdt_store_cart_digest(const char *id, size_t id_len, const crdt_cart *c)
{
	return store_digest_finish(id, id_len, c, store_cart_sum(c));
}
