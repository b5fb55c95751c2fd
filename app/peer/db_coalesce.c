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

#define NO_GROUP SIZE_MAX

/* The records of one cart in the chunk, by index, chained in order. */
typedef struct group {
	size_t first, last;     /* indices into recs */
	size_t count;
	size_t start;           /* the last full state's index, or first */
	bool state;             /* the group holds a full state */
} group;

typedef struct coalescer {
	const db_record *recs;
	size_t n;
	size_t *next;           /* per record: the next of its cart, or NO_GROUP */
	group *groups;
	size_t ngroups;
	size_t *slots;          /* open-addressing table of group indices */
	size_t nslots;
} coalescer;

static bool same_id(const db_record *a, const db_record *b)
{
	return a->id_len == b->id_len && memcmp(a->id, b->id, a->id_len) == 0;
}

/* Groups the records by cart.  CARTD_ENOMEM or 0. */
static int group_records(coalescer *c)
{
	size_t n = c->n;
	c->nslots = 16;
	while (c->nslots < 2 * n)
		c->nslots *= 2;
	c->next = malloc(n * sizeof *c->next);
	c->groups = malloc(n * sizeof *c->groups);
	c->slots = malloc(c->nslots * sizeof *c->slots);
	if (!c->next || !c->groups || !c->slots)
		return CARTD_ENOMEM;
	for (size_t i = 0; i < c->nslots; i++)
		c->slots[i] = NO_GROUP;
	for (size_t i = 0; i < n; i++) {
		const db_record *r = &c->recs[i];
		size_t s = (size_t)crdt_name_hash(r->id, r->id_len) & (c->nslots - 1);
		while (c->slots[s] != NO_GROUP && !same_id(&c->recs[c->groups[c->slots[s]].first], r))
			s = (s + 1) & (c->nslots - 1);
		c->next[i] = NO_GROUP;
		bool state = r->kind == DB_STATE;
		if (c->slots[s] == NO_GROUP) {
			c->slots[s] = c->ngroups;
			c->groups[c->ngroups++] = (group){ i, i, 1, i, state };
			continue;
		}
		group *g = &c->groups[c->slots[s]];
		c->next[g->last] = i;
		g->last = i;
		g->count++;
		if (state) {
			g->start = i;
			g->state = true;
		}
	}
	return 0;
}

/* Joins the group's records from its start into acc.  False if one does
 * not decode or the join fails. */
static bool join_group(const coalescer *c, const group *g, crdt_cart *acc, crdt_cart *tmp)
{
	for (size_t i = g->start; i != NO_GROUP; i = c->next[i]) {
		const db_record *r = &c->recs[i];
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
	for (size_t i = g->first; i != NO_GROUP; i = c->next[i])
		out->recs[out->n++] = c->recs[i];
}

/* A group under its cart's id, for sorting. */
typedef struct keyed {
	const char *id;
	size_t len;
	size_t group;
} keyed;

/* LMDB's default key order: bytes, then the shorter first. */
static int keyed_cmp(const void *a, const void *b)
{
	const keyed *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->id, y->id, n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The groups in the order of their carts' ids, or NULL without memory. */
static keyed *sorted_groups(const coalescer *c)
{
	keyed *k = malloc(c->ngroups * sizeof *k);
	if (k == NULL)
		return NULL;
	for (size_t i = 0; i < c->ngroups; i++) {
		const db_record *r = &c->recs[c->groups[i].first];
		k[i] = (keyed){ r->id, r->id_len, i };
	}
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
		const db_record *r = &c->recs[g->first];
		out->recs[out->n++] = (db_record){ r->id, r->id_len, out->buf.data + at[2 * k],
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
	free(c.next);
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
