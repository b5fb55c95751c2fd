/*
 * codec_raw.h - the encoders' raw writers, shared by codec.c and
 * codec_marks.c.  Not part of the API.
 *
 * The encoders size the value first and reserve once, then write through
 * a raw pointer: a bounds check per field was most of the digest's cost.
 * Each writer returns the position after what it wrote.
 *
 * A raw_sink lets an encoder also write into a window of bounded size that
 * its owner drains as it fills (the store's digests hash their input that
 * way, store_digest.c, so that computing one allocates nothing): the
 * encoder asks raw_room for each piece, never more than RAW_PIECE_MAX
 * bytes, writes it and moves p on.  With no drain the window holds the
 * whole encoding, sized beforehand, and raw_room costs one test.
 */
#ifndef CRDT_CODEC_RAW_H
#define CRDT_CODEC_RAW_H

#include <stdint.h>
#include <string.h>

#include "crdt/cart.h"

static inline uint8_t *raw_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static inline uint8_t *raw_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 8;
}

static inline uint8_t *raw_ctx(uint8_t *p, const crdt_ctx *c)
{
	const crdt_range *r = crdt_ctx_ranges(c);
	p = raw_varint(p, c->n);
	for (uint32_t i = 0; i < c->n; i++) {
		p = raw_u64(p, r[i].replica);
		p = raw_varint(p, r[i].lo);
		p = raw_varint(p, r[i].hi - r[i].lo);
	}
	return p;
}

/* The largest piece: a name's length varint and the name, and the count
 * varint that follows a line's sku. */
#define RAW_PIECE_MAX (CRDT_MAX_NAME + 2u + 10u)

typedef struct raw_sink {
	uint8_t *p;                         /* next byte */
	uint8_t *end;                       /* end of the window (with drain) */
	void (*drain)(struct raw_sink *s);  /* leaves room for RAW_PIECE_MAX; or NULL */
} raw_sink;

/* Where the next piece of up to n (<= RAW_PIECE_MAX) bytes goes. */
static inline uint8_t *raw_room(raw_sink *s, size_t n)
{
	if (s->drain != NULL && (size_t)(s->end - s->p) < n)
		s->drain(s);
	return s->p;
}

/* raw_ctx, a range at a time. */
static inline void raw_sink_ctx(raw_sink *s, const crdt_ctx *c)
{
	const crdt_range *r = crdt_ctx_ranges(c);
	s->p = raw_varint(raw_room(s, 10), c->n);
	for (uint32_t i = 0; i < c->n; i++) {
		uint8_t *p = raw_u64(raw_room(s, 8 + 10 + 10), r[i].replica);
		p = raw_varint(p, r[i].lo);
		s->p = raw_varint(p, r[i].hi - r[i].lo);
	}
}

static inline uint8_t *raw_line(uint8_t *p, const crdt_line *l)
{
	const crdt_entry *e = crdt_line_entries(l);
	p = raw_varint(p, l->sku_len);
	memcpy(p, crdt_line_sku(l), l->sku_len);
	p = raw_varint(p + l->sku_len, l->n);
	for (uint16_t i = 0; i < l->n; i++) {
		p = raw_u64(p, e[i].replica);
		p = raw_varint(p, crdt_entry_counter(&e[i]));
		*p++ = (uint8_t)crdt_entry_kind(&e[i]);
		p = raw_varint(p, crdt_entry_value(&e[i]));
	}
	return p;
}

#endif
