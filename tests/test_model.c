/*
 * test_model.c - the reference model (see test_model.h).  Written for
 * obviousness, not speed: every query scans every dot.
 */
#include "tests/test_model.h"

#include <string.h>

#include "crdt/buf.h"
#include "crdt/codec.h"
#include "tests/test_rng.h"

bool tm_has(const tm_set *s, unsigned r, uint64_t c)
{
	return (s->w[r][c / 64] >> (c % 64)) & 1u;
}

void tm_put(tm_set *s, unsigned r, uint64_t c)
{
	s->w[r][c / 64] |= UINT64_C(1) << (c % 64);
}

void tm_union(tm_set *dst, const tm_set *src)
{
	for (unsigned r = 0; r < TM_MAX_REPLICAS; r++)
		for (unsigned i = 0; i < TM_WORDS; i++)
			dst->w[r][i] |= src->w[r][i];
}

bool tm_set_empty(const tm_set *s)
{
	for (unsigned r = 0; r < TM_MAX_REPLICAS; r++)
		for (unsigned i = 0; i < TM_WORDS; i++)
			if (s->w[r][i])
				return false;
	return true;
}

void tm_state_clear(tm_state *s)
{
	memset(s, 0, sizeof *s);
}

/* A dot seen now and deferred for its own sku is removed; deferred dots
 * that are seen leave the deferred sets. */
static void settle_defers(const tm_world *w, tm_state *s)
{
	for (unsigned r = 0; r < w->nrep; r++)
		for (uint64_t c = 1; c <= w->top[r]; c++) {
			if (!tm_has(&s->seen, r, c))
				continue;
			unsigned sku = w->made[r][c].sku;
			if (tm_has(&s->defer[sku], r, c))
				tm_put(&s->removed, r, c);
			for (unsigned k = 0; k < TM_MAX_SKUS; k++)
				s->defer[k].w[r][c / 64] &= ~(UINT64_C(1) << (c % 64));
		}
}

void tm_join(const tm_world *w, tm_state *dst, const tm_state *src)
{
	tm_union(&dst->seen, &src->seen);
	tm_union(&dst->removed, &src->removed);
	for (unsigned k = 0; k < TM_MAX_SKUS; k++)
		tm_union(&dst->defer[k], &src->defer[k]);
	settle_defers(w, dst);
}

bool tm_live(const tm_state *s, unsigned r, uint64_t c)
{
	return tm_has(&s->seen, r, c) && !tm_has(&s->removed, r, c);
}

static bool live_of(const tm_world *w, const tm_state *s, unsigned r, uint64_t c,
                    unsigned sku)
{
	return tm_live(s, r, c) && w->made[r][c].sku == sku;
}

unsigned tm_nlive(const tm_world *w, const tm_state *s, unsigned sku)
{
	unsigned n = 0;
	for (unsigned r = 0; r < w->nrep; r++)
		for (uint64_t c = 1; c <= w->top[r]; c++)
			n += live_of(w, s, r, c, sku);
	return n;
}

uint32_t tm_qty(const tm_world *w, const tm_state *s, unsigned sku)
{
	uint64_t set = 0, add = 0;
	for (unsigned r = 0; r < w->nrep; r++)
		for (uint64_t c = 1; c <= w->top[r]; c++) {
			if (!live_of(w, s, r, c, sku))
				continue;
			const tm_entry *e = &w->made[r][c];
			if (e->kind == CRDT_SET)
				set = e->value > set ? e->value : set;
			else
				add += e->value;
		}
	uint64_t q = set + add;
	return q > CRDT_MAX_QTY ? CRDT_MAX_QTY : (uint32_t)q;
}

/* Marks removed every live entry of sku (any sku if sku < 0) covered by
 * token (everything if token is NULL); records the removals in rm. */
static void remove_where(const tm_world *w, tm_state *s, int sku, const tm_set *token,
                         tm_set *rm)
{
	for (unsigned r = 0; r < w->nrep; r++)
		for (uint64_t c = 1; c <= w->top[r]; c++) {
			if (!tm_live(s, r, c))
				continue;
			if (sku >= 0 && w->made[r][c].sku != (unsigned)sku)
				continue;
			if (token && !tm_has(token, r, c))
				continue;
			tm_put(&s->removed, r, c);
			tm_put(rm, r, c);
		}
}

/* Creates the next dot of replica r with entry e; returns its counter. */
static uint64_t make_dot(tm_world *w, tm_state *s, unsigned r, tm_entry e)
{
	uint64_t c = 0;
	for (uint64_t k = w->top[r]; k >= 1 && c == 0; k--)
		if (tm_has(&s->seen, r, k))
			c = k;
	c++;
	T_ASSERT(c <= TM_MAX_COUNTER, "model out of counters");
	w->made[r][c] = e;
	if (c > w->top[r])
		w->top[r] = c;
	tm_put(&s->seen, r, c);
	return c;
}

static void write_delta(tm_state *delta, const tm_set *rm, int r, uint64_t c)
{
	if (delta == NULL)
		return;
	tm_state_clear(delta);
	delta->seen = *rm;
	delta->removed = *rm;
	if (r >= 0)
		tm_put(&delta->seen, (unsigned)r, c);
}

bool tm_add(tm_world *w, tm_state *s, unsigned r, unsigned sku, uint32_t n, tm_state *delta)
{
	tm_set rm;
	memset(&rm, 0, sizeof rm);
	if (delta)
		tm_state_clear(delta);
	if (tm_nlive(w, s, sku) >= CRDT_MAX_LINE_ENTRIES)
		return false;
	tm_entry e = { (uint8_t)sku, CRDT_ADD, n };
	uint64_t c = make_dot(w, s, r, e);
	write_delta(delta, &rm, (int)r, c);
	return true;
}

void tm_set_qty(tm_world *w, tm_state *s, unsigned r, unsigned sku, uint32_t q, tm_state *delta)
{
	if (q == 0) {
		tm_remove(w, s, sku, NULL, delta);
		return;
	}
	tm_set rm;
	memset(&rm, 0, sizeof rm);
	remove_where(w, s, (int)sku, NULL, &rm);
	tm_entry e = { (uint8_t)sku, CRDT_SET, q };
	uint64_t c = make_dot(w, s, r, e);
	write_delta(delta, &rm, (int)r, c);
}

/* unseen := token minus what s has seen. */
static void unseen_of(const tm_world *w, const tm_state *s, const tm_set *token, tm_set *unseen)
{
	memset(unseen, 0, sizeof *unseen);
	for (unsigned r = 0; r < w->nrep; r++)
		for (uint64_t c = 1; c <= w->top[r]; c++)
			if (tm_has(token, r, c) && !tm_has(&s->seen, r, c))
				tm_put(unseen, r, c);
}

void tm_remove(const tm_world *w, tm_state *s, unsigned sku, const tm_set *token, tm_state *delta)
{
	tm_set rm, unseen;
	memset(&rm, 0, sizeof rm);
	memset(&unseen, 0, sizeof unseen);
	remove_where(w, s, (int)sku, token, &rm);
	if (token)
		unseen_of(w, s, token, &unseen);
	tm_union(&s->defer[sku], &unseen);
	write_delta(delta, &rm, -1, 0);
	if (delta)
		delta->defer[sku] = unseen;
}

void tm_clear(const tm_world *w, tm_state *s, const tm_set *token, tm_state *delta)
{
	tm_set rm, unseen;
	memset(&rm, 0, sizeof rm);
	memset(&unseen, 0, sizeof unseen);
	remove_where(w, s, -1, token, &rm);
	/* What the token saw and s has not arrives removed, whatever its sku. */
	if (token)
		unseen_of(w, s, token, &unseen);
	tm_union(&rm, &unseen);
	tm_union(&s->seen, &unseen);
	tm_union(&s->removed, &unseen);
	settle_defers(w, s);
	write_delta(delta, &rm, -1, 0);
}
