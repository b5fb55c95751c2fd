/*
 * test_codec_buf.c - codec suite, crdt/buf.h: the fixed writer's sticky
 * ENOSPC, the growable writer, varints at every length boundary (and
 * identical to an independent encoder), minimal-varint enforcement, and
 * readers that fail without moving.
 */
#include <check.h>
#include <string.h>

#include "crdt/buf.h"
#include "crdt/error.h"
#include "tests/test_bytes.h"
#include "tests/test_codec.h"

START_TEST(fixed_writer_overflow_is_sticky)
{
	uint8_t mem[6];
	buf_writer w;
	buf_writer_fixed(&w, mem, 6);
	buf_put_u32le(&w, 0x04030201u);
	ck_assert_int_eq(w.err, 0);
	ck_assert_mem_eq(mem, "\x01\x02\x03\x04", 4);
	buf_put_u64le(&w, 1);               /* 8 bytes into 2: refused whole */
	ck_assert_int_eq(w.err, CARTD_ENOSPC);
	ck_assert_uint_eq(w.len, 4);
	buf_put_u8(&w, 9);                  /* would fit, but the error sticks */
	buf_put_varint(&w, 1);
	buf_put_bytes(&w, "x", 1);
	ck_assert_uint_eq(w.len, 4);
	ck_assert_ptr_null(buf_reserve(&w, 1));
	ck_assert_int_eq(w.err, CARTD_ENOSPC);
	buf_writer_reset(&w);
	ck_assert_int_eq(w.err, 0);
	ck_assert_uint_eq(w.len, 0);
	buf_put_str(&w, "abcde", 5);
	ck_assert_int_eq(w.err, 0);
	ck_assert_mem_eq(mem, "\x05" "abcde", 6);
	buf_put_u8(&w, 0);
	ck_assert_int_eq(w.err, CARTD_ENOSPC);
	buf_writer_destroy(&w);             /* no-op for fixed writers */
	buf_writer_destroy(NULL);
}
END_TEST

START_TEST(growable_writer)
{
	buf_writer w;
	buf_writer_init(&w);
	for (uint32_t i = 0; i < 5000; i++)
		buf_put_u32le(&w, i);
	ck_assert_int_eq(w.err, 0);
	ck_assert_uint_eq(w.len, 20000);
	for (uint32_t i = 0; i < 5000; i++) {
		uint32_t v = (uint32_t)w.data[4 * i] | (uint32_t)w.data[4 * i + 1] << 8 |
		             (uint32_t)w.data[4 * i + 2] << 16 | (uint32_t)w.data[4 * i + 3] << 24;
		ck_assert_uint_eq(v, i);
	}
	buf_writer_reset(&w);
	ck_assert_uint_eq(w.len, 0);
	buf_put_u64le(&w, UINT64_C(0x0807060504030201));
	ck_assert_mem_eq(w.data, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	buf_writer_destroy(&w);
}
END_TEST

START_TEST(varint_boundaries)
{
	for (unsigned bits = 0; bits <= 64; bits++) {
		uint64_t base = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits);
		uint64_t vals[3] = { base - 1, base, base + 1 };
		for (int k = 0; k < 3; k++) {
			uint64_t v = vals[k], back = ~v;
			tb want;
			tb_init(&want);
			tb_varint(&want, v);
			buf_writer w;
			buf_writer_init(&w);
			buf_put_varint(&w, v);
			ck_assert_uint_eq(buf_varint_size(v), want.len);
			ck_assert_uint_eq(w.len, want.len);
			ck_assert_mem_eq(w.data, want.p, want.len);
			buf_reader r;
			buf_reader_init(&r, w.data, w.len);
			ck_assert_int_eq(buf_get_varint(&r, &back), 0);
			ck_assert_uint_eq(back, v);
			ck_assert_uint_eq(buf_left(&r), 0);
			buf_writer_destroy(&w);
			tb_free(&want);
		}
	}
}
END_TEST

/* Reads one varint from b; checks the code and that a failure did not move
 * the cursor. */
static void expect_varint(const tb *b, int want, uint64_t value)
{
	buf_reader r;
	uint64_t v = 12345;
	buf_reader_init(&r, b->p, b->len);
	int rc = buf_get_varint(&r, &v);
	ck_assert_msg(rc == want, "varint %s: got %d, want %d", tb_hex(b->p, b->len), rc, want);
	if (rc == 0)
		ck_assert_uint_eq(v, value);
	else
		ck_assert_ptr_eq(r.p, b->p);
}

START_TEST(varint_must_be_minimal)
{
	static const uint64_t vals[] = { 0, 1, 127, 128, 300, UINT32_MAX, UINT64_MAX >> 1 };
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		tb b;
		tb_init(&b);
		size_t min = buf_varint_size(vals[i]);
		tb_varint_n(&b, vals[i], min);
		expect_varint(&b, 0, vals[i]);
		for (size_t n = min + 1; n <= 10; n++) {
			b.len = 0;
			tb_varint_n(&b, vals[i], n);
			expect_varint(&b, CARTD_EVARINT, 0);
		}
		tb_free(&b);
	}
}
END_TEST

START_TEST(varint_range_and_truncation)
{
	tb b;
	tb_init(&b);
	tb_varint(&b, UINT64_MAX);          /* ff*9 01: the largest */
	ck_assert_uint_eq(b.len, 10);
	expect_varint(&b, 0, UINT64_MAX);
	b.p[9] = 0x02;                      /* 2^64: out of range */
	expect_varint(&b, CARTD_EVARINT, 0);
	b.p[9] = 0x7F;
	expect_varint(&b, CARTD_EVARINT, 0);
	b.len = 0;                          /* eleven bytes */
	for (int i = 0; i < 10; i++)
		tb_u8(&b, 0x80);
	tb_u8(&b, 0x01);
	expect_varint(&b, CARTD_EVARINT, 0);
	b.len = 0;
	tb_varint_n(&b, UINT64_MAX, 11);
	expect_varint(&b, CARTD_EVARINT, 0);
	for (size_t n = 0; n < 10; n++) {   /* continuation bit, then nothing */
		b.len = 0;
		for (size_t i = 0; i < n; i++)
			tb_u8(&b, 0x81);
		expect_varint(&b, CARTD_ETRUNC, 0);
	}
	tb_free(&b);
}
END_TEST

START_TEST(readers_fail_without_moving)
{
	const uint8_t in[] = { 3, 'a', 'b', 'c', 5, 'x' };
	buf_reader r;
	buf_reader_init(&r, in, 3);
	uint32_t u32;
	uint64_t u64;
	const uint8_t *p;
	size_t len;
	ck_assert_int_eq(buf_get_u32le(&r, &u32), CARTD_ETRUNC);
	ck_assert_int_eq(buf_get_u64le(&r, &u64), CARTD_ETRUNC);
	ck_assert_int_eq(buf_get_bytes(&r, 4, &p), CARTD_ETRUNC);
	ck_assert_int_eq(buf_get_str(&r, 10, &p, &len), CARTD_ETRUNC);
	ck_assert_ptr_eq(r.p, in);
	buf_reader_init(&r, in, sizeof in);
	ck_assert_int_eq(buf_get_str(&r, 2, &p, &len), CARTD_ELIMIT);
	ck_assert_ptr_eq(r.p, in);
	ck_assert_int_eq(buf_get_str(&r, 3, &p, &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(p, "abc", 3);
	ck_assert_int_eq(buf_get_str(&r, 10, &p, &len), CARTD_ETRUNC);
	ck_assert_ptr_eq(r.p, in + 4);
	uint8_t u8;
	ck_assert_int_eq(buf_get_u8(&r, &u8), 0);
	ck_assert_uint_eq(u8, 5);
	ck_assert_int_eq(buf_get_bytes(&r, 1, &p), 0);
	ck_assert_int_eq(buf_get_u8(&r, &u8), CARTD_ETRUNC);
	ck_assert_int_eq(buf_get_bytes(&r, 0, &p), 0);
	ck_assert_uint_eq(buf_left(&r), 0);
}
END_TEST

TCase *codec_buf_tcase(void)
{
	TCase *tc = tcase_create("buf");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, fixed_writer_overflow_is_sticky);
	tcase_add_test(tc, growable_writer);
	tcase_add_test(tc, varint_boundaries);
	tcase_add_test(tc, varint_must_be_minimal);
	tcase_add_test(tc, varint_range_and_truncation);
	tcase_add_test(tc, readers_fail_without_moving);
	return tc;
}
