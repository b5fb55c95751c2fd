/*
 * context.c - causal context as sorted, coalesced dot ranges (see context.h).
 *
 * Every function keeps the canonical form: ranges sorted by (replica, lo),
 * and two ranges of one replica neither overlap nor touch.  Functions that
 * can fail build into fresh storage first so the context is unchanged on
 * error.
 */
#include "crdt/context.h"

#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"

static crdt_range *ranges_mut(crdt_ctx *c)
{
	return c->cap ? c->u.many : &c->u.one;
}

void crdt_ctx_init(crdt_ctx *c)
{
	memset(c, 0, sizeof *c);
}

void crdt_ctx_destroy(crdt_ctx *c)
{
	if (c == NULL)
		return;
	if (c->cap)
		free(c->u.many);
	crdt_ctx_init(c);
}

/* Makes room for need ranges, keeping the contents.  0 or CARTD_ENOMEM. */
static int reserve(crdt_ctx *c, uint32_t need)
{
	if (need <= 1 && c->cap == 0)
		return 0;
	if (need <= c->cap)
		return 0;
	uint32_t cap = c->cap ? c->cap : 2;
	while (cap < need)
		cap *= 2;
	crdt_range *p;
	if (c->cap) {
		p = realloc(c->u.many, (size_t)cap * sizeof *p);
		if (p == NULL)
			return CARTD_ENOMEM;
	} else {
		p = malloc((size_t)cap * sizeof *p);
		if (p == NULL)
			return CARTD_ENOMEM;
		if (c->n)
			p[0] = c->u.one;
	}
	c->u.many = p;
	c->cap = cap;
	return 0;
}

/* Replaces c's contents with n ranges from src (which must not alias c). */
static int assign(crdt_ctx *c, const crdt_range *src, uint32_t n)
{
	crdt_ctx fresh;
	crdt_ctx_init(&fresh);
	if (reserve(&fresh, n))
		return CARTD_ENOMEM;
	if (n)
		memcpy(ranges_mut(&fresh), src, (size_t)n * sizeof *src);
	fresh.n = n;
	crdt_ctx_destroy(c);
	*c = fresh;
	return 0;
}

int crdt_ctx_copy(crdt_ctx *dst, const crdt_ctx *src)
{
	if (dst == src)
		return 0;
	return assign(dst, crdt_ctx_ranges(src), src->n);
}

void crdt_ctx_swap(crdt_ctx *a, crdt_ctx *b)
{
	crdt_ctx t = *a;
	*a = *b;
	*b = t;
}

static int range_key_cmp(uint64_t rep, uint64_t ctr, const crdt_range *r)
{
	if (rep != r->replica)
		return rep < r->replica ? -1 : 1;
	if (ctr != r->lo)
		return ctr < r->lo ? -1 : 1;
	return 0;
}

/* Index of the last range whose (replica, lo) <= (rep, ctr), or -1. */
static long find_le(const crdt_ctx *c, uint64_t rep, uint64_t ctr)
{
	const crdt_range *r = crdt_ctx_ranges(c);
	long lo = 0, hi = (long)c->n - 1, best = -1;
	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;
		if (range_key_cmp(rep, ctr, &r[mid]) >= 0) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return best;
}

bool crdt_ctx_contains(const crdt_ctx *c, crdt_dot d)
{
	long i = find_le(c, d.replica, d.counter);
	if (i < 0)
		return false;
	const crdt_range *r = &crdt_ctx_ranges(c)[i];
	return r->replica == d.replica && d.counter <= r->hi;
}

bool crdt_ctx_empty(const crdt_ctx *c)
{
	return c->n == 0;
}

bool crdt_ctx_equal(const crdt_ctx *a, const crdt_ctx *b)
{
	return a->n == b->n &&
	       (a->n == 0 || memcmp(crdt_ctx_ranges(a), crdt_ctx_ranges(b),
	                            (size_t)a->n * sizeof(crdt_range)) == 0);
}

uint64_t crdt_ctx_max(const crdt_ctx *c, uint64_t replica)
{
	long i = find_le(c, replica, UINT64_MAX);
	if (i < 0)
		return 0;
	const crdt_range *r = &crdt_ctx_ranges(c)[i];
	return r->replica == replica ? r->hi : 0;
}

int crdt_ctx_add(crdt_ctx *c, crdt_dot d)
{
	return crdt_ctx_add_range(c, d.replica, d.counter, d.counter);
}

/* True if range r (of the same replica) overlaps or touches [lo, hi]. */
static bool touches(const crdt_range *r, uint64_t rep, uint64_t lo, uint64_t hi)
{
	return r->replica == rep && r->lo <= hi + 1 && lo <= r->hi + 1;
}

/* The ranges [*i, *j) of c that [lo, hi] of replica overlaps or touches:
 * adding it replaces them with one merged range. */
static void touched(const crdt_ctx *c, uint64_t replica, uint64_t lo, uint64_t hi,
                    uint32_t *i, uint32_t *j)
{
	long k = find_le(c, replica, lo);
	const crdt_range *r = crdt_ctx_ranges(c);
	*i = (uint32_t)(k + 1);
	if (k >= 0 && touches(&r[k], replica, lo, hi))
		*i = (uint32_t)k;
	*j = *i;
	while (*j < c->n && touches(&r[*j], replica, lo, hi))
		(*j)++;
}

int crdt_ctx_add_range(crdt_ctx *c, uint64_t replica, uint64_t lo, uint64_t hi)
{
	if (lo == 0 || lo > hi || hi > CRDT_MAX_COUNTER)
		return CARTD_EINVAL;
	uint32_t i, j;
	touched(c, replica, lo, hi, &i, &j);
	crdt_range *r = ranges_mut(c);
	if (j == i + 1) {
		/* One range touched (a dot extending a run, the usual add):
		 * widened where it is; the count stays, nothing moves. */
		if (lo < r[i].lo)
			r[i].lo = lo;
		if (hi > r[i].hi)
			r[i].hi = hi;
		return 0;
	}
	if (j > i) {
		if (r[i].lo < lo)
			lo = r[i].lo;
		if (r[j - 1].hi > hi)
			hi = r[j - 1].hi;
	}
	uint32_t n = c->n - (j - i) + 1;
	if (reserve(c, n))
		return CARTD_ENOMEM;
	crdt_range *w = ranges_mut(c);
	memmove(&w[i + 1], &w[j], (size_t)(c->n - j) * sizeof *w);
	w[i] = (crdt_range){ replica, lo, hi };
	c->n = n;
	return 0;
}

/* Appends r to out[0..*n), coalescing with the last range when they touch.
 * out must have room for one more. */
static void push_coalesce(crdt_range *out, uint32_t *n, const crdt_range *r)
{
	if (*n > 0) {
		crdt_range *last = &out[*n - 1];
		if (last->replica == r->replica && r->lo <= last->hi + 1) {
			if (r->hi > last->hi)
				last->hi = r->hi;
			return;
		}
	}
	out[(*n)++] = *r;
}

/* Puts r in front of out[*w..end), coalescing with the first range when
 * they touch: the mirror of push_coalesce, for a merge from the back in
 * descending (replica, hi) order, so the first range already has the
 * larger hi.  out must have room at *w - 1. */
static void push_front_coalesce(crdt_range *out, uint32_t *w, uint32_t end, crdt_range r)
{
	if (*w < end) {
		crdt_range *first = &out[*w];
		if (first->replica == r.replica && r.hi + 1 >= first->lo) {
			if (r.lo < first->lo)
				first->lo = r.lo;
			return;
		}
	}
	out[--*w] = r;
}

/* Descending merge order: by replica, then hi.  Within one canonical
 * context that is the (replica, lo) order, reversed. */
static bool hi_after(const crdt_range *a, const crdt_range *b)
{
	return a->replica != b->replica ? a->replica > b->replica : a->hi >= b->hi;
}

/*
 * Makes exactly the room crdt_ctx_add_range(dst, r) will take, so that a
 * context that stays one range stays inline.  That is dst->n + 1 less the
 * ranges r touches, never more than dst->n + 1: a context with that room
 * (spare heap room, or empty) needs no search, and one inline range only
 * the one comparison.  Only a full heap array is searched, so the usual
 * add or delta searches the context once, in crdt_ctx_add_range.
 */
static int reserve_join_range(crdt_ctx *dst, const crdt_range *r)
{
	if (dst->n < dst->cap || dst->n == 0)
		return 0;
	if (dst->cap == 0)
		return touches(&dst->u.one, r->replica, r->lo, r->hi) ? 0 : reserve(dst, 2);
	uint32_t i, j;
	touched(dst, r->replica, r->lo, r->hi, &i, &j);
	return reserve(dst, dst->n - (j - i) + 1);
}

int crdt_ctx_reserve_join(crdt_ctx *dst, const crdt_ctx *src)
{
	if (src->n == 0 || dst == src)
		return 0;
	if (src->n > 1)
		return reserve(dst, dst->n + src->n);
	/* One range, the usual delta. */
	return reserve_join_range(dst, crdt_ctx_ranges(src));
}

/*
 * Merged in place, from the back: with room for both inputs, the next
 * write never lands on a range of dst not yet read, so a join into a
 * context with room (crdt_ctx_reserve_join) allocates nothing and cannot
 * fail.
 */
int crdt_ctx_join(crdt_ctx *dst, const crdt_ctx *src)
{
	if (src->n == 0 || dst == src)
		return 0;
	if (src->n == 1) {
		const crdt_range *r = crdt_ctx_ranges(src);
		return crdt_ctx_add_range(dst, r->replica, r->lo, r->hi);
	}
	uint32_t total = dst->n + src->n;
	if (reserve(dst, total))
		return CARTD_ENOMEM;
	crdt_range *a = ranges_mut(dst);
	const crdt_range *b = crdt_ctx_ranges(src);
	uint32_t i = dst->n, j = src->n, w = total;
	while (i > 0 || j > 0) {
		bool take_a = j == 0 || (i > 0 && hi_after(&a[i - 1], &b[j - 1]));
		push_front_coalesce(a, &w, total, take_a ? a[--i] : b[--j]);
	}
	memmove(a, &a[w], (size_t)(total - w) * sizeof *a);
	dst->n = total - w;
	/* A context whose gaps all closed goes back to inline storage, as a
	 * copy of it would: carts are held by the million. */
	if (dst->n == 1) {
		crdt_range one = a[0];
		free(a);
		dst->cap = 0;
		dst->u.one = one;
	}
	return 0;
}

/* Calls fn for every overlap of a range of a with a range of b (replica,
 * lo, hi), in order, until fn returns false; returns whether it ran to
 * the end. */
static bool each_overlap(const crdt_ctx *a, const crdt_ctx *b,
                         bool (*fn)(void *arg, const crdt_range *r), void *arg)
{
	const crdt_range *x = crdt_ctx_ranges(a), *y = crdt_ctx_ranges(b);
	uint32_t i = 0, j = 0;
	while (i < a->n && j < b->n) {
		if (x[i].replica != y[j].replica) {
			if (x[i].replica < y[j].replica)
				i++;
			else
				j++;
			continue;
		}
		uint64_t lo = x[i].lo > y[j].lo ? x[i].lo : y[j].lo;
		uint64_t hi = x[i].hi < y[j].hi ? x[i].hi : y[j].hi;
		if (lo <= hi && !fn(arg, &(crdt_range){ x[i].replica, lo, hi }))
			return false;
		if (x[i].hi < y[j].hi)
			i++;
		else
			j++;
	}
	return true;
}

struct collect {
	crdt_range *out;
	uint32_t n;
};

static bool collect_overlap(void *arg, const crdt_range *r)
{
	struct collect *c = arg;
	push_coalesce(c->out, &c->n, r);
	return true;
}

int crdt_ctx_intersect(crdt_ctx *dst, const crdt_ctx *a, const crdt_ctx *b)
{
	size_t total = (size_t)a->n + b->n;
	struct collect c = { malloc((total ? total : 1) * sizeof *c.out), 0 };
	if (c.out == NULL)
		return CARTD_ENOMEM;
	each_overlap(a, b, collect_overlap, &c);
	int rc = assign(dst, c.out, c.n);
	free(c.out);
	return rc;
}

int crdt_ctx_subtract(crdt_ctx *dst, const crdt_ctx *a, const crdt_ctx *b)
{
	/* Each range of b splits at most one piece of a in two. */
	size_t total = (size_t)a->n + b->n;
	crdt_range *out = malloc((total ? total : 1) * sizeof *out);
	if (out == NULL)
		return CARTD_ENOMEM;
	const crdt_range *x = crdt_ctx_ranges(a), *y = crdt_ctx_ranges(b);
	uint32_t j = 0, n = 0;
	for (uint32_t i = 0; i < a->n; i++) {
		crdt_range cur = x[i];
		/* b's ranges wholly before cur never matter again: a is sorted. */
		while (j < b->n && (y[j].replica < cur.replica ||
		                    (y[j].replica == cur.replica && y[j].hi < cur.lo)))
			j++;
		bool left = true;
		for (uint32_t k = j; left && k < b->n && y[k].replica == cur.replica &&
		                     y[k].lo <= cur.hi; k++) {
			if (y[k].lo > cur.lo)
				out[n++] = (crdt_range){ cur.replica, cur.lo, y[k].lo - 1 };
			if (y[k].hi >= cur.hi)
				left = false;
			else
				cur.lo = y[k].hi + 1;
		}
		if (left)
			out[n++] = cur;
	}
	int rc = assign(dst, out, n);
	free(out);
	return rc;
}

static bool no_overlap(void *arg, const crdt_range *r)
{
	(void)arg;
	(void)r;
	return false;
}

/* Whether c holds a dot of range x.  Ranges of one replica are disjoint
 * and sorted: of c's ranges that start at or below x->hi, only the last can
 * reach x->lo, every earlier one ending before it starts. */
static bool overlaps_range(const crdt_ctx *c, const crdt_range *x)
{
	long k = find_le(c, x->replica, x->hi);
	if (k < 0)
		return false;
	const crdt_range *r = &crdt_ctx_ranges(c)[k];
	return r->replica == x->replica && r->hi >= x->lo;
}

bool crdt_ctx_disjoint(const crdt_ctx *a, const crdt_ctx *b)
{
	/* A delta's context is one range, usually: a binary search of the
	 * other side instead of a walk of both.  The store and the join both
	 * ask this of every received delta. */
	if (a->n == 1)
		return !overlaps_range(b, crdt_ctx_ranges(a));
	if (b->n == 1)
		return !overlaps_range(a, crdt_ctx_ranges(b));
	return each_overlap(a, b, no_overlap, NULL);
}

int crdt_ctx_remove(crdt_ctx *c, crdt_dot d)
{
	if (!crdt_ctx_contains(c, d))
		return 0;
	uint32_t i = (uint32_t)find_le(c, d.replica, d.counter);
	if (reserve(c, c->n + 1))
		return CARTD_ENOMEM;
	crdt_range *r = ranges_mut(c);
	crdt_range old = r[i];
	if (old.lo == old.hi) {
		memmove(&r[i], &r[i + 1], (size_t)(c->n - i - 1) * sizeof *r);
		c->n--;
	} else if (old.lo == d.counter) {
		r[i].lo++;
	} else if (old.hi == d.counter) {
		r[i].hi--;
	} else {
		memmove(&r[i + 2], &r[i + 1], (size_t)(c->n - i - 1) * sizeof *r);
		r[i].hi = d.counter - 1;
		r[i + 1] = (crdt_range){ old.replica, d.counter + 1, old.hi };
		c->n++;
	}
	return 0;
}

bool crdt_ctx_valid(const crdt_ctx *c)
{
	if (c->cap == 0 && c->n > 1)
		return false;
	const crdt_range *r = crdt_ctx_ranges(c);
	for (uint32_t i = 0; i < c->n; i++) {
		if (r[i].lo == 0 || r[i].lo > r[i].hi || r[i].hi > CRDT_MAX_COUNTER)
			return false;
		if (i > 0 && r[i - 1].replica > r[i].replica)
			return false;
		if (i > 0 && r[i - 1].replica == r[i].replica && r[i - 1].hi + 1 >= r[i].lo)
			return false;
	}
	return true;
}

uint64_t crdt_ctx_count(const crdt_ctx *c)
{
	const crdt_range *r = crdt_ctx_ranges(c);
	uint64_t total = 0;
	for (uint32_t i = 0; i < c->n; i++) {
		uint64_t k = r[i].hi - r[i].lo + 1;
		if (total > UINT64_MAX - k)
			return UINT64_MAX;
		total += k;
	}
	return total;
}
