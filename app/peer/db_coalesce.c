/*
 * db_coalesce.c - one record per cart for a checkpoint pass: the records
 * of each cart joined in memory before they reach LMDB.
 *
 * A pass over the log often holds many records of one cart (a busy cart
 * gets a delta per write).  Written one by one, each costs LMDB a lookup
 * of the cart's last delta, an insert, and every few of them a fold of the
 * cart's deltas into its full state.  What LMDB ends up holding is the
 * join of the cart's records in any case (db.h), and join is associative:
 * so the cart's deltas are joined into one delta, and a full state with
 * the deltas after it into one full state (the records before the last
 * full state are contained in it).  A cart with a single record passes
 * through untouched, so a pass without repeats costs a hash lookup per
 * record.  A group whose records do not decode or join (a bug, or a cart
 * at the decode limits) passes through untouched as well, for
 * db_load_all to judge.
 *
 * The output comes sorted by cart id, so that the checkpoint writes LMDB
 * one key range per transaction (db_checkpoint.c says why).
 */
#include <stdlib.h>
#include <string.h>

#include "app/peer/db_internal.h"
#include "crdt/buf.h"
#include "crdt/cart.h"
#include "crdt/codec.h"
#include "crdt/error.h"

#define LAST_STATE (SIZE_MAX - 1)   /* join_groups: the group's last record is a state */

/* The records of one cart in the pass. */
typedef struct group {
	crdt_id id;             /* the cart's id, in its first record */
	size_t at;              /* where its records start in members */
	size_t count;
	size_t start;           /* the last full state's place among them, or 0 */
	bool state;             /* the group holds a full state */
} group;

/*
 * Records are grouped with a hash table whose slots carry the id's hash
 * beside the group, so that a probe compares ids only on a hash match, and
 * each group's record indices are then laid out together in members (a
 * counting sort, which keeps log order within a group): a pass holds
 * hundreds of thousands of records over as many carts, and walking them
 * through per-record links missed the cache at every step.
 */
typedef struct coalescer {
	const db_record *recs;
	size_t n;
	size_t *gid;            /* per record: its group */
	size_t *members;        /* record indices, each group's together, in order */
	group *groups;
	size_t ngroups;
	uint64_t *slots;        /* (32-bit id hash << 32 | group + 1); 0: empty */
	size_t nslots;
} coalescer;

/* The group of record i, made if new. */
static size_t group_of(coalescer *c, size_t i)
{
	const db_record *r = &c->recs[i];
	uint64_t h = r->id.hash;
	uint64_t tag = h >> 32;
	size_t s = (size_t)h & (c->nslots - 1);
	for (uint64_t slot; (slot = c->slots[s]) != 0; s = (s + 1) & (c->nslots - 1)) {
		if (slot >> 32 != tag)
			continue;
		size_t g = (size_t)(slot & UINT32_MAX) - 1;
		const crdt_id *gid = &c->groups[g].id;
		if (gid->len == r->id.len && memcmp(gid->s, r->id.s, r->id.len) == 0)
			return g;
	}
	size_t g = c->ngroups++;
	c->groups[g] = (group){ .id = r->id };
	c->slots[s] = tag << 32 | (uint64_t)(g + 1);
	return g;
}

/* Groups the records by cart.  CARTD_ENOMEM or 0. */
static int group_records(coalescer *c)
{
	size_t n = c->n;
	if (n >= UINT32_MAX)
		return CARTD_ENOMEM;   /* a slot names a group in 32 bits */
	c->nslots = 16;
	while (c->nslots < 2 * n)
		c->nslots *= 2;
	c->gid = malloc(n * sizeof *c->gid);
	c->members = malloc(n * sizeof *c->members);
	c->groups = malloc(n * sizeof *c->groups);
	c->slots = calloc(c->nslots, sizeof *c->slots);
	if (!c->gid || !c->members || !c->groups || !c->slots)
		return CARTD_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		group *g = &c->groups[c->gid[i] = group_of(c, i)];
		if (c->recs[i].kind == DB_STATE) {
			g->start = g->count;
			g->state = true;
		}
		g->count++;
	}
	size_t at = 0;
	for (size_t k = 0; k < c->ngroups; k++) {
		c->groups[k].at = at;
		at += c->groups[k].count;
		c->groups[k].count = 0;   /* counted again as members fill */
	}
	for (size_t i = 0; i < n; i++) {
		group *g = &c->groups[c->gid[i]];
		c->members[g->at + g->count++] = i;
	}
	return 0;
}

/* Joins the group's records from its start into acc.  False if one does
 * not decode or the join fails. */
static bool join_group(const coalescer *c, const group *g, crdt_cart *acc, crdt_cart *tmp)
{
	for (size_t k = g->start; k < g->count; k++) {
		const db_record *r = &c->recs[c->members[g->at + k]];
		bool changed;
		if (crdt_cart_from_bytes(r->val, r->val_len, tmp) != 0 ||
		    crdt_cart_join(acc, tmp, &changed) != 0)
			return false;
	}
	return true;
}

/* Appends the group's records, as they are, to out. */
static void pass_through(const coalescer *c, const group *g, db_coalesced *out)
{
	for (size_t k = 0; k < g->count; k++)
		out->recs[out->n++] = c->recs[c->members[g->at + k]];
}

/* A group under its cart's id, for sorting. */
typedef struct keyed {
	const char *id;
	size_t len;
	size_t group;
} keyed;

/* LMDB's default key order, which crdt_name_cmp is: bytes, then the
 * shorter first. */
static int keyed_cmp(const void *a, const void *b)
{
	const keyed *x = a, *y = b;
	return crdt_name_cmp(x->id, x->len, y->id, y->len);
}

/* The groups in the order of their carts' ids, or NULL without memory. */
static keyed *sorted_groups(const coalescer *c)
{
	keyed *k = malloc(c->ngroups * sizeof *k);
	if (k == NULL)
		return NULL;
	for (size_t i = 0; i < c->ngroups; i++)
		k[i] = (keyed){ c->groups[i].id.s, c->groups[i].id.len, i };
	qsort(k, c->ngroups, sizeof *k, keyed_cmp);
	return k;
}

/* Joins each multi-record group into one encoded record in out->buf. */
static int join_groups(const coalescer *c, db_coalesced *out)
{
	crdt_cart acc, tmp;
	crdt_cart_init(&acc);
	crdt_cart_init(&tmp);
	buf_writer_init(&out->buf);
	/* Values are encoded into one growing buffer and pointed to once it
	 * no longer moves: each joined group's start and length first. */
	size_t *at = malloc(c->ngroups * 2 * sizeof *at);
	int rc = at ? 0 : CARTD_ENOMEM;
	for (size_t k = 0; !rc && k < c->ngroups; k++) {
		const group *g = &c->groups[k];
		at[2 * k] = SIZE_MAX;   /* passed through */
		if (g->count == 1)
			continue;
		at[2 * k] = LAST_STATE;   /* a full state last contains the rest */
		if (g->start == g->count - 1)
			continue;
		at[2 * k] = SIZE_MAX;
		crdt_cart_destroy(&acc);
		crdt_cart_init(&acc);
		if (!join_group(c, g, &acc, &tmp))
			continue;
		at[2 * k] = out->buf.len;
		crdt_encode_cart(&out->buf, &acc);
		at[2 * k + 1] = out->buf.len - at[2 * k];
		if (out->buf.err)
			rc = CARTD_ENOMEM;
	}
	keyed *order = rc ? NULL : sorted_groups(c);
	if (!rc && order == NULL)
		rc = CARTD_ENOMEM;
	for (size_t j = 0; !rc && j < c->ngroups; j++) {
		size_t k = order[j].group;
		const group *g = &c->groups[k];
		if (at[2 * k] == SIZE_MAX) {
			pass_through(c, g, out);
			continue;
		}
		if (at[2 * k] == LAST_STATE)
			out->recs[out->n++] = c->recs[c->members[g->at + g->start]];
		else
			out->recs[out->n++] = (db_record){ g->id, out->buf.data + at[2 * k],
			                                   at[2 * k + 1], g->state ? DB_STATE : DB_DELTA };
		out->joined += g->count - 1;
	}
	free(order);
	free(at);
	crdt_cart_destroy(&acc);
	crdt_cart_destroy(&tmp);
	return rc;
}

int db_coalesce(const db_record *recs, size_t n, db_coalesced *out)
{
	memset(out, 0, sizeof *out);
	buf_writer_init(&out->buf);
	if (n == 0)
		return 0;
	coalescer c = { .recs = recs, .n = n };
	out->recs = malloc(n * sizeof *out->recs);
	int rc = out->recs ? group_records(&c) : CARTD_ENOMEM;
	if (!rc)
		rc = join_groups(&c, out);
	free(c.gid);
	free(c.members);
	free(c.groups);
	free(c.slots);
	if (rc)
		db_coalesced_free(out);
	return rc;
}

void db_coalesced_free(db_coalesced *out)
{
	free(out->recs);
	buf_writer_destroy(&out->buf);
	memset(out, 0, sizeof *out);
}
