/*
 * reject.c - names and validity of the engine's refusal reasons (see
 * reject.h).  The table says which fields each message can fail on: it is
 * what bounds the metrics labels, and the tests check that the docs list
 * exactly these.
 */
#include "net/reject.h"

#include <stdio.h>

#define BIT(f) (1u << (f))

static const char *const rows[REJECT_ROWS] = {
	"datagram", "delta", "ping", "ack", "ping_req", "ae_groups", "ae_buckets",
	"ae_carts", "ae_want", "ae_status", "members",
};

static const char *const fields[REJECT_NFIELDS] = {
	"none", "type", "sender", "truncated", "trailing", "count", "hops", "id", "cart",
	"addr", "member_id", "state", "incarnation", "nbuckets", "layout", "range",
	"bucket", "flags", "differing",
};

/* Fields each message's decoder and handler can refuse on. */
#define PROBE (BIT(REJECT_F_TRUNCATED) | BIT(REJECT_F_TRAILING) | BIT(REJECT_F_ADDR) | \
               BIT(REJECT_F_COUNT) | BIT(REJECT_F_MEMBER_ID) | BIT(REJECT_F_STATE) | \
               BIT(REJECT_F_INCARNATION))
#define DIGESTS (BIT(REJECT_F_TRUNCATED) | BIT(REJECT_F_TRAILING) | BIT(REJECT_F_NBUCKETS) | \
                 BIT(REJECT_F_LAYOUT) | BIT(REJECT_F_COUNT) | BIT(REJECT_F_RANGE))

static const unsigned valid[REJECT_ROWS] = {
	BIT(REJECT_F_TYPE) | BIT(REJECT_F_SENDER),
	BIT(REJECT_F_TRUNCATED) | BIT(REJECT_F_TRAILING) | BIT(REJECT_F_HOPS) |
		BIT(REJECT_F_COUNT) | BIT(REJECT_F_ID) | BIT(REJECT_F_CART),
	PROBE, PROBE, PROBE,
	DIGESTS, DIGESTS,
	BIT(REJECT_F_TRUNCATED) | BIT(REJECT_F_TRAILING) | BIT(REJECT_F_NBUCKETS) |
		BIT(REJECT_F_LAYOUT) | BIT(REJECT_F_BUCKET) | BIT(REJECT_F_FLAGS) | BIT(REJECT_F_ID),
	BIT(REJECT_F_TRUNCATED) | BIT(REJECT_F_TRAILING) | BIT(REJECT_F_COUNT) | BIT(REJECT_F_ID),
	BIT(REJECT_F_TRUNCATED) | BIT(REJECT_F_TRAILING) | BIT(REJECT_F_DIFFERING),
	PROBE,   /* members: count, then member entries as in a probe */
};

_Static_assert(REJECT_NFIELDS <= 32, "fields fit a bit mask");

const char *reject_row_name(unsigned row)
{
	return row < REJECT_ROWS ? rows[row] : NULL;
}

const char *reject_field_name(unsigned field)
{
	return field < REJECT_NFIELDS ? fields[field] : NULL;
}

bool reject_valid(unsigned row, unsigned field)
{
	return row < REJECT_ROWS && field < REJECT_NFIELDS && (valid[row] & BIT(field));
}

char *reject_name(unsigned row, unsigned field, char *buf, size_t cap)
{
	if (reject_valid(row, field))
		snprintf(buf, cap, "%s_%s", rows[row], fields[field]);
	else
		snprintf(buf, cap, "invalid");
	return buf;
}

unsigned reject_row_of_type(unsigned type)
{
	return type >= 1 && type < REJECT_ROWS ? type : 0;
}
