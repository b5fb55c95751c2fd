/*
 * check_codec.c - the strict decoder against malformed input: every error
 * of codec.h on a hand-built encoding (built with test_bytes.h, not with
 * crdt/), the decode limits at their boundaries, huge counts, and trailing
 * bytes.  On every error the output must be empty (and, under the
 * sanitizers and valgrind, nothing leaks and nothing huge is allocated).
 * buf.h tests are in test_codec_buf.c; truncation and mutation of random
 * valid encodings in test_codec_random.c; crdt/siphash.h against libsodium
 * in test_codec_siphash.c.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/codec_internal.h"
#include "crdt/error.h"
#include "tests/test_bytes.h"
#include "tests/test_codec.h"
#include "tests/test_util.h"

#define RA UINT64_C(1)
#define RB UINT64_C(0x8000000000000000)   /* sorts after RA as a u64 */
#define MAXC CRDT_MAX_COUNTER

static void range(tb *b, uint64_t rep, uint64_t lo, uint64_t span)
{
	tb_u64le(b, rep);
	tb_varint(b, lo);
	tb_varint(b, span);
}

static void entry(tb *b, uint64_t rep, uint64_t ctr, uint8_t kind, uint64_t value)
{
	tb_u64le(b, rep);
	tb_varint(b, ctr);
	tb_u8(b, kind);
	tb_varint(b, value);
}

/* A context of A's dots 1..10 and B's 1..10. */
static void ctx_ab(tb *b)
{
	tb_varint(b, 2);
	range(b, RA, 1, 9);
	range(b, RB, 1, 9);
}

static void line_head(tb *b, const char *sku, uint64_t nentries)
{
	tb_str(b, sku, strlen(sku));
	tb_varint(b, nentries);
}

/* Decodes b as a context into a non-empty output. */
static int decode_ctx(const tb *b, crdt_ctx *out)
{
	crdt_ctx_init(out);
	ck_assert_int_eq(crdt_ctx_add_range(out, 42, 1, 5), 0);
	return crdt_ctx_from_bytes(b->p, b->len, out);
}

static void expect_ctx(tb *b, int want, const char *what)
{
	crdt_ctx out;
	int rc = decode_ctx(b, &out);
	ck_assert_msg(rc == want, "%s: got %d (%s), want %d; input %s", what, rc,
	              cartd_errname(rc), want, tb_hex(b->p, b->len));
	if (rc) {
		ck_assert_msg(crdt_ctx_empty(&out), "%s: output not empty after an error", what);
	} else {
		buf_writer w;
		buf_writer_init(&w);
		crdt_encode_ctx(&w, &out);
		ck_assert(crdt_ctx_valid(&out));
		ck_assert_msg(w.len == b->len && memcmp(w.data, b->p, w.len) == 0,
		              "%s: accepted but not canonical", what);
		buf_writer_destroy(&w);
	}
	crdt_ctx_destroy(&out);
	b->len = 0;
}

/* Decodes b as a cart into a non-empty output; on success checks that the
 * cart is valid and re-encodes to the same bytes. */
/*
 * The carts below are written in cart format 1 (no deferred removes
 * section; codec.h), whose grammar formats 2 and 3 share up to the lines:
 * b is decoded as format 1, and when it is valid, b plus the empty
 * deferred removes section must decode as format 2, and b plus the three
 * empty sections as format 3, re-encoding to those bytes.  The deferred
 * removes section has tests of its own (cart_defer_forms), and so do the
 * records and markers of format 3 (check_marks.c).
 */
static void expect_cart_version(tb *b, int version, int want, const char *what)
{
	crdt_cart out;
	crdt_cart_init(&out);
	tu_add(&out, 42, "prefilled", 1, NULL);
	int rc = crdt_cart_from_bytes_version(b->p, b->len, version, &out);
	ck_assert_msg(rc == want, "%s (format %d): got %d (%s), want %d; input %s", what,
	              version, rc, cartd_errname(rc), want, tb_hex(b->p, b->len));
	if (rc) {
		tu_assert_empty(&out, what);
	} else if (version == CRDT_CART_V3) {
		tb again;
		tb_init(&again);
		tu_encode(&out, &again);
		ck_assert(crdt_cart_valid(&out));
		ck_assert_msg(again.len == b->len && memcmp(again.p, b->p, b->len) == 0,
		              "%s: accepted but not canonical", what);
		tb_free(&again);
	}
	crdt_cart_destroy(&out);
}

static void expect_cart(tb *b, int want, const char *what)
{
	expect_cart_version(b, CRDT_CART_V1, want, what);
	if (want == 0) {
		tb_varint(b, 0);
		expect_cart_version(b, CRDT_CART_V2, 0, what);
		tb_varint(b, 0);
		tb_varint(b, 0);
		expect_cart_version(b, CRDT_CART_V3, 0, what);
	}
	b->len = 0;
}

/* Format 2 carts (b holds one, deferred removes included); valid ones
 * with the two empty sections of format 3 must be format 3. */
static void expect_cart2(tb *b, int want, const char *what)
{
	expect_cart_version(b, CRDT_CART_V2, want, what);
	if (want == 0) {
		tb_varint(b, 0);
		tb_varint(b, 0);
		expect_cart_version(b, CRDT_CART_V3, 0, what);
	}
	b->len = 0;
}

START_TEST(ctx_valid_forms)
{
	tb b;
	tb_init(&b);
	tb_varint(&b, 0);
	expect_ctx(&b, 0, "empty context");
	ctx_ab(&b);
	expect_ctx(&b, 0, "two replicas");
	tb_varint(&b, 3);
	range(&b, RA, 1, 2);
	range(&b, RA, 5, 0);                /* a cloud: gap at 4 */
	range(&b, RB, MAXC, 0);             /* the largest counter */
	expect_ctx(&b, 0, "cloud and max counter");
	tb_varint(&b, 1);
	range(&b, 0, 1, MAXC - 1);          /* replica 0, every counter */
	expect_ctx(&b, 0, "full range");
	tb_free(&b);
}
END_TEST

START_TEST(ctx_order_and_canon)
{
	tb b;
	tb_init(&b);
	tb_varint(&b, 2);
	range(&b, RA, 1, 1);
	range(&b, RA, 3, 1);                /* [1,2] and [3,4] touch */
	expect_ctx(&b, CARTD_ENONCANON, "adjacent ranges");
	tb_varint(&b, 2);
	range(&b, RA, 1, 2);
	range(&b, RA, 2, 5);
	expect_ctx(&b, CARTD_EORDER, "overlapping ranges");
	tb_varint(&b, 2);
	range(&b, RA, 4, 0);
	range(&b, RA, 4, 0);
	expect_ctx(&b, CARTD_EORDER, "duplicated range");
	tb_varint(&b, 2);
	range(&b, RA, 6, 0);
	range(&b, RA, 2, 0);
	expect_ctx(&b, CARTD_EORDER, "ranges of one replica unsorted");
	tb_varint(&b, 2);
	range(&b, RB, 1, 0);
	range(&b, RA, 1, 0);
	expect_ctx(&b, CARTD_EORDER, "replicas unsorted (u64 order)");
	tb_free(&b);
}
END_TEST

START_TEST(ctx_bad_values)
{
	tb b;
	tb_init(&b);
	tb_varint(&b, 1);
	range(&b, RA, 0, 3);
	expect_ctx(&b, CARTD_EBADVALUE, "range lo = 0");
	tb_varint(&b, 1);
	range(&b, RA, MAXC + 1, 0);
	expect_ctx(&b, CARTD_EBADVALUE, "range lo > max counter");
	tb_varint(&b, 1);
	range(&b, RA, MAXC, 1);
	expect_ctx(&b, CARTD_EBADVALUE, "range hi > max counter");
	tb_varint(&b, 1);
	range(&b, RA, UINT64_MAX, 1);
	expect_ctx(&b, CARTD_EBADVALUE, "range hi wraps below lo");
	tb_varint(&b, 1);
	range(&b, RA, 2, UINT64_MAX);
	expect_ctx(&b, CARTD_EBADVALUE, "range span wraps hi below lo");
	tb_free(&b);
}
END_TEST

START_TEST(ctx_varints_and_counts)
{
	tb b;
	tb_init(&b);
	tb_varint_n(&b, 0, 2);
	expect_ctx(&b, CARTD_EVARINT, "overlong count");
	tb_varint(&b, 1);
	tb_u64le(&b, RA);
	tb_varint_n(&b, 1, 2);
	tb_varint(&b, 0);
	expect_ctx(&b, CARTD_EVARINT, "overlong lo");
	tb_varint(&b, 1);
	tb_u64le(&b, RA);
	tb_varint(&b, 1);
	tb_raw(&b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10);
	expect_ctx(&b, CARTD_EVARINT, "span above 2^64");
	static const uint64_t huge[] = { 2, UINT32_MAX, UINT64_C(1) << 32, UINT64_C(1) << 40,
	                                 UINT64_MAX };
	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		tb_varint(&b, huge[i]);
		range(&b, RA, 1, 0);            /* room for one range only */
		expect_ctx(&b, CARTD_ELIMIT, "count larger than the bytes left");
	}
	tb_varint(&b, 2);                   /* 20 bytes left, second range cut */
	range(&b, RA, 1000, 0);
	tb_u64le(&b, RB);
	tb_varint(&b, 1);
	expect_ctx(&b, CARTD_ETRUNC, "second range cut short");
	ctx_ab(&b);
	tb_u8(&b, 0);
	expect_ctx(&b, CARTD_ETRAILING, "trailing byte");
	tb_free(&b);
}
END_TEST

START_TEST(cart_valid_forms)
{
	tb b;
	tb_init(&b);
	tb_varint(&b, 0);
	tb_varint(&b, 0);
	expect_cart(&b, 0, "empty cart");
	ctx_ab(&b);
	tb_varint(&b, 4);
	line_head(&b, "B", 1);              /* 'B' < 'a' bytewise */
	entry(&b, RB, 10, CRDT_SET, CRDT_MAX_QTY);
	line_head(&b, "a", 2);
	entry(&b, RA, 1, CRDT_ADD, 1);
	entry(&b, RB, 1, CRDT_ADD, 2);      /* RB sorts after RA */
	line_head(&b, "aa", 1);             /* shorter first on a common prefix */
	entry(&b, RA, 2, CRDT_SET, 3);
	line_head(&b, "z.-_~:@9", 1);
	entry(&b, RA, 10, CRDT_ADD, 7);
	expect_cart(&b, 0, "four lines");
	ctx_ab(&b);                         /* removed dots only: no lines */
	tb_varint(&b, 0);
	expect_cart(&b, 0, "context without lines");
	tb_free(&b);
}
END_TEST

/* A cart with context ctx_ab and one line "x" holding the given entry. */
static void one_entry_cart(tb *b, const char *sku, uint64_t rep, uint64_t ctr, uint8_t kind,
                           uint64_t value)
{
	ctx_ab(b);
	tb_varint(b, 1);
	line_head(b, sku, 1);
	entry(b, rep, ctr, kind, value);
}

/* The deferred removes section of format 2: sorted skus, each with a
 * non-empty context disjoint from the cart's (ctx_ab: RA 1..10, RB 1..10). */
START_TEST(cart_defer_forms)
{
	tb b;
	tb_init(&b);
	ctx_ab(&b);
	tb_varint(&b, 0);
	tb_varint(&b, 2);
	tb_str(&b, "a", 1);
	tb_varint(&b, 1);
	range(&b, RA, 11, 0);
	tb_str(&b, "b", 1);
	tb_varint(&b, 2);
	range(&b, RA, 20, 10);
	range(&b, RB, 12, 0);
	expect_cart2(&b, 0, "two deferred removes");
	static const struct { const char *sku; uint64_t rep, lo, hi; int want; const char *what; } one[] = {
		{ "a", RA, 10, 11, CARTD_ENONCANON, "deferred dot the context has" },
		{ "a", RB, 1, 1, CARTD_ENONCANON, "deferred dot the context has (other replica)" },
		{ "a b", RA, 11, 11, CARTD_ESKU, "bad sku" },
		{ "a", RA, 0, 3, CARTD_EBADVALUE, "counter 0" },
	};
	for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
		ctx_ab(&b);
		tb_varint(&b, 0);
		tb_varint(&b, 1);
		tb_str(&b, one[i].sku, strlen(one[i].sku));
		tb_varint(&b, 1);
		range(&b, one[i].rep, one[i].lo, one[i].hi - one[i].lo);
		expect_cart2(&b, one[i].want, one[i].what);
	}
	ctx_ab(&b);
	tb_varint(&b, 0);
	tb_varint(&b, 1);
	tb_str(&b, "a", 1);
	tb_varint(&b, 0);
	tb_raw(&b, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);   /* passes the count check */
	expect_cart2(&b, CARTD_ENONCANON, "empty deferred remove");
	for (int dup = 0; dup <= 1; dup++) {
		ctx_ab(&b);
		tb_varint(&b, 0);
		tb_varint(&b, 2);
		tb_str(&b, "b", 1);
		tb_varint(&b, 1);
		range(&b, RA, 11, 0);
		tb_str(&b, dup ? "b" : "a", 1);
		tb_varint(&b, 1);
		range(&b, RA, 12, 0);
		expect_cart2(&b, CARTD_EORDER, dup ? "repeated sku" : "unsorted skus");
	}
	ctx_ab(&b);
	tb_varint(&b, 0);
	tb_varint(&b, UINT32_MAX);
	tb_str(&b, "a", 1);
	expect_cart2(&b, CARTD_ELIMIT, "count larger than the bytes left");
	ctx_ab(&b);
	tb_varint(&b, 0);
	expect_cart2(&b, CARTD_ETRUNC, "format 1 bytes read as format 2");
	tb_free(&b);
}
END_TEST

START_TEST(cart_bad_entries)
{
	tb b;
	tb_init(&b);
	one_entry_cart(&b, "x", RA, 11, CRDT_ADD, 1);
	expect_cart(&b, CARTD_ENONCANON, "entry dot not in the context");
	one_entry_cart(&b, "x", 3, 1, CRDT_ADD, 1);
	expect_cart(&b, CARTD_ENONCANON, "entry of a replica the context lacks");
	one_entry_cart(&b, "x", RA, 0, CRDT_ADD, 1);
	expect_cart(&b, CARTD_EBADVALUE, "counter 0");
	one_entry_cart(&b, "x", RA, MAXC + 1, CRDT_ADD, 1);
	expect_cart(&b, CARTD_EBADVALUE, "counter above max");
	one_entry_cart(&b, "x", RA, 1, 2, 1);
	expect_cart(&b, CARTD_EBADVALUE, "kind 2");
	one_entry_cart(&b, "x", RA, 1, 255, 1);
	expect_cart(&b, CARTD_EBADVALUE, "kind 255");
	one_entry_cart(&b, "x", RA, 1, CRDT_ADD, 0);
	expect_cart(&b, CARTD_EBADVALUE, "ADD value 0");
	one_entry_cart(&b, "x", RA, 1, CRDT_SET, 0);
	expect_cart(&b, CARTD_EBADVALUE, "SET value 0");
	one_entry_cart(&b, "x", RA, 1, CRDT_ADD, CRDT_MAX_QTY + 1);
	expect_cart(&b, CARTD_EBADVALUE, "value above max");
	one_entry_cart(&b, "x", RA, 1, CRDT_SET, UINT64_C(1) << 32);
	expect_cart(&b, CARTD_EBADVALUE, "value 2^32");
	one_entry_cart(&b, "x", RA, 1, CRDT_SET, UINT64_MAX);
	expect_cart(&b, CARTD_EBADVALUE, "value 2^64-1");
	tb_free(&b);
}
END_TEST

START_TEST(cart_bad_skus)
{
	tb b;
	tb_init(&b);
	one_entry_cart(&b, "a b", RA, 1, CRDT_ADD, 1);
	expect_cart(&b, CARTD_ESKU, "sku with a space");
	one_entry_cart(&b, "a/b", RA, 1, CRDT_ADD, 1);
	expect_cart(&b, CARTD_ESKU, "sku with a slash");
	one_entry_cart(&b, "\xc3\xa9", RA, 1, CRDT_ADD, 1);
	expect_cart(&b, CARTD_ESKU, "sku with UTF-8");
	ctx_ab(&b);
	tb_varint(&b, 1);
	tb_str(&b, "a\0b", 3);
	tb_varint(&b, 1);
	entry(&b, RA, 1, CRDT_ADD, 1);
	expect_cart(&b, CARTD_ESKU, "sku with a NUL byte");
	one_entry_cart(&b, "", RA, 1, CRDT_ADD, 1);
	expect_cart(&b, CARTD_ESKU, "empty sku");
	char name[CRDT_MAX_NAME + 2];
	memset(name, 'n', sizeof name);
	name[CRDT_MAX_NAME] = '\0';
	one_entry_cart(&b, name, RA, 1, CRDT_ADD, 1);
	expect_cart(&b, 0, "sku of CRDT_MAX_NAME bytes");
	name[CRDT_MAX_NAME] = 'n';
	name[CRDT_MAX_NAME + 1] = '\0';
	one_entry_cart(&b, name, RA, 1, CRDT_ADD, 1);
	crdt_cart out;
	crdt_cart_init(&out);
	int rc = crdt_cart_from_bytes(b.p, b.len, &out);
	ck_assert_msg(rc == CARTD_ESKU || rc == CARTD_ELIMIT, "129-byte sku: got %d", rc);
	tu_assert_empty(&out, "129-byte sku");
	tb_free(&b);
}
END_TEST

START_TEST(cart_line_order)
{
	tb b;
	tb_init(&b);
	ctx_ab(&b);
	tb_varint(&b, 2);
	line_head(&b, "b", 1);
	entry(&b, RA, 1, CRDT_ADD, 1);
	line_head(&b, "a", 1);
	entry(&b, RA, 2, CRDT_ADD, 1);
	expect_cart(&b, CARTD_EORDER, "lines unsorted");
	ctx_ab(&b);
	tb_varint(&b, 2);
	line_head(&b, "aa", 1);
	entry(&b, RA, 1, CRDT_ADD, 1);
	line_head(&b, "a", 1);
	entry(&b, RA, 2, CRDT_ADD, 1);
	expect_cart(&b, CARTD_EORDER, "longer name before its prefix");
	ctx_ab(&b);
	tb_varint(&b, 2);
	line_head(&b, "a", 1);
	entry(&b, RA, 1, CRDT_ADD, 1);
	line_head(&b, "a", 1);
	entry(&b, RA, 2, CRDT_ADD, 1);
	expect_cart(&b, CARTD_EORDER, "line duplicated");
	ctx_ab(&b);
	tb_varint(&b, 1);
	line_head(&b, "a", 0);
	expect_cart(&b, CARTD_ENONCANON, "empty line");
	tb_free(&b);
}
END_TEST

/* A cart of ctx_ab with one line "a" of two entries (r1, c1), (r2, c2). */
static void two_entry_cart(tb *b, uint64_t r1, uint64_t c1, uint8_t k2, uint64_t r2, uint64_t c2)
{
	ctx_ab(b);
	tb_varint(b, 1);
	line_head(b, "a", 2);
	entry(b, r1, c1, CRDT_ADD, 1);
	entry(b, r2, c2, k2, 2);
}

START_TEST(cart_entry_order)
{
	tb b;
	tb_init(&b);
	two_entry_cart(&b, RB, 1, CRDT_ADD, RA, 1);
	expect_cart(&b, CARTD_EORDER, "entries unsorted by replica");
	two_entry_cart(&b, RA, 3, CRDT_ADD, RA, 2);
	expect_cart(&b, CARTD_EORDER, "entries unsorted by counter");
	two_entry_cart(&b, RA, 3, CRDT_SET, RA, 3);
	expect_cart(&b, CARTD_EORDER, "entry duplicated");
	two_entry_cart(&b, RA, 3, CRDT_SET, RA, 4);
	expect_cart(&b, 0, "two entries in order");
	ctx_ab(&b);
	tb_varint(&b, 2);
	line_head(&b, "a", 1);
	entry(&b, RA, 3, CRDT_ADD, 1);
	line_head(&b, "b", 1);
	entry(&b, RA, 3, CRDT_ADD, 1);
	expect_cart(&b, CARTD_EORDER, "one dot in two lines");
	tb_free(&b);
}
END_TEST

START_TEST(cart_counts_and_trailing)
{
	tb b;
	tb_init(&b);
	/* 14 bytes follow each count: room for 4 minimal lines, 1 entry. */
	static const uint64_t huge[] = { 5, UINT32_MAX, UINT64_C(1) << 33, UINT64_MAX };
	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		ctx_ab(&b);
		tb_varint(&b, huge[i]);
		line_head(&b, "a", 1);
		entry(&b, RA, 1, CRDT_ADD, 1);
		expect_cart(&b, CARTD_ELIMIT, "line count larger than the bytes left");
		ctx_ab(&b);
		tb_varint(&b, 1);
		line_head(&b, "a", i ? huge[i] : 2);
		entry(&b, RA, 1, CRDT_ADD, 1);
		expect_cart(&b, CARTD_ELIMIT, "entry count larger than the bytes left");
	}
	ctx_ab(&b);
	tb_varint(&b, 1);
	tb_varint(&b, UINT64_C(1) << 40);   /* sku length */
	tb_raw(&b, "abc", 3);
	expect_cart(&b, CARTD_ELIMIT, "huge sku length");
	ctx_ab(&b);
	tb_varint_n(&b, 1, 3);
	expect_cart(&b, CARTD_EVARINT, "overlong line count");
	one_entry_cart(&b, "x", RA, 1, CRDT_ADD, 1);
	tb_u8(&b, 0);
	expect_cart(&b, CARTD_ETRAILING, "trailing byte");
	tb_free(&b);
}
END_TEST

/* A cart of n lines, one entry each, all of replica RA. */
static void wide_cart(tb *b, unsigned n)
{
	char sku[16];
	tb_varint(b, 1);
	range(b, RA, 1, n - 1);
	tb_varint(b, n);
	for (unsigned i = 0; i < n; i++) {
		snprintf(sku, sizeof sku, "l%07u", i);
		line_head(b, sku, 1);
		entry(b, RA, i + 1, CRDT_ADD, 1);
	}
}

/* A cart of one line "x" with n entries of replica RA. */
static void long_cart(tb *b, unsigned n)
{
	tb_varint(b, 1);
	range(b, RA, 1, n - 1);
	tb_varint(b, 1);
	line_head(b, "x", n);
	for (unsigned i = 0; i < n; i++)
		entry(b, RA, i + 1, CRDT_ADD, 1);
}

/* The decode limits sit far above the local ones: CRDT_DECODE_MAX_LINES
 * lines and CRDT_DECODE_MAX_ENTRIES entries decode, one more does not. */
START_TEST(decode_limits)
{
	tb b;
	tb_init(&b);
	for (unsigned extra = 0; extra <= 1; extra++) {
		wide_cart(&b, CRDT_DECODE_MAX_LINES + extra);
		expect_cart(&b, extra ? CARTD_ELIMIT : 0, "lines at the decode limit");
		long_cart(&b, CRDT_DECODE_MAX_ENTRIES + extra);
		expect_cart(&b, extra ? CARTD_ELIMIT : 0, "entries at the decode limit");
	}
	tb_free(&b);
}
END_TEST

/* Decodes b (which must be valid) into c. */
static void decode_into(tb *b, crdt_cart *c)
{
	tb_varint(b, 0);   /* no deferred removes */
	tb_varint(b, 0);   /* no records */
	tb_varint(b, 0);   /* no markers */
	crdt_cart_init(c);
	ck_assert_int_eq(crdt_cart_from_bytes(b->p, b->len, c), 0);
	b->len = 0;
}

/* Joins src into dst expecting CARTD_ELIMIT and dst unchanged. */
static void expect_join_refused(crdt_cart *dst, const crdt_cart *src, const char *what)
{
	crdt_cart before = tu_copy(dst);
	bool changed = true;
	int rc = crdt_cart_join(dst, src, &changed);
	ck_assert_msg(rc == CARTD_ELIMIT, "%s: join returned %d", what, rc);
	ck_assert_msg(!changed, "%s: refused join reported a change", what);
	tu_assert_converged(dst, &before, what);
	crdt_cart_destroy(&before);
}

/* Joins never build what the decoder would refuse: at the limits they fail
 * with CARTD_ELIMIT and leave the cart as it was. */
/* A count is taken exactly when its items, at their smallest, fit in the
 * bytes after it (n <= left / min_item) and it is within the limit, for
 * every small case and at the ends of 2^32 and 2^64, and a refused count
 * leaves nothing read past it. */
START_TEST(count_fits_the_bytes_left)
{
	uint8_t mem[64];
	static const uint64_t big[] = { UINT32_MAX, UINT64_C(1) << 32, (UINT64_C(1) << 63) / 3,
	                                (UINT64_C(1) << 63) / 3 + 1, UINT64_MAX / 3,
	                                UINT64_MAX / 3 + 1, UINT64_MAX };
	for (size_t m = 1; m <= 7; m++) {
		for (size_t left = 0; left <= 20; left++) {
			for (uint64_t n = 0; n < 30 + sizeof big / sizeof big[0]; n++) {
				uint64_t count = n < 30 ? n : big[n - 30];
				for (uint64_t limit = 0; limit <= 24; limit += 8) {
					buf_writer w;
					buf_writer_fixed(&w, mem, sizeof mem);
					buf_put_varint(&w, count);
					size_t head = w.len;
					memset(mem + head, 0, left);
					buf_reader r;
					buf_reader_init(&r, mem, head + left);
					uint32_t got = 0;
					int rc = codec_get_count(&r, limit, m, &got);
					bool fits = count <= limit && count <= left / m;
					ck_assert_msg(fits ? rc == 0 && got == count : rc == CARTD_ELIMIT,
					              "count %llu, %zu bytes of %zu left, limit %llu: %d",
					              (unsigned long long)count, left, m,
					              (unsigned long long)limit, rc);
					ck_assert_uint_eq(buf_left(&r), left);
				}
			}
		}
	}
}
END_TEST

START_TEST(join_refuses_past_decode_limits)
{
	tb b;
	crdt_cart big, extra;
	tb_init(&b);
	wide_cart(&b, CRDT_DECODE_MAX_LINES);
	decode_into(&b, &big);
	crdt_cart_init(&extra);
	tu_add(&extra, 2, "zzz", 1, NULL);              /* one more line */
	expect_join_refused(&big, &extra, "line past CRDT_DECODE_MAX_LINES");
	crdt_cart_destroy(&extra);
	crdt_cart_init(&extra);
	tu_add(&extra, 2, "l0000000", 1, NULL);         /* an existing line is fine */
	tu_join(&big, &extra);
	ck_assert_uint_eq(tu_qty(&big, "l0000000"), 2);
	crdt_cart_destroy(&big);
	crdt_cart_destroy(&extra);

	long_cart(&b, CRDT_DECODE_MAX_ENTRIES);
	decode_into(&b, &big);
	crdt_cart_init(&extra);
	tu_add(&extra, 2, "x", 1, NULL);                /* one more entry */
	expect_join_refused(&big, &extra, "entry past CRDT_DECODE_MAX_ENTRIES");
	/* A local add to that line is refused; a set compacts it. */
	ck_assert_int_eq(crdt_cart_add(&big, RA, "x", 1, 1, NULL), CARTD_ELINEFULL);
	tu_set(&big, RA, "x", 1, NULL);
	ck_assert_uint_eq(tu_entries(&big, "x"), 1);
	crdt_cart_destroy(&big);
	crdt_cart_destroy(&extra);
	tb_free(&b);
}
END_TEST

/* Decodes c's own encoding: the return code, and whether it gave c back. */
static int roundtrip(const crdt_cart *c, bool *same)
{
	tb bytes;
	tb_init(&bytes);
	tu_encode(c, &bytes);
	crdt_cart back;
	crdt_cart_init(&back);
	int rc = crdt_cart_from_bytes(bytes.p, bytes.len, &back);
	*same = rc == 0 && crdt_cart_equal(&back, c);
	crdt_cart_destroy(&back);
	tb_free(&bytes);
	return rc;
}

/* The join of `writers` carts, writer r adding `adds` times to sku(r, i). */
static int concurrent_writers(unsigned writers, unsigned adds, bool distinct, unsigned *lines,
                              unsigned *entries, bool *same)
{
	crdt_cart all, w;
	char sku[32];
	crdt_cart_init(&all);
	for (unsigned r = 1; r <= writers; r++) {
		crdt_cart_init(&w);
		for (unsigned i = 0; i < adds; i++) {
			snprintf(sku, sizeof sku, "w%u-%u", distinct ? r : 0, distinct ? i : 0);
			tu_add(&w, r, sku, 1, NULL);
		}
		tu_join(&all, &w);
		crdt_cart_destroy(&w);
	}
	*lines = all.n;
	*entries = all.n ? all.lines[0].n : 0;
	int rc = roundtrip(&all, same);
	crdt_cart_destroy(&all);
	return rc;
}

/*
 * Every cart that replicas can reach must survive its own encoding, since
 * peers persist carts that way and reload them with this decoder at start.
 * The local limits hold per replica only: concurrent writers, each within
 * CRDT_MAX_LINES and CRDT_MAX_LINE_ENTRIES, together exceed them, and joins
 * accept the result.  9 writers of 1000 new lines each reach 9000 lines
 * (> CRDT_MAX_LINES); 60 writers of 1024 adds to one sku reach 61440
 * entries (> CRDT_MAX_LINE_ENTRIES, within CRDT_DECODE_MAX_ENTRIES).
 */
START_TEST(reachable_states_roundtrip)
{
	unsigned lines, entries;
	bool same1, same2;
	int rc1 = concurrent_writers(9, CRDT_MAX_LINES, true, &lines, &entries, &same1);
	ck_assert_uint_eq(lines, 9 * CRDT_MAX_LINES);
	int rc2 = concurrent_writers(60, CRDT_MAX_LINE_ENTRIES, false, &lines, &entries, &same2);
	ck_assert_uint_eq(entries, 60 * CRDT_MAX_LINE_ENTRIES);
	ck_assert_msg(rc1 == 0 && same1, "a valid cart of 9000 lines reached by joins does not "
	              "decode from its own encoding: %d (%s)", rc1, cartd_errname(rc1));
	ck_assert_msg(rc2 == 0 && same2, "a valid line of 61440 entries reached by joins does not "
	              "decode from its own encoding: %d (%s)", rc2, cartd_errname(rc2));
}
END_TEST

/* The streaming form stops exactly at the end of the value. */
START_TEST(decode_stops_at_value_end)
{
	tb b;
	tb_init(&b);
	one_entry_cart(&b, "x", RA, 1, CRDT_ADD, 1);
	tb_varint(&b, 0);
	tb_varint(&b, 0);
	tb_varint(&b, 0);
	size_t end = b.len;
	tb_raw(&b, "\x01\x02\x03", 3);
	buf_reader r;
	buf_reader_init(&r, b.p, b.len);
	crdt_ctx ctx;
	crdt_ctx_init(&ctx);
	ck_assert_int_eq(crdt_decode_ctx(&r, &ctx), 0);
	ck_assert_uint_eq(crdt_ctx_count(&ctx), 20);
	buf_reader_init(&r, b.p, b.len);
	crdt_cart c;
	crdt_cart_init(&c);
	ck_assert_int_eq(crdt_decode_cart(&r, &c), 0);
	ck_assert_ptr_eq(r.p, b.p + end);
	ck_assert_uint_eq(tu_qty(&c, "x"), 1);
	crdt_ctx_destroy(&ctx);
	crdt_cart_destroy(&c);
	tb_free(&b);
}
END_TEST

Suite *codec_suite(void);

Suite *codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("malformed");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, ctx_valid_forms);
	tcase_add_test(tc, ctx_order_and_canon);
	tcase_add_test(tc, ctx_bad_values);
	tcase_add_test(tc, ctx_varints_and_counts);
	tcase_add_test(tc, cart_valid_forms);
	tcase_add_test(tc, cart_bad_entries);
	tcase_add_test(tc, cart_bad_skus);
	tcase_add_test(tc, cart_line_order);
	tcase_add_test(tc, cart_entry_order);
	tcase_add_test(tc, cart_counts_and_trailing);
	tcase_add_test(tc, cart_defer_forms);
	tcase_add_test(tc, decode_limits);
	tcase_add_test(tc, count_fits_the_bytes_left);
	tcase_add_test(tc, join_refuses_past_decode_limits);
	tcase_add_test(tc, decode_stops_at_value_end);
	tcase_add_test(tc, reachable_states_roundtrip);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, codec_buf_tcase());
	suite_add_tcase(s, codec_random_tcase());
	suite_add_tcase(s, codec_siphash_tcase());
	return s;
}
