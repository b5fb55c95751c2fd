/*
 * codec.c - canonical encoding and strict decoding of contexts and carts
 * (format in codec.h).
 *
 * The decoder is the edge between untrusted bytes and the CRDT: it checks
 * the bytes left before every read and every count before allocating, and
 * accepts exactly the canonical form, so anything it returns satisfies
 * crdt_cart_valid().
 */
#include "crdt/codec.h"

#include <stdlib.h>
#include <string.h>

#include "crdt/cart_internal.h"
#include "crdt/codec_internal.h"
#include "crdt/codec_raw.h"
#include "crdt/error.h"
#include "crdt/siphash.h"

void crdt_encode_ctx(buf_writer *w, const crdt_ctx *c)
{
	uint8_t *p = buf_reserve(w, crdt_ctx_encoded_size(c));
	if (p)
		raw_ctx(p, c);
}

void crdt_encode_cart(buf_writer *w, const crdt_cart *c)
{
	uint8_t *p = buf_reserve(w, crdt_cart_encoded_size(c));
	if (p == NULL)
		return;
	p = raw_ctx(p, &c->ctx);
	p = raw_varint(p, c->n);
	for (uint32_t i = 0; i < c->n; i++)
		p = raw_line(p, &c->lines[i]);
	p = raw_varint(p, crdt_cart_ndefer(c));
	for (uint32_t i = 0; i < crdt_cart_ndefer(c); i++) {
		const crdt_defer *d = &c->defer->v[i];
		p = raw_varint(p, d->sku_len);
		memcpy(p, d->sku, d->sku_len);
		p = raw_ctx(p + d->sku_len, &d->dots);
	}
	raw_sink marks = { p, NULL, NULL };   /* sized above: no drain */
	codec_sink_marks(&marks, c);
}

size_t crdt_ctx_encoded_size(const crdt_ctx *c)
{
	const crdt_range *r = crdt_ctx_ranges(c);
	size_t n = buf_varint_size(c->n);
	for (uint32_t i = 0; i < c->n; i++)
		n += 8 + buf_varint_size(r[i].lo) + buf_varint_size(r[i].hi - r[i].lo);
	return n;
}

size_t crdt_line_encoded_size(const crdt_line *l)
{
	const crdt_entry *e = crdt_line_entries(l);
	size_t n = buf_varint_size(l->sku_len) + l->sku_len + buf_varint_size(l->n);
	for (uint16_t i = 0; i < l->n; i++)
		n += 8 + buf_varint_size(crdt_entry_counter(&e[i])) + 1 +
		     buf_varint_size(crdt_entry_value(&e[i]));
	return n;
}

size_t crdt_cart_encoded_size(const crdt_cart *c)
{
	size_t n = crdt_ctx_encoded_size(&c->ctx) + buf_varint_size(c->n);
	for (uint32_t i = 0; i < c->n; i++)
		n += crdt_line_encoded_size(&c->lines[i]);
	n += buf_varint_size(crdt_cart_ndefer(c));
	for (uint32_t i = 0; i < crdt_cart_ndefer(c); i++) {
		const crdt_defer *d = &c->defer->v[i];
		n += buf_varint_size(d->sku_len) + d->sku_len + crdt_ctx_encoded_size(&d->dots);
	}
	return n + codec_marks_size(c);
}

/* Reads a count and checks it against a limit and the bytes left, so no
 * allocation is ever sized by a number the input merely claims.  n items
 * of min_item bytes fit in what is left exactly when n <= left / min_item;
 * the product, checked, says the same without a division, which cost
 * more than the rest of the call in a checkpoint's profile. */
int codec_get_count(buf_reader *r, uint64_t limit, size_t min_item, uint32_t *out)
{
	uint64_t n, need;
	int rc = buf_get_varint(r, &n);
	if (rc)
		return rc;
	if (n > limit || __builtin_mul_overflow(n, (uint64_t)min_item, &need) ||
	    need > buf_left(r))
		return CARTD_ELIMIT;
	*out = (uint32_t)n;
	return 0;
}

static int decode_range(buf_reader *r, const crdt_range *prev, crdt_range *out)
{
	uint64_t span;
	int rc = buf_get_u64le(r, &out->replica);
	if (rc == 0)
		rc = buf_get_varint(r, &out->lo);
	if (rc == 0)
		rc = buf_get_varint(r, &span);
	if (rc)
		return rc;
	if (out->lo == 0 || out->lo > CRDT_MAX_COUNTER || span > CRDT_MAX_COUNTER - out->lo)
		return CARTD_EBADVALUE;
	out->hi = out->lo + span;
	if (prev == NULL || prev->replica < out->replica)
		return 0;
	if (prev->replica > out->replica || out->lo <= prev->hi)
		return CARTD_EORDER;
	return out->lo == prev->hi + 1 ? CARTD_ENONCANON : 0;
}

int crdt_decode_ctx(buf_reader *r, crdt_ctx *out)
{
	crdt_ctx_destroy(out);
	uint32_t n;
	int rc = codec_get_count(r, UINT32_MAX, CRDT_MIN_RANGE_BYTES, &n);
	if (rc)
		return rc;
	crdt_range one, *v = n <= 1 ? &one : malloc((size_t)n * sizeof *v);
	if (v == NULL)
		return CARTD_ENOMEM;
	for (uint32_t i = 0; i < n && rc == 0; i++)
		rc = decode_range(r, i ? &v[i - 1] : NULL, &v[i]);
	if (rc == 0 && n == 1) {
		out->u.one = one;
		out->n = 1;
	} else if (rc == 0 && n > 1) {
		out->u.many = v;
		out->n = out->cap = n;
		return 0;
	}
	if (v != &one)
		free(v);
	return rc;
}

static int decode_entry(buf_reader *r, const crdt_ctx *ctx, const crdt_entry *prev,
                        crdt_entry *out)
{
	uint64_t replica, counter, value;
	uint8_t kind;
	int rc = buf_get_u64le(r, &replica);
	if (rc == 0)
		rc = buf_get_varint(r, &counter);
	if (rc == 0)
		rc = buf_get_u8(r, &kind);
	if (rc == 0)
		rc = buf_get_varint(r, &value);
	if (rc)
		return rc;
	if (counter == 0 || counter > CRDT_MAX_COUNTER || kind > CRDT_SET ||
	    value == 0 || value > CRDT_MAX_QTY)
		return CARTD_EBADVALUE;
	crdt_dot d = { replica, counter };
	if (prev && crdt_dot_cmp(crdt_entry_dot(prev), d) >= 0)
		return CARTD_EORDER;
	if (ctx && !crdt_ctx_contains(ctx, d))
		return CARTD_ENONCANON;
	*out = crdt_entry_make(d, kind, (uint32_t)value);
	return 0;
}

/* Reads an sku that must sort after prev (prev_len bytes; prev NULL for
 * the first). */
static int decode_sku(buf_reader *r, const char *prev, size_t prev_len, const char **sku,
                      size_t *len)
{
	const uint8_t *p;
	int rc = buf_get_str(r, CRDT_MAX_NAME, &p, len);
	if (rc)
		return rc;
	*sku = (const char *)p;
	if (crdt_check_sku(*sku, *len))
		return CARTD_ESKU;
	if (prev && crdt_name_cmp(prev, prev_len, *sku, *len) >= 0)
		return CARTD_EORDER;
	return 0;
}

int codec_decode_line(buf_reader *r, const crdt_ctx *ctx, const crdt_line *prev,
                      crdt_line *out)
{
	const char *sku;
	size_t len;
	uint32_t n;
	int rc = decode_sku(r, prev ? crdt_line_sku(prev) : NULL, prev ? prev->sku_len : 0, &sku,
	                    &len);
	if (rc)
		return rc;
	rc = codec_get_count(r, CRDT_DECODE_MAX_ENTRIES, CRDT_MIN_ENTRY_BYTES, &n);
	if (rc)
		return rc;
	if (n == 0)
		return CARTD_ENONCANON;
	crdt_entry one, *e = n == 1 ? &one : malloc((size_t)n * sizeof *e);
	if (e == NULL)
		return CARTD_ENOMEM;
	for (uint32_t i = 0; i < n && rc == 0; i++)
		rc = decode_entry(r, ctx, i ? &e[i - 1] : NULL, &e[i]);
	if (rc == 0)
		rc = cart_line_init(out, sku, len, e, (uint16_t)n);
	if (e != &one)
		free(e);
	return rc;
}

static int cmp_dots(const void *a, const void *b)
{
	return crdt_dot_cmp(*(const crdt_dot *)a, *(const crdt_dot *)b);
}

/* One dot is one entry: reject a dot that appears in two lines. */
static int check_unique_dots(const crdt_cart *c)
{
	size_t total = 0, k = 0;
	for (uint32_t i = 0; i < c->n; i++)
		total += c->lines[i].n;
	if (total < 2 || c->n < 2)
		return 0;
	crdt_dot *all = malloc(total * sizeof *all);
	if (all == NULL)
		return CARTD_ENOMEM;
	for (uint32_t i = 0; i < c->n; i++)
		for (uint16_t j = 0; j < c->lines[i].n; j++)
			all[k++] = crdt_entry_dot(&crdt_line_entries(&c->lines[i])[j]);
	qsort(all, total, sizeof *all, cmp_dots);
	int rc = 0;
	for (size_t i = 1; i < total && rc == 0; i++)
		if (crdt_dot_cmp(all[i - 1], all[i]) == 0)
			rc = CARTD_EORDER;
	free(all);
	return rc;
}

static int decode_defer(buf_reader *r, const crdt_cart *c, const crdt_defer *prev,
                        crdt_defer *out)
{
	const char *sku;
	size_t len;
	int rc = decode_sku(r, prev ? prev->sku : NULL, prev ? prev->sku_len : 0, &sku, &len);
	if (rc)
		return rc;
	crdt_ctx dots;
	crdt_ctx_init(&dots);
	rc = crdt_decode_ctx(r, &dots);
	/* Canonical: a deferred remove names at least one dot, and only dots
	 * the context has not seen (seen ones have been applied). */
	if (rc == 0 && (crdt_ctx_empty(&dots) || !crdt_ctx_disjoint(&dots, &c->ctx)))
		rc = CARTD_ENONCANON;
	if (rc == 0)
		rc = cart_defer_init(out, sku, len, &dots);
	crdt_ctx_destroy(&dots);
	return rc;
}

static int decode_defers(buf_reader *r, crdt_cart *c)
{
	uint32_t n;
	int rc = codec_get_count(r, CRDT_DECODE_MAX_LINES, CRDT_MIN_DEFER_BYTES, &n);
	if (rc || n == 0)
		return rc;
	c->defer = cart_defers_alloc(n);
	if (c->defer == NULL)
		return CARTD_ENOMEM;
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		rc = decode_defer(r, c, i ? &c->defer->v[i - 1] : NULL, &c->defer->v[i]);
		if (rc == 0)
			c->defer->n++;
	}
	return rc;
}

/* The cart grammar of codec.h; version 1 (CRDT_CART_V1) has no deferred
 * removes section, and versions 1 and 2 no records or markers. */
static int decode_cart(buf_reader *r, crdt_cart *out, int version)
{
	crdt_cart_destroy(out);
	uint32_t n;
	int rc = crdt_decode_ctx(r, &out->ctx);
	if (rc == 0)
		rc = codec_get_count(r, CRDT_DECODE_MAX_LINES, CRDT_MIN_LINE_BYTES, &n);
	if (rc == 0 && n > 0) {
		out->lines = calloc(n, sizeof *out->lines);
		rc = out->lines ? 0 : CARTD_ENOMEM;
		out->cap = out->lines ? n : 0;
	}
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		rc = codec_decode_line(r, &out->ctx, i ? &out->lines[i - 1] : NULL, &out->lines[i]);
		if (rc == 0)
			out->n++;
	}
	if (rc == 0)
		rc = check_unique_dots(out);
	if (rc == 0 && version >= CRDT_CART_V2)
		rc = decode_defers(r, out);
	if (rc == 0 && version >= CRDT_CART_V3)
		rc = codec_decode_marks(r, out);
	if (rc)
		crdt_cart_destroy(out);
	return rc;
}

int crdt_decode_cart(buf_reader *r, crdt_cart *out)
{
	return decode_cart(r, out, CRDT_CART_V3);
}

int crdt_cart_from_bytes(const void *data, size_t len, crdt_cart *out)
{
	return crdt_cart_from_bytes_version(data, len, CRDT_CART_V3, out);
}

int crdt_ctx_from_bytes(const void *data, size_t len, crdt_ctx *out)
{
	buf_reader r;
	buf_reader_init(&r, data, len);
	int rc = crdt_decode_ctx(&r, out);
	if (rc == 0 && buf_left(&r) != 0) {
		crdt_ctx_destroy(out);
		rc = CARTD_ETRAILING;
	}
	return rc;
}

int crdt_cart_from_bytes_version(const void *data, size_t len, int version, crdt_cart *out)
{
	if (version != CRDT_CART_V1 && version != CRDT_CART_V2 && version != CRDT_CART_V3) {
		crdt_cart_destroy(out);
		return CARTD_EINVAL;
	}
	buf_reader r;
	buf_reader_init(&r, data, len);
	int rc = decode_cart(&r, out, version);
	if (rc == 0 && buf_left(&r) != 0) {
		crdt_cart_destroy(out);
		rc = CARTD_ETRAILING;
	}
	return rc;
}

/* Fixed, public SipHash keys: digests must agree across peers, and they
 * protect nothing (datagrams are authenticated before anyone hashes them). */
static const unsigned char digest_key[16] = "cartd-digest-v1";
static const unsigned char name_key[16] = "cartd-bucket-v1";

int crdt_cart_digest(const char *id, size_t id_len, const crdt_cart *c,
                     buf_writer *scratch, uint64_t *out)
{
	buf_writer_reset(scratch);
	buf_put_str(scratch, id, id_len);
	crdt_encode_cart(scratch, c);
	if (scratch->err)
		return scratch->err;
	*out = siphash24(siphash_key_from(digest_key), scratch->data, scratch->len);
	return 0;
}

uint64_t crdt_name_hash(const char *s, size_t len)
{
	return siphash24(siphash_key_from(name_key), s, len);
}
