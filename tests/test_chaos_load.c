/*
 * test_chaos_load.c - the recorded write load of the chaos suite and the
 * check of what the peers hold against it (see test_chaos.h).
 */
#include "tests/test_chaos.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITE_TIMEOUT_MS 5000
#define RETRY_PAUSE_MS 10       /* after a refused connect: a down peer */
#define REPORT_MAX 8            /* violations described */

typedef struct tc_thread {
	pthread_t th;
	struct tc_load *load;
	int t;
	_Atomic int n;              /* writes started */
	unsigned char *outcome;     /* per write: enum tc_outcome */
} tc_thread;

struct tc_load {
	char prefix[32];
	hostport_ip targets[TP_MAX_PEERS];
	int ntargets;
	int max_writes;
	int nthreads;
	bool running;
	atomic_bool stop;
	atomic_long count[TC_REJECTED + 1];
	pthread_mutex_t mu;         /* guards first_reject */
	char first_reject[256];
	tc_thread th[TC_MAX_THREADS];
};

static void cart_of(const tc_load *l, int t, int k, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s-t%d-%d", l->prefix, t, k / TC_PER_CART);
}

static enum tc_outcome write_one(tc_load *l, int t, int k)
{
	char cart[64], target[96], body[64], err[256];
	cart_of(l, t, k, cart, sizeof cart);
	snprintf(target, sizeof target, "/carts/%s/items", cart);
	snprintf(body, sizeof body, "{\"sku\":\"s%d\",\"qty\":1}", k);
	ctl_http_request req = {
		.method = "POST", .target = target, .content_type = "application/json",
		.body = body, .body_len = strlen(body), .timeout_ms = WRITE_TIMEOUT_MS,
	};
	ctl_http_response res;
	const hostport_ip *peer = &l->targets[(t + k) % l->ntargets];
	if (ctl_http_do(peer, &req, &res, err, sizeof err) != 0)
		return strstr(err, "refused") ? TC_REFUSED : TC_UNKNOWN;
	enum tc_outcome o = res.status == 200 ? TC_ACKED : TC_REJECTED;
	if (o == TC_REJECTED) {
		pthread_mutex_lock(&l->mu);
		if (!l->first_reject[0])
			snprintf(l->first_reject, sizeof l->first_reject, "POST %s %s: %d %.150s",
			         target, body, res.status, res.body);
		pthread_mutex_unlock(&l->mu);
	}
	ctl_http_response_free(&res);
	return o;
}

static void *writer(void *arg)
{
	tc_thread *w = arg;
	tc_load *l = w->load;
	for (int k = 0; k < l->max_writes && !atomic_load(&l->stop); k++) {
		atomic_store(&w->n, k + 1);
		enum tc_outcome o = write_one(l, w->t, k);
		w->outcome[k] = (unsigned char)o;
		atomic_fetch_add(&l->count[o], 1);
		if (o == TC_REFUSED)
			tp_sleep_ms(RETRY_PAUSE_MS);
	}
	return NULL;
}

tc_load *tc_load_start(tp_cluster *c, const int *targets, int ntargets, int nthreads,
                       int max_writes, const char *prefix)
{
	ck_assert(nthreads >= 1 && nthreads <= TC_MAX_THREADS);
	ck_assert(ntargets >= 1 && ntargets <= TP_MAX_PEERS);
	ck_assert(strlen(prefix) <= 24);
	tc_load *l = calloc(1, sizeof *l);
	ck_assert_ptr_nonnull(l);
	snprintf(l->prefix, sizeof l->prefix, "%s", prefix);
	for (int i = 0; i < ntargets; i++)
		l->targets[i] = c->peers[targets[i]].http;
	l->ntargets = ntargets;
	l->max_writes = max_writes;
	l->nthreads = nthreads;
	pthread_mutex_init(&l->mu, NULL);
	for (int t = 0; t < nthreads; t++) {
		tc_thread *w = &l->th[t];
		w->load = l;
		w->t = t;
		w->outcome = calloc((size_t)max_writes, 1);
		ck_assert_ptr_nonnull(w->outcome);
	}
	for (int t = 0; t < nthreads; t++)
		ck_assert_int_eq(pthread_create(&l->th[t].th, NULL, writer, &l->th[t]), 0);
	l->running = true;
	return l;
}

void tc_load_stop(tc_load *l)
{
	if (!l->running)
		return;
	atomic_store(&l->stop, true);
	for (int t = 0; t < l->nthreads; t++)
		pthread_join(l->th[t].th, NULL);
	l->running = false;
}

void tc_load_free(tc_load *l)
{
	if (!l)
		return;
	tc_load_stop(l);
	for (int t = 0; t < l->nthreads; t++)
		free(l->th[t].outcome);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

long tc_load_count(const tc_load *l, enum tc_outcome o)
{
	return atomic_load(&l->count[o]);
}

void tc_load_describe(const tc_load *l, char *buf, size_t cap)
{
	snprintf(buf, cap, "acked %ld, refused %ld, unknown %ld, rejected %ld",
	         tc_load_count(l, TC_ACKED), tc_load_count(l, TC_REFUSED),
	         tc_load_count(l, TC_UNKNOWN), tc_load_count(l, TC_REJECTED));
}

const char *tc_load_first_reject(const tc_load *l)
{
	return l->first_reject;
}

bool tc_load_wait_acked(const tc_load *l, long n, int timeout_ms)
{
	long long deadline = tp_now_ms() + timeout_ms;
	while (tc_load_count(l, TC_ACKED) < n) {
		if (tp_now_ms() >= deadline) {
			char d[160];
			tc_load_describe(l, d, sizeof d);
			fprintf(stderr, "chaos: wanted %ld acked writes within %d ms; %s\n", n,
			        timeout_ms, d);
			return false;
		}
		tp_sleep_ms(10);
	}
	return true;
}

/* Appends one violation to report (the first REPORT_MAX of them). */
static void note(char *report, size_t cap, int *bad, const char *cart, const char *sku,
                 const char *what)
{
	size_t o = strlen(report);
	if (*bad < REPORT_MAX && o < cap)
		snprintf(report + o, cap - o, "\n    cart %s sku %s: %s", cart, sku, what);
	(*bad)++;
}

/* The quantity of sku s<k> per write index, from one cart's answer:
 * qty[k - first] (0 = absent).  Skus outside the cart's range are noted. */
static void read_cart(tp_cluster *c, int i, const char *cart, int first, int count,
                      long long *qty, char *report, size_t cap, int *bad)
{
	char target[128];
	int status;
	snprintf(target, sizeof target, "/carts/%s", cart);
	json_t *v = tp_json(c, i, "GET", target, NULL, &status);
	ck_assert_msg(status == 200, "GET %s at %s: %d", target, c->peers[i].name, status);
	json_t *items = json_object_get(v, "items"), *it;
	size_t x;
	json_array_foreach(items, x, it) {
		const char *sku = json_string_value(json_object_get(it, "sku"));
		char *end = NULL;
		if (sku && sku[0] == 'x')
			continue;   /* the test's own items, not the load's */
		long k = sku && sku[0] == 's' ? strtol(sku + 1, &end, 10) : -1;
		if (k < first || k >= first + count || !end || *end) {
			note(report, cap, bad, cart, sku ? sku : "?", "present, never written");
			continue;
		}
		qty[k - first] = json_integer_value(json_object_get(it, "qty"));
	}
	json_decref(v);
}

int tc_load_verify(const tc_load *l, tp_cluster *c, int i, char *report, size_t cap)
{
	int bad = 0;
	long long *qty = calloc(TC_PER_CART, sizeof *qty);
	ck_assert(!l->running);
	ck_assert_ptr_nonnull(qty);
	report[0] = '\0';
	for (int t = 0; t < l->nthreads; t++) {
		const tc_thread *w = &l->th[t];
		int n = atomic_load(&w->n);
		for (int first = 0; first < n; first += TC_PER_CART) {
			char cart[64];
			int count = n - first < TC_PER_CART ? n - first : TC_PER_CART;
			cart_of(l, t, first, cart, sizeof cart);
			memset(qty, 0, TC_PER_CART * sizeof *qty);
			read_cart(c, i, cart, first, count, qty, report, cap, &bad);
			for (int k = first; k < first + count; k++) {
				long long q = qty[k - first];
				enum tc_outcome o = (enum tc_outcome)w->outcome[k];
				char sku[16], what[96] = "";
				if (o == TC_ACKED && q == 0)
					snprintf(what, sizeof what, "acknowledged, missing");
				else if (q != 0 && o != TC_ACKED && o != TC_UNKNOWN)
					snprintf(what, sizeof what, "present (qty %lld) though its write was %s",
					         q, o == TC_REFUSED ? "refused" : o == TC_REJECTED ?
					         "rejected" : "never made");
				else if (q != 0 && q != 1)
					snprintf(what, sizeof what, "quantity %lld, want 1", q);
				snprintf(sku, sizeof sku, "s%d", k);
				if (what[0])
					note(report, cap, &bad, cart, sku, what);
			}
		}
	}
	free(qty);
	return bad;
}

/* Every cart id the load wrote to, NULL-terminated (free the array and
 * its strings with free_carts). */
static char **load_carts(const tc_load *l)
{
	size_t n = 0, cap = 8;
	char **v = malloc(cap * sizeof *v);
	ck_assert_ptr_nonnull(v);
	for (int t = 0; t < l->nthreads; t++) {
		int writes = atomic_load(&l->th[t].n);
		for (int first = 0; first < writes; first += TC_PER_CART) {
			if (n + 2 > cap) {
				cap *= 2;
				v = realloc(v, cap * sizeof *v);
				ck_assert_ptr_nonnull(v);
			}
			char cart[64];
			cart_of(l, t, first, cart, sizeof cart);
			v[n++] = strdup(cart);
		}
	}
	v[n] = NULL;
	return v;
}

static void free_carts(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The first running peer, or -1. */
static int first_running(const tp_cluster *c)
{
	for (int i = 0; i < c->n; i++)
		if (c->peers[i].pid > 0)
			return i;
	return -1;
}

static bool same_digest(tp_cluster *c, int ref, char *diff, size_t cap)
{
	char d0[32] = "";
	for (int i = ref; i < c->n; i++) {
		if (c->peers[i].pid <= 0)
			continue;
		json_t *v = tp_json(c, i, "GET", "/cluster", NULL, NULL);
		const char *d = json_string_value(json_object_get(v, "digest"));
		bool same = i == ref || (d && strcmp(d, d0) == 0);
		if (i == ref)
			snprintf(d0, sizeof d0, "%s", d ? d : "?");
		else if (!same)
			snprintf(diff, cap, "root digest: %s %s, %s %s", c->peers[ref].name, d0,
			         c->peers[i].name, d ? d : "?");
		json_decref(v);
		if (!same)
			return false;
	}
	return true;
}

static bool same_cart(tp_cluster *c, int ref, const char *cart, char *diff, size_t cap)
{
	char target[128];
	ctl_http_request req = { .method = "GET", .target = target };
	ctl_http_response r0, r;
	snprintf(target, sizeof target, "/carts/%s", cart);
	tp_http(c, ref, &req, &r0);
	bool same = true;
	for (int i = ref + 1; i < c->n && same; i++) {
		if (c->peers[i].pid <= 0)
			continue;
		tp_http(c, i, &req, &r);
		same = r.status == r0.status && r.body_len == r0.body_len &&
		       memcmp(r.body, r0.body, r.body_len) == 0;
		if (!same)
			snprintf(diff, cap, "cart %s: %s answers %d %.300s, %s answers %d %.300s", cart,
			         c->peers[ref].name, r0.status, r0.body, c->peers[i].name, r.status,
			         r.body);
		ctl_http_response_free(&r);
	}
	ctl_http_response_free(&r0);
	return same;
}

bool tc_identical(tp_cluster *c, const tc_load *l, const char *const *carts, char *diff,
                  size_t cap)
{
	int ref = first_running(c);
	ck_assert_int_ge(ref, 0);
	if (!same_digest(c, ref, diff, cap))
		return false;
	for (size_t k = 0; carts && carts[k]; k++)
		if (!same_cart(c, ref, carts[k], diff, cap))
			return false;
	bool same = true;
	char **lc = l ? load_carts(l) : NULL;
	for (size_t k = 0; lc && lc[k] && same; k++)
		same = same_cart(c, ref, lc[k], diff, cap);
	free_carts(lc);
	return same;
}

void tc_wait_identical(tp_cluster *c, const tc_load *l, const char *const *carts,
                       int timeout_ms)
{
	char diff[1024] = "";
	long long start = tp_now_ms(), deadline = start + timeout_ms;
	while (!tc_identical(c, l, carts, diff, sizeof diff)) {
		ck_assert_msg(tp_now_ms() < deadline, "peers not identical after %d ms: %s",
		              timeout_ms, diff);
		tp_sleep_ms(50);
	}
	fprintf(stderr, "chaos: peers identical %lld ms after the wait began\n",
	        tp_now_ms() - start);
}
