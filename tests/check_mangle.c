/*
 * check_mangle.c - valid messages of every type, mangled after they were
 * built and then sealed through a real session (tests/test_hostile.h), so
 * the damage reaches the engine's decoders and handlers rather than
 * failing authentication: every payload cut short at every byte, extended
 * by one, and every bit of it flipped.
 *
 * A cut or an extension must be refused with the reason the decoders
 * promise for that offset (net/msg.c: `truncated` inside a field,
 * `trailing` past the end, DELTA's `count` and `cart` where they apply),
 * counted under it and nowhere else, changing nothing and sending nothing.
 * A flipped bit must give one of the outcomes its field allows (each
 * region's table below says which, and each listed outcome must be seen);
 * a refused flip changes nothing.  The intact message is accepted last.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/error.h"
#include "net/engine.h"
#include "net/msg.h"
#include "net/reject.h"
#include "tests/test_hostile.h"

Suite *mangle_suite(void);

#define F(x) (1u << REJECT_F_##x)
#define OK 1u                    /* accepted: bit REJECT_F_NONE */
#define ANY 0xffffffffu          /* a length that shifts what follows */

/* Bytes [from, to) of a message and the outcomes a flip there may have. */
struct region {
	const char *name;
	size_t from, to;
	unsigned allowed;
};

struct sample {
	const char *name;
	uint8_t type;
	buf_writer w;
	struct region r[12];
	size_t nr;
};

static const engine_addr far_addr = { 7, { 4, 0x1f, 0x93, 127, 0, 0, 9 } };

static void add_region(struct sample *s, const char *name, size_t len, unsigned allowed)
{
	size_t from = s->nr ? s->r[s->nr - 1].to : 0;
	ck_assert_uint_lt(s->nr, sizeof s->r / sizeof s->r[0]);
	s->r[s->nr++] = (struct region){ name, from, from + len, allowed };
}

/* A probe with a target address and two rumours (PING, ACK, PING_REQ). */
static void sample_probe(struct sample *s, uint8_t type, const char *name)
{
	msg_probe p = { 7, 555, far_addr, 2, { { 0 } } };
	for (int i = 0; i < 2; i++)
		p.gossip[i] = (msg_member){ 900 + (uint64_t)i * 16, MEMBER_ALIVE, 1, far_addr };
	msg_put_probe(&s->w, &p);
	s->name = name;
	s->type = type;
	add_region(s, "seq", 8, OK);
	add_region(s, "subject", 8, OK);
	add_region(s, "target length", 1, ANY);
	add_region(s, "target", 7, OK);
	add_region(s, "ngossip", 1, F(TRUNCATED) | F(TRAILING) | F(COUNT));
	add_region(s, "member id", 8, OK);
	add_region(s, "member state", 1, OK | F(STATE));
	add_region(s, "member incarnation", 8, OK | F(INCARNATION));
	add_region(s, "member address length", 1, ANY);
}

static void sample_members(struct sample *s)
{
	msg_begin_members(&s->w);
	for (int i = 0; i < 2; i++) {
		msg_member m = { 900 + (uint64_t)i * 16, MEMBER_SUSPECT, 3, far_addr };
		msg_put_member(&s->w, &m);
	}
	msg_end_members(&s->w, 2);
	s->name = "members";
	s->type = MSG_MEMBERS;
	add_region(s, "count", 1, F(TRUNCATED) | F(TRAILING) | F(COUNT));
	add_region(s, "member id", 8, OK);
	add_region(s, "member state", 1, OK | F(STATE));
	add_region(s, "member incarnation", 8, OK | F(INCARNATION));
	add_region(s, "member address length", 1, ANY);
	add_region(s, "member address", 7, OK);
}

/* GROUPS or BUCKETS of our layout: first 0, count 2, digests equal to an
 * empty store's (0).  Flipping first reaches past the end at 2^5 groups
 * or 2^10 buckets. */
static void sample_digests(struct sample *s, uint8_t type, const char *name)
{
	static const uint64_t zero[2];
	msg_digests d = { 1, TH_NBUCKETS, 0, 2, NULL };
	msg_put_digests(&s->w, &d, zero);
	s->name = name;
	s->type = type;
	add_region(s, "round", 4, OK);
	add_region(s, "nbuckets", 4, F(NBUCKETS) | F(LAYOUT));
	add_region(s, "first", 4, OK | F(RANGE));
	add_region(s, "count", 2, F(COUNT) | F(TRUNCATED));
	add_region(s, "digests", 16, OK);
}

static void sample_carts(struct sample *s)
{
	msg_begin_carts(&s->w, 1, TH_NBUCKETS, 5, 0);
	msg_put_listing(&s->w, "cart-a", 6, 0x1111);
	msg_put_listing(&s->w, "cart-b", 6, 0x2222);
	msg_end_carts(&s->w, 2);
	s->name = "ae_carts";
	s->type = MSG_AE_CARTS;
	add_region(s, "round", 4, OK);
	add_region(s, "nbuckets", 4, F(NBUCKETS) | F(LAYOUT));
	add_region(s, "bucket", 4, OK | F(BUCKET));
	add_region(s, "flags", 1, OK | F(FLAGS));
	add_region(s, "count", 2, F(TRUNCATED) | F(TRAILING));
	add_region(s, "id length", 1, ANY);
	add_region(s, "id", 6, OK | F(ID));
	add_region(s, "digest", 8, OK);
}

static void sample_want(struct sample *s)
{
	msg_begin_want(&s->w);
	buf_put_str(&s->w, "cart-a", 6);
	buf_put_str(&s->w, "cart-b", 6);
	msg_end_want(&s->w, 2);
	s->name = "ae_want";
	s->type = MSG_AE_WANT;
	add_region(s, "count", 2, F(TRUNCATED) | F(COUNT));
	add_region(s, "id length", 1, ANY);
	add_region(s, "id", 6, OK | F(ID));
}

static void sample_status(struct sample *s)
{
	msg_status st = { 1, 0 };
	msg_put_status(&s->w, &st);
	s->name = "ae_status";
	s->type = MSG_AE_STATUS;
	add_region(s, "round", 4, OK);
	add_region(s, "differing", 4, OK | F(DIFFERING));
}

/* One cart of one line; the id is 6 bytes, so its length byte is at 3. */
static void sample_delta(struct sample *s)
{
	crdt_cart c;
	crdt_cart_init(&c);
	ck_assert_int_eq(crdt_cart_add(&c, 4242, "sku", 3, 2, NULL), 0);
	msg_begin_delta(&s->w, 0, false);
	msg_put_cart(&s->w, "cart-d", 6, &c);
	msg_end_delta(&s->w, 1);
	s->name = "delta";
	s->type = MSG_DELTA;
	add_region(s, "hops", 1, OK | F(HOPS));
	add_region(s, "count", 2, F(COUNT) | F(TRUNCATED));
	add_region(s, "id length", 1, ANY);
	add_region(s, "id", 6, OK | F(ID));
	/* canonical and strict: a flip there gives another valid cart or none */
	add_region(s, "cart", crdt_cart_encoded_size(&c), OK | F(CART));
	crdt_cart_destroy(&c);
}

#define NSAMPLES 10
static struct sample samples[NSAMPLES];

static void build_samples(void)
{
	memset(samples, 0, sizeof samples);
	for (int i = 0; i < NSAMPLES; i++)
		buf_writer_init(&samples[i].w);
	sample_delta(&samples[0]);
	sample_probe(&samples[1], MSG_PING, "ping");
	sample_probe(&samples[2], MSG_ACK, "ack");
	sample_probe(&samples[3], MSG_PING_REQ, "ping_req");
	sample_digests(&samples[4], MSG_AE_GROUPS, "ae_groups");
	sample_digests(&samples[5], MSG_AE_BUCKETS, "ae_buckets");
	sample_carts(&samples[6]);
	sample_want(&samples[7]);
	sample_status(&samples[8]);
	sample_members(&samples[9]);
	for (int i = 0; i < NSAMPLES; i++)
		ck_assert(!samples[i].w.err);
}

static void free_samples(void)
{
	for (int i = 0; i < NSAMPLES; i++)
		buf_writer_destroy(&samples[i].w);
}

static void setup(void)
{
	th_setup();
	build_samples();
}

static void teardown(void)
{
	free_samples();
	th_teardown();
}

/* What a DELTA cut to len bytes is refused for: the header, the count
 * bound (a pair takes at least 4 bytes), the id, then the cart. */
static enum reject_field delta_cut_reason(size_t len)
{
	if (len < 3)
		return REJECT_F_TRUNCATED;
	if (len - 3 < 4)
		return REJECT_F_COUNT;
	if (len < 3 + 1 + 6)
		return REJECT_F_TRUNCATED;
	return REJECT_F_CART;
}

/* Cut at every byte, then one byte more: each refused for the reason of
 * where it ends; then the intact message is accepted. */
START_TEST(cut_and_extended_everywhere)
{
	size_t tried = 0;
	for (int i = 0; i < NSAMPLES; i++) {
		const struct sample *s = &samples[i];
		uint8_t *p = malloc(s->w.len + 1);
		memcpy(p, s->w.data, s->w.len);
		for (size_t len = 0; len < s->w.len; len++, tried++) {
			char what[64];
			th_snapshot snap;
			snprintf(what, sizeof what, "%s cut to %zu of %zu", s->name, len, s->w.len);
			enum reject_field want = s->type == MSG_DELTA ? delta_cut_reason(len)
			                                              : REJECT_F_TRUNCATED;
			th_snap(&snap);
			th_assert_refused(th_inject(s->type, p, len), &snap, s->type, want, what);
		}
		p[s->w.len] = 0;
		th_snapshot snap;
		th_snap(&snap);
		th_assert_refused(th_inject(s->type, p, s->w.len + 1), &snap, s->type,
		                  REJECT_F_TRAILING, s->name);
		int rc = th_inject(s->type, p, s->w.len);
		ck_assert_msg(rc == 0, "%s intact: %s", s->name, cartd_errname(rc));
		free(p);
	}
	ck_assert_uint_gt(tried, 300);
}
END_TEST

static const char *outcome_name(unsigned f, char *buf, size_t cap)
{
	if (f == REJECT_F_NONE)
		return "accepted";
	return snprintf(buf, cap, "%s", reject_field_name(f)) > 0 ? buf : "?";
}

/* Flips bit of s's payload and injects it; returns the outcome (bit
 * position of enum reject_field, REJECT_F_NONE when accepted). */
static unsigned flip_one(const struct sample *s, size_t bit, const char *what)
{
	uint8_t *p = malloc(s->w.len);
	memcpy(p, s->w.data, s->w.len);
	p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	th_snapshot snap;
	th_snap(&snap);
	int rc = th_inject(s->type, p, s->w.len);
	free(p);
	if (rc == 0)
		return REJECT_F_NONE;
	unsigned row, field;
	engine_last_reject(th.eng, &row, &field);
	ck_assert_msg(rc == CARTD_EDECODE && row == s->type, "%s: %s, row %u", what,
	              cartd_errname(rc), row);
	th_assert_refused(rc, &snap, row, field, what);
	return field;
}

START_TEST(every_bit_flipped)
{
	char what[96], a[32];
	for (int i = 0; i < NSAMPLES; i++) {
		const struct sample *s = &samples[i];
		for (size_t k = 0; k < s->nr; k++) {
			const struct region *r = &s->r[k];
			unsigned seen = 0;
			for (size_t bit = r->from * 8; bit < r->to * 8; bit++) {
				snprintf(what, sizeof what, "%s %s, bit %zu", s->name, r->name, bit);
				unsigned o = flip_one(s, bit, what);
				ck_assert_msg(r->allowed & (1u << o), "%s: %s, not allowed there", what,
				              outcome_name(o, a, sizeof a));
				seen |= 1u << o;
			}
			/* every outcome the table names happens: the table is not
			 * wider than the code */
			if (r->allowed != ANY)
				ck_assert_msg(seen == r->allowed, "%s %s: saw outcomes %#x, table says %#x",
				              s->name, r->name, seen, r->allowed);
		}
		/* the regions cover the whole message, or the rest went unflipped */
		ck_assert_msg(s->nr > 0, "%s: no regions", s->name);
		size_t end = s->r[s->nr - 1].to;
		for (size_t bit = end * 8; bit < s->w.len * 8; bit++) {
			snprintf(what, sizeof what, "%s past the regions, bit %zu", s->name, bit);
			(void)flip_one(s, bit, what);
		}
	}
}
END_TEST

Suite *mangle_suite(void)
{
	Suite *s = suite_create("mangle");
	TCase *tc = tcase_create("payloads");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, cut_and_extended_everywhere);
	tcase_add_test(tc, every_bit_flipped);
	suite_add_tcase(s, tc);
	return s;
}
