/*
 * test_bytes.c - hand-built encodings for tests (see test_bytes.h).
 */
#include "tests/test_bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tb_init(tb *b)
{
	memset(b, 0, sizeof *b);
}

void tb_free(tb *b)
{
	free(b->p);
	tb_init(b);
}

static uint8_t *grow(tb *b, size_t n)
{
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap - b->len < n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (p == NULL)
			abort();
		b->p = p;
		b->cap = cap;
	}
	uint8_t *at = b->p + b->len;
	b->len += n;
	return at;
}

void tb_u8(tb *b, uint8_t v)
{
	*grow(b, 1) = v;
}

void tb_u64le(tb *b, uint64_t v)
{
	uint8_t *p = grow(b, 8);
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void tb_varint(tb *b, uint64_t v)
{
	do {
		uint8_t byte = v & 0x7F;
		v >>= 7;
		tb_u8(b, v ? (uint8_t)(byte | 0x80) : byte);
	} while (v);
}

void tb_varint_n(tb *b, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t byte = v & 0x7F;
		v >>= 7;
		tb_u8(b, i + 1 < n ? (uint8_t)(byte | 0x80) : byte);
	}
}

void tb_raw(tb *b, const void *p, size_t n)
{
	if (n)
		memcpy(grow(b, n), p, n);
}

void tb_str(tb *b, const char *s, size_t n)
{
	tb_varint(b, n);
	tb_raw(b, s, n);
}

const char *tb_hex(const uint8_t *p, size_t n)
{
	static char buf[64 * 2 + 4];
	size_t k = n > 64 ? 64 : n, o = 0;
	for (size_t i = 0; i < k; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%02x", p[i]);
	if (k < n)
		snprintf(buf + o, sizeof buf - o, "...");
	return buf;
}
