/*
 * sim_oracle.c - recording local writes and settling them on a crash (see
 * sim_oracle.h).  The final verdict is in sim_check.c.
 */
#include "tests/sim_oracle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/error.h"

#define REPORT_DETAILS 12u

void sim_report_init(sim_report *r, char *buf, size_t cap)
{
	r->buf = buf;
	r->cap = cap;
	r->len = 0;
	r->problems = 0;
	if (cap)
		buf[0] = '\0';
}

static void report_vsay(sim_report *r, const char *fmt, va_list ap)
{
	if (r->len + 1 >= r->cap)
		return;
	int n = vsnprintf(r->buf + r->len, r->cap - r->len, fmt, ap);
	if (n < 0)
		return;
	r->len += (size_t)n;
	if (r->len + 1 >= r->cap) {
		r->len = r->cap - 1;
		return;
	}
	r->buf[r->len++] = '\n';
	r->buf[r->len] = '\0';
}

void sim_say(sim_report *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report_vsay(r, fmt, ap);
	va_end(ap);
}

void sim_problem(sim_report *r, const char *fmt, ...)
{
	if (r->problems++ >= REPORT_DETAILS)
		return;
	va_list ap;
	va_start(ap, fmt);
	report_vsay(r, fmt, ap);
	va_end(ap);
}

int sim_oracle_init(sim_oracle *o, unsigned ncarts)
{
	memset(o, 0, sizeof *o);
	o->removed = calloc(ncarts ? ncarts : 1, sizeof *o->removed);
	o->deferred = calloc(ncarts ? ncarts : 1, sizeof *o->deferred);
	if (o->removed == NULL || o->deferred == NULL) {
		free(o->removed);
		free(o->deferred);
		return CARTD_ENOMEM;
	}
	for (unsigned i = 0; i < ncarts; i++) {
		crdt_ctx_init(&o->removed[i]);
		crdt_cart_init(&o->deferred[i]);
	}
	o->ncarts = ncarts;
	return 0;
}

void sim_oracle_destroy(sim_oracle *o)
{
	for (size_t i = 0; i < o->nops; i++) {
		crdt_ctx_destroy(&o->ops[i].removed);
		crdt_cart_destroy(&o->ops[i].deferred);
	}
	for (unsigned i = 0; i < o->ncarts; i++) {
		crdt_ctx_destroy(&o->removed[i]);
		crdt_cart_destroy(&o->deferred[i]);
	}
	free(o->ops);
	free(o->ent);
	free(o->removed);
	free(o->deferred);
	sim_oracle_marks_destroy(o);
	memset(o, 0, sizeof *o);
}

int sim_grow(void **arr, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 256;
	while (c < need)
		c *= 2;
	void *p = realloc(*arr, c * size);
	if (p == NULL)
		return CARTD_ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

/* Appends the live entries of delta (the entries the write created) and
 * removes their dots from *removed, which starts as the delta's context. */
static int record_entries(sim_oracle *o, uint32_t cart, uint32_t op,
                          const crdt_cart *delta, crdt_ctx *removed)
{
	for (uint32_t i = 0; i < delta->n; i++) {
		const crdt_line *l = &delta->lines[i];
		const crdt_entry *e = crdt_line_entries(l);
		for (uint16_t k = 0; k < l->n; k++) {
			if (sim_grow((void **)&o->ent, &o->ent_cap, o->nent + 1, sizeof *o->ent) ||
			    crdt_ctx_remove(removed, crdt_entry_dot(&e[k])))
				return CARTD_ENOMEM;
			sim_entry_rec *r = &o->ent[o->nent++];
			memset(r, 0, sizeof *r);
			r->cart = cart;
			r->op = op;
			r->e = e[k];
			/* sim skus are short; longer ones are truncated, never compared
			 * wrongly, because sku_len is kept whole */
			r->sku_len = l->sku_len;
			memcpy(r->sku, crdt_line_sku(l),
			       l->sku_len < SIM_SKU_MAX ? l->sku_len : SIM_SKU_MAX);
		}
	}
	return 0;
}

/* A view of c's deferred removes alone (no lines, empty context), borrowed
 * from c: joining it never settles them, so a cart joined from such views
 * keeps every deferred remove it ever got. */
static crdt_cart deferred_view(const crdt_cart *c)
{
	crdt_cart v;
	crdt_cart_init(&v);
	v.defer = c->defer;
	return v;
}

static int keep_deferred(const crdt_cart *delta, crdt_cart *out)
{
	crdt_cart v = deferred_view(delta);
	return crdt_cart_join(out, &v, NULL);
}

/* The write took effect: its removes and deferred removes count. */
static int took_effect(sim_oracle *o, const sim_op_rec *r)
{
	int rc = crdt_ctx_join(&o->removed[r->cart], &r->removed);
	if (rc == 0 && r->deferred.defer)
		rc = keep_deferred(&r->deferred, &o->deferred[r->cart]);
	return rc;
}

int sim_oracle_applied(sim_oracle *o, unsigned cart, unsigned peer, uint8_t kind,
                       uint64_t now, const crdt_cart *delta, uint32_t *op)
{
	if (sim_grow((void **)&o->ops, &o->ops_cap, o->nops + 1, sizeof *o->ops))
		return CARTD_ENOMEM;
	sim_op_rec *r = &o->ops[o->nops];
	memset(r, 0, sizeof *r);
	r->cart = cart;
	r->peer = (uint16_t)peer;
	r->state = SIM_OP_PENDING;
	r->kind = kind;
	r->at = now;
	r->first = (uint32_t)o->nent;
	r->req = SIM_NO_OP;
	crdt_ctx_init(&r->removed);
	crdt_cart_init(&r->deferred);
	int rc = crdt_ctx_copy(&r->removed, &delta->ctx);
	if (rc == 0)
		rc = record_entries(o, cart, (uint32_t)o->nops, delta, &r->removed);
	if (rc == 0 && delta->defer)
		rc = keep_deferred(delta, &r->deferred);
	if (rc) {
		crdt_ctx_destroy(&r->removed);
		crdt_cart_destroy(&r->deferred);
		o->nent = r->first;
		return rc;
	}
	r->nentries = (uint32_t)(o->nent - r->first);
	*op = (uint32_t)o->nops++;
	return 0;
}

int sim_oracle_acked(sim_oracle *o, uint32_t op)
{
	sim_op_rec *r = &o->ops[op];
	r->state = SIM_OP_ACKED;
	return took_effect(o, r);
}

bool sim_cart_defers(const crdt_cart *c, const char *sku, size_t len, crdt_dot d)
{
	for (uint32_t i = 0; i < crdt_cart_ndefer(c); i++) {
		const crdt_defer *x = &c->defer->v[i];
		if (x->sku_len == len && memcmp(x->sku, sku, len) == 0)
			return crdt_ctx_contains(&x->dots, d);
	}
	return false;
}

bool sim_oracle_removed(const sim_oracle *o, unsigned cart, const char *sku, size_t len,
                        crdt_dot d)
{
	return crdt_ctx_contains(&o->removed[cart], d) ||
	       sim_cart_defers(&o->deferred[cart], sku, len, d);
}

/* True if c holds a live entry of line sku with dot d. */
static bool line_has_live(const crdt_cart *c, const char *sku, size_t len, crdt_dot d)
{
	const crdt_line *l = crdt_cart_find(c, sku, len);
	for (uint16_t k = 0; l && k < l->n; k++)
		if (crdt_dot_cmp(crdt_entry_dot(&crdt_line_entries(l)[k]), d) == 0)
			return true;
	return false;
}

/* Did r's deferred removes reach disk cart c?  Each (line, dot) is there
 * as a deferred remove, or settled: the dot seen and not live in that line. */
static bool deferred_on_disk(const sim_op_rec *r, const crdt_cart *c)
{
	for (uint32_t i = 0; i < crdt_cart_ndefer(&r->deferred); i++) {
		const crdt_defer *x = &r->deferred.defer->v[i];
		const crdt_range *rg = crdt_ctx_ranges(&x->dots);
		for (uint32_t j = 0; j < x->dots.n; j++)
			for (uint64_t k = rg[j].lo; k <= rg[j].hi; k++) {
				crdt_dot d = { rg[j].replica, k };
				bool there = sim_cart_defers(c, x->sku, x->sku_len, d) ||
				             (crdt_ctx_contains(&c->ctx, d) &&
				              !line_has_live(c, x->sku, x->sku_len, d));
				if (!there)
					return false;
			}
	}
	return true;
}

bool sim_cart_has_live(const crdt_cart *c, crdt_dot d)
{
	for (uint32_t i = 0; i < c->n; i++) {
		const crdt_entry *e = crdt_line_entries(&c->lines[i]);
		for (uint16_t k = 0; k < c->lines[i].n; k++)
			if (crdt_dot_cmp(crdt_entry_dot(&e[k]), d) == 0)
				return true;
	}
	return false;
}

/* Did write r reach disk cart c?  A write reaches disk whole (one cart, one
 * put), so its first new dot tells; a pure removal tells by every dot it
 * removed being seen and not live there. */
static bool reached_disk(const sim_oracle *o, const sim_op_rec *r, const crdt_cart *c)
{
	if (r->nentries)
		return crdt_ctx_contains(&c->ctx, crdt_entry_dot(&o->ent[r->first].e));
	if (!deferred_on_disk(r, c))
		return false;
	const crdt_range *rg = crdt_ctx_ranges(&r->removed);
	for (uint32_t i = 0; i < r->removed.n; i++)
		for (uint64_t k = rg[i].lo; k <= rg[i].hi; k++) {
			crdt_dot d = { rg[i].replica, k };
			if (!crdt_ctx_contains(&c->ctx, d) || sim_cart_has_live(c, d))
				return false;
		}
	return true;
}

int sim_oracle_crashed(sim_oracle *o, unsigned peer, const sim_disk *disk,
                       char *const *cart_ids)
{
	crdt_cart c;
	crdt_cart_init(&c);
	int rc = 0;
	for (size_t i = 0; i < o->nops && rc == 0; i++) {
		sim_op_rec *r = &o->ops[i];
		if (r->peer != peer || r->state != SIM_OP_PENDING)
			continue;
		const char *id = cart_ids[r->cart];
		rc = sim_disk_read(disk, id, strlen(id), &c);
		if (rc)
			break;
		if (reached_disk(o, r, &c)) {
			r->state = SIM_OP_DURABLE;
			rc = took_effect(o, r);
		} else {
			r->state = SIM_OP_LOST;
		}
	}
	crdt_cart_destroy(&c);
	return rc;
}

size_t sim_oracle_lost_carts(const sim_oracle *o, unsigned peer, uint32_t *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = o->nops; i-- > 0 && n < cap;)
		if (o->ops[i].peer == peer && o->ops[i].state == SIM_OP_LOST)
			out[n++] = o->ops[i].cart;
	return n;
}

void sim_oracle_counts(const sim_oracle *o, uint64_t count[4])
{
	memset(count, 0, 4 * sizeof count[0]);
	for (size_t i = 0; i < o->nops; i++)
		count[o->ops[i].state]++;
}
