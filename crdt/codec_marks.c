/*
 * codec_marks.c - the two sections cart format 3 adds after the deferred
 * removes: idempotency records and close markers (grammar in codec.h).
 *
 * The decoder reads them as strictly as the rest of the cart: counts are
 * bounded by their limits and by the bytes left before anything is
 * allocated, and the result must pass the same validity checks the join
 * relies on (sorted, unique, pruned, within totals), or it is refused.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/cart_internal.h"
#include "crdt/codec.h"
#include "crdt/codec_internal.h"
#include "crdt/codec_raw.h"
#include "crdt/error.h"

static size_t keyrec_size(const crdt_keyrec *r)
{
	return CRDT_KEY_HASH_BYTES + 8 + buf_varint_size(r->dot.counter) +
	       buf_varint_size(r->at_ms) + buf_varint_size(r->until_ms - r->at_ms);
}

static size_t close_head_size(const crdt_close *m)
{
	return 8 + buf_varint_size(m->id.counter) + 8 + buf_varint_size(m->key.counter) +
	       buf_varint_size(m->at_ms) + buf_varint_size(m->total) + buf_varint_size(m->n);
}

size_t codec_marks_size(const crdt_cart *c)
{
	size_t n = buf_varint_size(crdt_cart_nkeys(c)) + buf_varint_size(crdt_cart_ncloses(c));
	for (uint32_t i = 0; i < crdt_cart_nkeys(c); i++)
		n += keyrec_size(&c->keys->v[i]);
	for (uint32_t i = 0; i < crdt_cart_ncloses(c); i++) {
		const crdt_close *m = &c->closes->v[i];
		n += close_head_size(m);
		for (uint32_t k = 0; k < m->n; k++)
			n += crdt_line_encoded_size(&m->lines[k]);
	}
	return n;
}

void codec_sink_marks(raw_sink *s, const crdt_cart *c)
{
	uint8_t *p;

	s->p = raw_varint(raw_room(s, 10), crdt_cart_nkeys(c));
	for (uint32_t i = 0; i < crdt_cart_nkeys(c); i++) {
		const crdt_keyrec *r = &c->keys->v[i];
		p = raw_room(s, CRDT_KEY_HASH_BYTES + 8 + 3 * 10);
		memcpy(p, r->hash, CRDT_KEY_HASH_BYTES);
		p = raw_u64(p + CRDT_KEY_HASH_BYTES, r->dot.replica);
		p = raw_varint(p, r->dot.counter);
		p = raw_varint(p, r->at_ms);
		s->p = raw_varint(p, r->until_ms - r->at_ms);
	}
	s->p = raw_varint(raw_room(s, 10), crdt_cart_ncloses(c));
	for (uint32_t i = 0; i < crdt_cart_ncloses(c); i++) {
		const crdt_close *m = &c->closes->v[i];
		p = raw_u64(raw_room(s, 2 * 8 + 5 * 10), m->id.replica);
		p = raw_varint(p, m->id.counter);
		p = raw_u64(p, m->key.replica);
		p = raw_varint(p, m->key.counter);
		p = raw_varint(p, m->at_ms);
		p = raw_varint(p, m->total);
		s->p = raw_varint(p, m->n);
		/* A frozen line can hold a line's every entry: a piece each. */
		for (uint32_t k = 0; k < m->n; k++) {
			const crdt_line *l = &m->lines[k];
			const crdt_entry *e = crdt_line_entries(l);
			p = raw_varint(raw_room(s, RAW_PIECE_MAX), l->sku_len);
			memcpy(p, crdt_line_sku(l), l->sku_len);
			s->p = raw_varint(p + l->sku_len, l->n);
			for (uint16_t j = 0; j < l->n; j++) {
				p = raw_u64(raw_room(s, 8 + 10 + 1 + 10), e[j].replica);
				p = raw_varint(p, crdt_entry_counter(&e[j]));
				*p++ = (uint8_t)crdt_entry_kind(&e[j]);
				s->p = raw_varint(p, crdt_entry_value(&e[j]));
			}
		}
	}
}

static int decode_keyrec(buf_reader *r, crdt_keyrec *out)
{
	const uint8_t *h;
	uint64_t span;
	int rc = buf_get_bytes(r, CRDT_KEY_HASH_BYTES, &h);
	if (rc == 0)
		rc = buf_get_u64le(r, &out->dot.replica);
	if (rc == 0)
		rc = buf_get_varint(r, &out->dot.counter);
	if (rc == 0)
		rc = buf_get_varint(r, &out->at_ms);
	if (rc == 0)
		rc = buf_get_varint(r, &span);
	if (rc)
		return rc;
	memcpy(out->hash, h, CRDT_KEY_HASH_BYTES);
	if (out->dot.counter == 0 || out->dot.counter > CRDT_MAX_COUNTER ||
	    __builtin_add_overflow(out->at_ms, span, &out->until_ms))
		return CARTD_EBADVALUE;
	return 0;
}

static int decode_keys(buf_reader *r, crdt_cart *c)
{
	uint32_t n;
	int rc = codec_get_count(r, CRDT_MAX_KEYS, CRDT_MIN_KEYREC_BYTES, &n);
	if (rc || n == 0)
		return rc;
	c->keys = cart_keys_alloc(n);
	if (c->keys == NULL)
		return CARTD_ENOMEM;
	for (uint32_t i = 0; rc == 0 && i < n; i++)
		rc = decode_keyrec(r, &c->keys->v[i]);
	/* Sorted, unique and already pruned: the only form a join leaves. */
	if (rc == 0 && !cart_keys_valid(c->keys))
		rc = CARTD_ENONCANON;
	return rc;
}

static int decode_close(buf_reader *r, crdt_close *m)
{
	uint64_t total;
	uint32_t n;
	int rc = buf_get_u64le(r, &m->id.replica);
	if (rc == 0)
		rc = buf_get_varint(r, &m->id.counter);
	if (rc == 0)
		rc = buf_get_u64le(r, &m->key.replica);
	if (rc == 0)
		rc = buf_get_varint(r, &m->key.counter);
	if (rc == 0)
		rc = buf_get_varint(r, &m->at_ms);
	if (rc == 0)
		rc = buf_get_varint(r, &total);
	if (rc)
		return rc;
	if (total == 0 || total > CRDT_DECODE_MAX_CLOSE_ENTRIES)
		return CARTD_EBADVALUE;
	m->total = (uint32_t)total;
	rc = codec_get_count(r, CRDT_DECODE_MAX_LINES, CRDT_MIN_LINE_BYTES, &n);
	if (rc)
		return rc;
	if (n == 0)
		return CARTD_ENONCANON;
	m->lines = calloc(n, sizeof *m->lines);
	if (m->lines == NULL)
		return CARTD_ENOMEM;
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		rc = codec_decode_line(r, NULL, i ? &m->lines[i - 1] : NULL, &m->lines[i]);
		if (rc == 0)
			m->n++;
	}
	return rc;
}

static int decode_closes(buf_reader *r, crdt_cart *c)
{
	uint32_t n;
	int rc = codec_get_count(r, CRDT_MAX_CLOSES, CRDT_MIN_CLOSE_BYTES, &n);
	if (rc || n == 0)
		return rc;
	c->closes = cart_closes_alloc(n);
	if (c->closes == NULL)
		return CARTD_ENOMEM;
	c->closes->n = 0;
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		/* Counted before it is complete, so a failure frees its lines. */
		c->closes->n++;
		rc = decode_close(r, &c->closes->v[i]);
	}
	if (rc == 0 && !cart_closes_valid(c->closes))
		rc = CARTD_ENONCANON;
	return rc;
}

int codec_decode_marks(buf_reader *r, crdt_cart *c)
{
	int rc = decode_keys(r, c);
	return rc ? rc : decode_closes(r, c);
}
