/*
 * buf.c - bounded byte writers and readers (see buf.h).
 */
#include "crdt/buf.h"

#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"

void buf_writer_fixed(buf_writer *w, uint8_t *mem, size_t cap)
{
	w->data = mem;
	w->len = 0;
	w->cap = cap;
	w->growable = 0;
	w->err = 0;
}

void buf_writer_init(buf_writer *w)
{
	buf_writer_fixed(w, NULL, 0);
	w->growable = 1;
}

void buf_writer_destroy(buf_writer *w)
{
	if (w == NULL)
		return;
	if (w->growable)
		free(w->data);
	w->data = NULL;
	w->len = w->cap = 0;
}

void buf_writer_reset(buf_writer *w)
{
	w->len = 0;
	w->err = 0;
}

uint8_t *buf_reserve(buf_writer *w, size_t n)
{
	if (w->err)
		return NULL;
	if (n > w->cap - w->len) {
		if (!w->growable) {
			w->err = CARTD_ENOSPC;
			return NULL;
		}
		size_t want = w->cap ? w->cap : 256;
		while (want - w->len < n) {
			if (want > SIZE_MAX / 2) {
				w->err = CARTD_ENOMEM;
				return NULL;
			}
			want *= 2;
		}
		uint8_t *p = realloc(w->data, want);
		if (p == NULL) {
			w->err = CARTD_ENOMEM;
			return NULL;
		}
		w->data = p;
		w->cap = want;
	}
	uint8_t *at = w->data + w->len;
	w->len += n;
	return at;
}

void buf_put_u8(buf_writer *w, uint8_t v)
{
	uint8_t *p = buf_reserve(w, 1);
	if (p)
		*p = v;
}

void buf_put_u32le(buf_writer *w, uint32_t v)
{
	uint8_t *p = buf_reserve(w, 4);
	if (p)
		for (int i = 0; i < 4; i++)
			p[i] = (uint8_t)(v >> (8 * i));
}

void buf_put_u64le(buf_writer *w, uint64_t v)
{
	uint8_t *p = buf_reserve(w, 8);
	if (p)
		for (int i = 0; i < 8; i++)
			p[i] = (uint8_t)(v >> (8 * i));
}

void buf_put_varint(buf_writer *w, uint64_t v)
{
	uint8_t *p = buf_reserve(w, buf_varint_size(v));
	if (p == NULL)
		return;
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p = (uint8_t)v;
}

void buf_put_bytes(buf_writer *w, const void *src, size_t n)
{
	uint8_t *p = buf_reserve(w, n);
	if (p && n)
		memcpy(p, src, n);
}

void buf_put_str(buf_writer *w, const void *src, size_t n)
{
	buf_put_varint(w, n);
	buf_put_bytes(w, src, n);
}

void buf_reader_init(buf_reader *r, const void *data, size_t len)
{
	r->p = data;
	r->end = r->p + len;
}

/* LEB128, at most 10 bytes; the 10th may only carry the top bit, and the
 * last byte of a multi-byte varint may not be zero (that would be an
 * overlong, non-canonical encoding of a smaller number). */
int buf_get_varint_long(buf_reader *r, uint64_t *out)
{
	uint64_t v = 0;
	size_t left = buf_left(r);
	for (size_t i = 0; i < 10; i++) {
		if (i >= left)
			return CARTD_ETRUNC;
		uint8_t b = r->p[i];
		if (i == 9 && b > 1)
			return CARTD_EVARINT;
		v |= (uint64_t)(b & 0x7F) << (7 * i);
		if (!(b & 0x80)) {
			if (b == 0 && i > 0)
				return CARTD_EVARINT;
			r->p += i + 1;
			*out = v;
			return 0;
		}
	}
	return CARTD_EVARINT;
}

int buf_get_bytes(buf_reader *r, size_t n, const uint8_t **out)
{
	if (buf_left(r) < n)
		return CARTD_ETRUNC;
	*out = r->p;
	r->p += n;
	return 0;
}

int buf_get_str(buf_reader *r, size_t max, const uint8_t **out, size_t *len)
{
	const uint8_t *save = r->p;
	uint64_t n;
	int rc = buf_get_varint(r, &n);
	if (rc)
		return rc;
	if (n > max) {
		r->p = save;
		return CARTD_ELIMIT;
	}
	rc = buf_get_bytes(r, (size_t)n, out);
	if (rc) {
		r->p = save;
		return rc;
	}
	*len = (size_t)n;
	return 0;
}
