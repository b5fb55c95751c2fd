/*
 * test_bytes.h - a tiny growable byte vector for building encodings by hand
 * in tests, written independently of crdt/buf.c so that the two can check
 * each other.  Aborts the process on allocation failure (tests only).
 */
#ifndef TEST_BYTES_H
#define TEST_BYTES_H

#include <stddef.h>
#include <stdint.h>

typedef struct tb {
	uint8_t *p;
	size_t len;
	size_t cap;
} tb;

void tb_init(tb *b);
void tb_free(tb *b);
void tb_u8(tb *b, uint8_t v);
void tb_u64le(tb *b, uint64_t v);
/* Minimal LEB128. */
void tb_varint(tb *b, uint64_t v);
/* LEB128 of v stretched to exactly n bytes (overlong when n is larger than
 * needed); n in 1..16. */
void tb_varint_n(tb *b, uint64_t v, size_t n);
void tb_raw(tb *b, const void *p, size_t n);
/* varint length, then the bytes of s. */
void tb_str(tb *b, const char *s, size_t n);
/* Hex of up to 64 bytes, for failure messages; static buffer. */
const char *tb_hex(const uint8_t *p, size_t n);

#endif
