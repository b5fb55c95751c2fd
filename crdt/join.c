/*
 * join.c - the causal join of two carts (see crdt_cart_join in cart.h).
 *
 * Two phases keep the destination unchanged on failure: the first builds
 * the merged line array, allocating only for lines whose entries change and
 * sharing the untouched ones with dst; the second, which cannot fail, frees
 * what dst no longer uses and installs the result.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/cart.h"
#include "crdt/cart_internal.h"
#include "crdt/error.h"

/* What the commit phase does with each line of dst. */
enum { KEEP_LINE, NEW_ENTRIES, DROP_LINE };
/* What phase one allocated for each merged line (freed if phase one fails). */
enum { FRESH_ENTRIES = 1, FRESH_LINE = 2 };
/* Flag bytes kept on the stack up to this many lines. */
#define JOIN_STACK_FLAGS 256

struct join_plan {
	crdt_line *out;     /* merged lines */
	uint32_t nout;
	uint8_t *dst_act;   /* per dst line: KEEP_LINE / NEW_ENTRIES / DROP_LINE */
	uint8_t *out_new;   /* per out line: FRESH_ENTRIES or FRESH_LINE, else 0 */
	size_t nmax;
	bool changed;
};

/*
 * Merges one sku's entries: keeps an entry present on both sides, or on one
 * side when the other side's context has not seen its dot.  e has room for
 * an + bn entries.  Returns the count; *from_a_only tells whether the result
 * is exactly a's entries.
 */
static uint32_t merge_entries(const crdt_entry *a, uint32_t an, const crdt_ctx *actx,
                              const crdt_entry *b, uint32_t bn, const crdt_ctx *bctx,
                              crdt_entry *e, bool *same_as_a)
{
	uint32_t i = 0, j = 0, n = 0, kept_a = 0;
	bool took_b = false;
	while (i < an || j < bn) {
		int cmp = i >= an ? 1 : j >= bn ? -1
		          : crdt_dot_cmp(crdt_entry_dot(&a[i]), crdt_entry_dot(&b[j]));
		if (cmp == 0) {
			e[n++] = a[i++];
			j++;
			kept_a++;
		} else if (cmp < 0) {
			if (!crdt_ctx_contains(bctx, crdt_entry_dot(&a[i]))) {
				e[n++] = a[i];
				kept_a++;
			}
			i++;
		} else {
			if (!crdt_ctx_contains(actx, crdt_entry_dot(&b[j]))) {
				e[n++] = b[j];
				took_b = true;
			}
			j++;
		}
	}
	*same_as_a = !took_b && kept_a == an;
	return n;
}

/* Plans one sku present in dst (ai >= 0), in src (bi >= 0) or both. */
static int plan_sku(struct join_plan *p, const crdt_cart *dst, long ai,
                    const crdt_cart *src, long bi, crdt_entry *scratch)
{
	static const crdt_entry none[1];
	const crdt_line *a = ai >= 0 ? &dst->lines[ai] : NULL;
	const crdt_line *b = bi >= 0 ? &src->lines[bi] : NULL;
	bool same;
	uint32_t n = merge_entries(a ? crdt_line_entries(a) : none, a ? a->n : 0, &dst->ctx,
	                           b ? crdt_line_entries(b) : none, b ? b->n : 0, &src->ctx,
	                           scratch, &same);
	if (a && same) {
		p->dst_act[ai] = KEEP_LINE;
		p->out[p->nout++] = *a;
		return 0;
	}
	if (n == 0) {
		/* A line only src had, whose entries dst already removed, changes
		 * nothing; a line of dst that lost all its entries is dropped. */
		if (a) {
			p->dst_act[ai] = DROP_LINE;
			p->changed = true;
		}
		return 0;
	}
	p->changed = true;
	if (n > CRDT_DECODE_MAX_ENTRIES)
		return CARTD_ELIMIT;
	crdt_line *l = &p->out[p->nout];
	if (a) {
		*l = *a;
		if (cart_line_set_entries(l, scratch, (uint16_t)n))
			return CARTD_ENOMEM;
		p->dst_act[ai] = NEW_ENTRIES;
		p->out_new[p->nout++] = FRESH_ENTRIES;
	} else {
		if (cart_line_init(l, crdt_line_sku(b), b->sku_len, scratch, (uint16_t)n))
			return CARTD_ENOMEM;
		p->out_new[p->nout++] = FRESH_LINE;
	}
	return 0;
}

/* Frees what phase one allocated (fresh entry arrays and fresh lines). */
static void plan_abort(struct join_plan *p)
{
	for (uint32_t i = 0; i < p->nout; i++) {
		crdt_line *l = &p->out[i];
		if (p->out_new[i] == FRESH_LINE)
			cart_line_free(l);
		else if (p->out_new[i] == FRESH_ENTRIES && l->cap)
			free(l->u.many);
	}
}

/* Walks both sorted line arrays and plans every sku. */
static int plan_lines(struct join_plan *p, const crdt_cart *dst, const crdt_cart *src)
{
	uint32_t maxn = 0;
	for (uint32_t i = 0; i < dst->n; i++)
		maxn = dst->lines[i].n > maxn ? dst->lines[i].n : maxn;
	for (uint32_t i = 0; i < src->n; i++)
		maxn += src->lines[i].n;
	crdt_entry *scratch = malloc((size_t)(maxn ? maxn : 1) * sizeof *scratch);
	if (scratch == NULL)
		return CARTD_ENOMEM;
	uint32_t i = 0, j = 0;
	int rc = 0;
	while (rc == 0 && (i < dst->n || j < src->n)) {
		int cmp = i >= dst->n ? 1 : j >= src->n ? -1
		          : crdt_name_cmp(crdt_line_sku(&dst->lines[i]), dst->lines[i].sku_len,
		                          crdt_line_sku(&src->lines[j]), src->lines[j].sku_len);
		long ai = cmp <= 0 ? (long)i++ : -1;
		long bi = cmp >= 0 ? (long)j++ : -1;
		rc = plan_sku(p, dst, ai, src, bi, scratch);
		if (rc == 0 && p->nout > CRDT_DECODE_MAX_LINES)
			rc = CARTD_ELIMIT;
	}
	free(scratch);
	return rc;
}

static void commit(crdt_cart *dst, struct join_plan *p, crdt_ctx *ctx)
{
	/* Give back the slack of the worst-case allocation: carts are held by
	 * the million. */
	if (p->nout == 0) {
		free(p->out);
		p->out = NULL;
	} else if (p->nout < p->nmax) {
		crdt_line *shrunk = realloc(p->out, (size_t)p->nout * sizeof *p->out);
		if (shrunk)
			p->out = shrunk;
	}
	for (uint32_t i = 0; i < dst->n; i++) {
		crdt_line *l = &dst->lines[i];
		if (p->dst_act[i] == DROP_LINE) {
			cart_line_free(l);
		} else if (p->dst_act[i] == NEW_ENTRIES && l->cap) {
			free(l->u.many);
		}
	}
	free(dst->lines);
	dst->lines = p->out;
	dst->n = p->nout;
	dst->cap = p->nout;
	crdt_ctx_swap(&dst->ctx, ctx);
}

/* True if src's context covers a live entry of dst outside line skip
 * (-1: in any line).  disjoint: crdt_ctx_disjoint(&src->ctx, &dst->ctx). */
static bool covers_other_lines(const crdt_cart *dst, const crdt_cart *src, long skip,
                               bool disjoint)
{
	/* dst's live entries all lie in its context, so a src context that
	 * shares no dot with it (a new write's delta) covers none of them:
	 * decided on the contexts alone, without visiting dst's entries. */
	if (disjoint)
		return false;
	for (uint32_t i = 0; i < dst->n; i++) {
		if ((long)i == skip)
			continue;
		const crdt_entry *e = crdt_line_entries(&dst->lines[i]);
		for (uint16_t k = 0; k < dst->lines[i].n; k++)
			if (crdt_ctx_contains(&src->ctx, crdt_entry_dot(&e[k])))
				return true;
	}
	return false;
}

/* Joins contexts only: src has no lines and its context covers no live
 * entry of dst, the usual shape of a duplicate or a pure removal of
 * nothing.  Returns 1 if handled, 0 if the full join is needed, <0 error. */
static int join_ctx_only(crdt_cart *dst, const crdt_cart *src, bool disjoint, bool *changed)
{
	if (src->n != 0 || covers_other_lines(dst, src, -1, disjoint))
		return 0;
	/* A join only adds dots: the context changed iff it holds more. */
	uint64_t before = crdt_ctx_count(&dst->ctx);
	int rc = crdt_ctx_join(&dst->ctx, &src->ctx);
	if (rc)
		return rc;
	*changed = crdt_ctx_count(&dst->ctx) != before;
	return 1;
}

/* Installs the merged entries of line ai (or a new line at ai) in place,
 * then joins src's context into dst's, which has room for it: everything
 * that can fail is done before dst is touched. */
static int commit_one_line(crdt_cart *dst, long ai, bool found, const crdt_line *b,
                           const crdt_entry *e, uint32_t n, const crdt_ctx *src_ctx)
{
	crdt_line fresh;
	if (!found) {
		if (cart_insert_line(dst, ai, crdt_line_sku(b), b->sku_len, e, (uint16_t)n))
			return CARTD_ENOMEM;
	} else if (n == 0) {
		cart_line_free(&dst->lines[ai]);
		memmove(&dst->lines[ai], &dst->lines[ai + 1], (dst->n - (size_t)ai - 1) * sizeof fresh);
		dst->n--;
	} else {
		fresh = dst->lines[ai];
		if (cart_line_set_entries(&fresh, e, (uint16_t)n))
			return CARTD_ENOMEM;
		if (dst->lines[ai].cap)
			free(dst->lines[ai].u.many);
		dst->lines[ai] = fresh;
	}
	(void)crdt_ctx_join(&dst->ctx, src_ctx);   /* room reserved: cannot fail */
	return 0;
}

/*
 * The usual delta, one line whose context touches no other line of dst,
 * joins in place: no new line array and no copy of the context, which is
 * joined in place once room for it is made.  Returns 1 if handled, 0 if
 * the general join is needed, or an error.
 */
static int join_one_line(crdt_cart *dst, const crdt_cart *src, bool disjoint, bool *changed)
{
	enum { STACK_ENTRIES = 32 };
	const crdt_line *b = &src->lines[0];
	bool found;
	long ai = cart_find_index(dst, crdt_line_sku(b), b->sku_len, &found);
	const crdt_line *a = found ? &dst->lines[ai] : NULL;
	uint32_t cap = (a ? a->n : 0) + b->n;
	if (src->n != 1 || (!found && dst->n >= CRDT_DECODE_MAX_LINES) ||
	    covers_other_lines(dst, src, found ? ai : -1, disjoint))
		return 0;
	crdt_entry stack[STACK_ENTRIES];
	crdt_entry *e = cap <= STACK_ENTRIES ? stack : malloc(cap * sizeof *e);
	if (e == NULL || crdt_ctx_reserve_join(&dst->ctx, &src->ctx)) {
		if (e != stack)
			free(e);
		return CARTD_ENOMEM;
	}
	/* A join only adds dots: the context changes iff it holds more. */
	uint64_t before = crdt_ctx_count(&dst->ctx);
	bool same;
	uint32_t n = merge_entries(a ? crdt_line_entries(a) : e, a ? a->n : 0, &dst->ctx,
	                           crdt_line_entries(b), b->n, &src->ctx, e, &same);
	same = a ? same : n == 0;
	int rc = 0;
	if (n > CRDT_DECODE_MAX_ENTRIES)
		rc = CARTD_ELIMIT;
	else if (same)
		(void)crdt_ctx_join(&dst->ctx, &src->ctx);   /* room reserved */
	else
		rc = commit_one_line(dst, ai, found, b, e, n, &src->ctx);
	*changed = rc == 0 && (!same || crdt_ctx_count(&dst->ctx) != before);
	if (e != stack)
		free(e);
	return rc ? rc : 1;
}

/* The join of two carts without deferred removes.  known: NULL, or
 * crdt_ctx_disjoint(&src->ctx, &dst->ctx) as the caller found it. */
static int join_plain(crdt_cart *dst, const crdt_cart *src, const bool *known, bool *changed)
{
	/* Whether the contexts share a dot steers each path for a src of at
	 * most one line: asked once, here, for all of them (a one-line delta
	 * that shares a dot was asked twice), and not at all when the caller
	 * knows (the store asks it of every delta).  A larger src's general
	 * join does not read it, so it is not asked. */
	bool disjoint = src->n <= 1 &&
	                (known ? *known : crdt_ctx_disjoint(&src->ctx, &dst->ctx));
	int rc = join_ctx_only(dst, src, disjoint, changed);
	/* A delta sharing no dot with dst removes nothing and keeps all it
	 * carries (dst's live entries lie in its context, src's in its own):
	 * merged into the line in place, it changes dst. */
	if (rc == 0 && src->n == 1 && disjoint) {
		rc = cart_join_disjoint_line(dst, src);
		*changed = rc == 1;
	}
	if (rc == 0 && src->n == 1)
		rc = join_one_line(dst, src, disjoint, changed);
	if (rc != 0)
		return rc < 0 ? rc : 0;

	crdt_ctx ctx;
	crdt_ctx_init(&ctx);
	uint8_t stack_flags[JOIN_STACK_FLAGS];
	struct join_plan p = { 0 };
	p.nmax = (size_t)dst->n + src->n;
	size_t nflags = p.nmax + dst->n;
	uint8_t *flags = nflags <= sizeof stack_flags ? stack_flags : malloc(nflags);
	p.out = malloc(p.nmax * sizeof *p.out);
	if (flags == NULL || p.out == NULL || crdt_ctx_copy(&ctx, &dst->ctx) ||
	    crdt_ctx_join(&ctx, &src->ctx)) {
		rc = CARTD_ENOMEM;
		goto out;
	}
	memset(flags, 0, nflags);
	p.out_new = flags;
	p.dst_act = flags + p.nmax;
	rc = plan_lines(&p, dst, src);
	if (rc) {
		plan_abort(&p);
		goto out;
	}
	*changed = p.changed || !crdt_ctx_equal(&ctx, &dst->ctx);
	commit(dst, &p, &ctx);
	p.out = NULL;
out:
	free(p.out);
	if (flags != stack_flags)
		free(flags);
	crdt_ctx_destroy(&ctx);
	return rc;
}

/* Deferred removes of a and b (either may be NULL) merged by sku, dots
 * united, into *out (NULL when both are empty). */
static int merge_defers(const crdt_defers *a, const crdt_defers *b, crdt_defers **out)
{
	*out = NULL;
	uint32_t an = a ? a->n : 0, bn = b ? b->n : 0;
	if (an + bn == 0)
		return 0;
	crdt_defers *m = cart_defers_alloc(an + bn);
	if (m == NULL)
		return CARTD_ENOMEM;
	uint32_t i = 0, j = 0;
	int rc = 0;
	while (rc == 0 && (i < an || j < bn)) {
		int cmp = i >= an ? 1 : j >= bn ? -1
		          : crdt_name_cmp(a->v[i].sku, a->v[i].sku_len, b->v[j].sku, b->v[j].sku_len);
		const crdt_defer *x = cmp <= 0 ? &a->v[i++] : &b->v[j++];
		rc = cart_defer_init(&m->v[m->n], x->sku, x->sku_len, &x->dots);
		if (rc == 0)
			m->n++;
		if (rc == 0 && cmp == 0)
			rc = crdt_ctx_join(&m->v[m->n - 1].dots, &b->v[j++].dots);
	}
	if (rc) {
		cart_defers_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

/* Drops from line l the entries whose dots dots holds.  0 or ENOMEM; the
 * line is left consistent either way (n may become 0). */
static int drop_dots(crdt_line *l, const crdt_ctx *dots)
{
	const crdt_entry *e = crdt_line_entries(l);
	crdt_entry *keep = malloc((size_t)l->n * sizeof *keep);
	if (keep == NULL)
		return CARTD_ENOMEM;
	uint16_t k = 0;
	for (uint16_t i = 0; i < l->n; i++)
		if (!crdt_ctx_contains(dots, crdt_entry_dot(&e[i])))
			keep[k++] = e[i];
	int rc = 0;
	if (k != l->n) {
		crdt_line fresh = *l;
		rc = cart_line_set_entries(&fresh, keep, k);
		if (rc == 0) {
			if (l->cap)
				free(l->u.many);
			*l = fresh;
		}
	}
	free(keep);
	return rc;
}

/* Applies deferred removes d to c's lines, then removes from d what c's
 * context now holds (such a dot has arrived: dropped above if it was of the
 * deferred line, kept if it was of another).  *d becomes NULL when empty. */
static int apply_defers(crdt_cart *c, crdt_defers **d)
{
	crdt_defers *m = *d;
	int rc = 0;
	for (uint32_t i = 0; m && rc == 0 && i < c->n; i++) {
		crdt_line *l = &c->lines[i];
		const crdt_defer *x = cart_find_defer(m, crdt_line_sku(l), l->sku_len);
		if (x)
			rc = drop_dots(l, &x->dots);
	}
	uint32_t w = 0;
	for (uint32_t i = 0; i < c->n; i++) {
		if (c->lines[i].n == 0)
			cart_line_free(&c->lines[i]);
		else
			c->lines[w++] = c->lines[i];
	}
	c->n = w;
	for (uint32_t i = 0; m && rc == 0 && i < m->n; i++) {
		crdt_ctx left;
		crdt_ctx_init(&left);
		rc = crdt_ctx_subtract(&left, &m->v[i].dots, &c->ctx);
		crdt_ctx_swap(&left, &m->v[i].dots);
		crdt_ctx_destroy(&left);
	}
	if (rc || m == NULL)
		return rc;
	w = 0;
	for (uint32_t i = 0; i < m->n; i++) {
		if (crdt_ctx_empty(&m->v[i].dots)) {
			free(m->v[i].sku);
			crdt_ctx_destroy(&m->v[i].dots);
		} else {
			m->v[w++] = m->v[i];
		}
	}
	m->n = w;
	if (w == 0) {
		cart_defers_free(m);
		*d = NULL;
	}
	return 0;
}

/*
 * A join where either side holds deferred removes: rare (a remove under a
 * token that named writes not yet received), so it favours plainness over
 * speed: it joins into a copy of dst, applies the united deferred removes,
 * and installs the copy only if everything succeeded.  The copy holds
 * dst's context, so what known says of dst it says of the copy.
 */
static int join_deferred(crdt_cart *dst, const crdt_cart *src, const bool *known,
                         bool *changed)
{
	crdt_cart t, plain_src = *src;   /* src without its deferred removes */
	plain_src.defer = NULL;
	crdt_cart_init(&t);
	crdt_defers *m = NULL;
	bool ignored;
	int rc = crdt_cart_copy(&t, dst);
	if (rc == 0)
		rc = merge_defers(t.defer, src->defer, &m);
	cart_defers_free(t.defer);
	t.defer = NULL;
	if (rc == 0)
		rc = join_plain(&t, &plain_src, known, &ignored);
	if (rc == 0)
		rc = apply_defers(&t, &m);
	if (rc) {
		cart_defers_free(m);
		crdt_cart_destroy(&t);
		return rc;
	}
	t.defer = m;
	*changed = !crdt_cart_equal(&t, dst);
	crdt_cart_destroy(dst);
	*dst = t;
	return 0;
}

static int join_lines(crdt_cart *dst, const crdt_cart *src, const bool *known, bool *changed)
{
	if (dst->defer || src->defer)
		return join_deferred(dst, src, known, changed);
	return join_plain(dst, src, known, changed);
}

/*
 * A join where src holds idempotency records or close markers: those are
 * merged first into fresh arrays (they may fail), then the lines, context
 * and deferred removes (which may fail too, leaving dst as it was), and
 * only then are the merged records and markers installed.  dst's context
 * does not change before the lines join, so known still holds there.
 */
static int join_marks(crdt_cart *dst, const crdt_cart *src, const bool *known, bool *changed)
{
	crdt_keys *keys = NULL;
	crdt_closes *closes = NULL;
	bool kch = false, cch = false;
	int rc = cart_keys_join(dst->keys, src->keys, &keys, &kch);
	if (rc == 0)
		rc = cart_closes_join(dst->closes, src->closes, &closes, &cch);
	if (rc == 0)
		rc = join_lines(dst, src, known, changed);
	if (rc) {
		free(keys);
		cart_closes_free(closes);
		return rc;
	}
	if (kch) {
		free(dst->keys);
		dst->keys = keys;
	}
	if (cch) {
		cart_closes_free(dst->closes);
		dst->closes = closes;
	}
	*changed = *changed || kch || cch;
	return 0;
}

/* crdt_cart_join; known as in join_plain. */
static int join_cart(crdt_cart *dst, const crdt_cart *src, const bool *known, bool *changed)
{
	bool dummy;
	if (changed == NULL)
		changed = &dummy;
	*changed = false;
	if (dst == src)
		return 0;
	if (src->keys || src->closes)
		return join_marks(dst, src, known, changed);
	return join_lines(dst, src, known, changed);
}

int crdt_cart_join(crdt_cart *dst, const crdt_cart *src, bool *changed)
{
	return join_cart(dst, src, NULL, changed);
}

int cart_join_known(crdt_cart *dst, const crdt_cart *src, bool disjoint, bool *changed)
{
	return join_cart(dst, src, &disjoint, changed);
}
