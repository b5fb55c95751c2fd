/*
 * buf.h - bounded byte writers and readers: the only way cartd turns values
 * into bytes and back.
 *
 * Writer: appends to a caller-owned fixed buffer, or to a growable heap
 * buffer.  A writer that runs out of room (fixed) or memory (growable) sets
 * its sticky error and ignores further writes, so encoders check once at the
 * end instead of after every field.
 *
 * Reader: a cursor and an end.  Every read checks the bytes left first and
 * fails without moving on error; integers have explicit byte order (fixed
 * little-endian, or LEB128 varints that must be minimal).  Nothing here
 * allocates.
 */
#ifndef CRDT_BUF_H
#define CRDT_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/error.h"

typedef struct buf_writer {
	uint8_t *data;
	size_t len;
	size_t cap;
	int growable;   /* 1: data is heap memory the writer may realloc */
	int err;        /* sticky: 0, CARTD_ENOSPC or CARTD_ENOMEM */
} buf_writer;

/* Writer over caller memory [mem, mem+cap); never allocates. */
void buf_writer_fixed(buf_writer *w, uint8_t *mem, size_t cap);
/* Growable writer starting empty; release with buf_writer_destroy. */
void buf_writer_init(buf_writer *w);
/* Frees a growable writer's memory; no-op for fixed writers.  NULL-safe. */
void buf_writer_destroy(buf_writer *w);
/* Drops the contents, keeps the memory and clears the error. */
void buf_writer_reset(buf_writer *w);

void buf_put_u8(buf_writer *w, uint8_t v);
void buf_put_u32le(buf_writer *w, uint32_t v);
void buf_put_u64le(buf_writer *w, uint64_t v);
void buf_put_varint(buf_writer *w, uint64_t v);
void buf_put_bytes(buf_writer *w, const void *p, size_t n);
/* varint length then the bytes. */
void buf_put_str(buf_writer *w, const void *p, size_t n);

/* Reserves n bytes and returns where they start, or NULL (error set). */
uint8_t *buf_reserve(buf_writer *w, size_t n);

/* Bytes a varint of v occupies (1..10): 7 bits a byte, at least one.
 * Inline and without a loop: the encoders size every field before they
 * write, and the store sizes contexts and deltas on every write. */
static inline size_t buf_varint_size(uint64_t v)
{
	unsigned bits = 64u - (unsigned)__builtin_clzll(v | 1u);
	return (bits + 6u) / 7u;
}

typedef struct buf_reader {
	const uint8_t *p;
	const uint8_t *end;
} buf_reader;

void buf_reader_init(buf_reader *r, const void *data, size_t len);
static inline size_t buf_left(const buf_reader *r) { return (size_t)(r->end - r->p); }

/* Each returns 0, CARTD_ETRUNC, or (varints) CARTD_EVARINT for a varint that
 * is longer than needed or above 2^64-1.  On error the cursor is unchanged.
 * The fixed-width ones and a one-byte varint are inline: every decoder
 * (deltas off the wire, the log, a checkpoint's records) reads its fields
 * through them, a few dozen per cart. */
static inline int buf_get_u8(buf_reader *r, uint8_t *out)
{
	if (buf_left(r) < 1)
		return CARTD_ETRUNC;
	*out = *r->p++;
	return 0;
}

static inline int buf_get_u32le(buf_reader *r, uint32_t *out)
{
	if (buf_left(r) < 4)
		return CARTD_ETRUNC;
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)r->p[i] << (8 * i);
	r->p += 4;
	*out = v;
	return 0;
}

static inline int buf_get_u64le(buf_reader *r, uint64_t *out)
{
	if (buf_left(r) < 8)
		return CARTD_ETRUNC;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	*out = v;
	return 0;
}

/* buf_get_varint of two bytes or more (or none left). */
int buf_get_varint_long(buf_reader *r, uint64_t *out);

static inline int buf_get_varint(buf_reader *r, uint64_t *out)
{
	if (r->p < r->end && r->p[0] < 0x80) {
		*out = *r->p++;
		return 0;
	}
	return buf_get_varint_long(r, out);
}
/* Points *out at the next n bytes (no copy). */
int buf_get_bytes(buf_reader *r, size_t n, const uint8_t **out);
/* varint length (<= max, else CARTD_ELIMIT) then that many bytes. */
int buf_get_str(buf_reader *r, size_t max, const uint8_t **out, size_t *len);

#endif
