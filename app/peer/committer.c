/*
 * committer.c - the group-commit thread and its two queues.
 *
 * Pending records form a FIFO list filled by submitters under the mutex.
 * The thread takes the whole list at once, writes it outside the lock, then
 * appends one completion per record to the `done` array and bumps the
 * eventfd.  The owner swaps `done` with its own `drain` array under the lock
 * and runs the callbacks without it, so a callback may submit again.
 *
 * Both completion arrays and the db_record array hold max_records entries,
 * allocated at creation: at most max_records records are outstanding, so
 * neither a batch nor its completions can ever need more.
 */
#include "app/peer/committer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "crdt/buf.h"
#include "crdt/codec.h"
#include "crdt/error.h"

typedef struct rec {
	struct rec *next;
	uint64_t cookie;
	enum db_kind kind;
	size_t id_len;
	size_t val_len;
	uint8_t data[];         /* id bytes, then value bytes */
} rec;

typedef struct completion {
	uint64_t cookie;
	int rc;
} completion;

struct committer {
	db *db;
	size_t max_records;
	size_t max_bytes;
	int efd;

	pthread_t thread;
	bool joined;           /* true while there is no thread to join */

	pthread_mutex_t mu;     /* guards everything below */
	pthread_cond_t cv;      /* signalled on new work and on stop */
	rec *head, *tail;       /* pending, FIFO */
	bool stopping;
	size_t outstanding;     /* submitted, completion not yet drained */
	size_t bytes;           /* submitted, not yet written */
	completion *done;       /* ready for the owner */
	size_t ndone;
	committer_stats st;
	char err[DB_ERRMSG_MAX];

	completion *drain;      /* owner thread only */
	bool draining;
	db_record *recs;        /* committer thread only */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void notify(committer *c)
{
	uint64_t one = 1;
	/* Only fails with EAGAIN at a counter near 2^64: the fd is readable then. */
	ssize_t n = write(c->efd, &one, sizeof one);
	(void)n;
}

/* Writes one batch; returns its result and, on failure, the db message.
 * *synced_earlier: db_write_batch's, whether earlier batches are durable. */
static int write_batch(committer *c, rec *list, size_t *nrec, size_t *nbytes,
                       bool *synced_earlier, char *err, size_t errlen)
{
	size_t n = 0, bytes = 0;
	for (rec *r = list; r; r = r->next, n++) {
		c->recs[n].id = (const char *)r->data;
		c->recs[n].id_len = r->id_len;
		c->recs[n].val = r->data + r->id_len;
		c->recs[n].val_len = r->val_len;
		c->recs[n].kind = r->kind;
		bytes += r->id_len + r->val_len;
	}
	*nrec = n;
	*nbytes = bytes;
	return db_write_batch(c->db, c->recs, n, synced_earlier, err, errlen);
}

/* Counts a written batch (under the mutex). */
static void account(committer *c, size_t n, size_t bytes, int rc, uint64_t ns)
{
	committer_stats *s = &c->st;
	s->batches++;
	if (rc == 0) {
		s->commits++;
		s->records += n;
		s->bytes += bytes;
	} else {
		s->failed += n;
	}
	if (n > s->max_batch)
		s->max_batch = n;
	s->commit_ns += ns;
	if (ns > s->commit_ns_max)
		s->commit_ns_max = ns;
	c->bytes -= bytes;
}

/* Posts one completion per record of list (in order) and frees the
 * records.  err names the failure when rc != 0. */
static void complete(committer *c, rec *list, int rc, const char *err)
{
	if (!list)
		return;
	pthread_mutex_lock(&c->mu);
	for (rec *r = list; r; r = r->next)
		c->done[c->ndone++] = (completion){ r->cookie, rc };
	if (rc)
		snprintf(c->err, sizeof c->err, "%s", err);
	pthread_mutex_unlock(&c->mu);
	while (list) {
		rec *next = list->next;
		free(list);
		list = next;
	}
	notify(c);
}

/* Batches committed but not yet known durable (db.h, db_write_batch): a
 * FIFO of records whose completions wait for the next sync. */
typedef struct waiting {
	rec *head, **tail;
} waiting;

static void waiting_add(waiting *w, rec *list)
{
	*w->tail = list;
	while (*w->tail)
		w->tail = &(*w->tail)->next;
}

static rec *waiting_take(waiting *w)
{
	rec *l = w->head;
	w->head = NULL;
	w->tail = &w->head;
	return l;
}

/* Syncs, then completes everything waiting with the result. */
static void flush_waiting(committer *c, waiting *w, char *err, size_t errlen)
{
	if (!w->head)
		return;
	int rc = db_flush(c->db, err, errlen);
	complete(c, waiting_take(w), rc, err);
}

/*
 * The thread.  A batch's commit syncs every earlier batch, so while work
 * keeps arriving a batch waits for the next one's commit (one sync per
 * batch); as soon as the queue is empty it is synced on its own, so a
 * lone write costs what it did with two syncs per commit and waits for
 * nobody.
 */
static void *run(void *arg)
{
	committer *c = arg;
	char err[DB_ERRMSG_MAX];
	waiting w = { NULL, &w.head };
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->head && !w.head && !c->stopping)
			pthread_cond_wait(&c->cv, &c->mu);
		rec *list = c->head;
		c->head = c->tail = NULL;
		if (!list && !w.head)
			break;              /* stopping, and everything is durable */
		pthread_mutex_unlock(&c->mu);

		if (!list) {
			flush_waiting(c, &w, err, sizeof err);
		} else {
			size_t n, bytes;
			bool synced_earlier;
			uint64_t t0 = now_ns();
			int rc = write_batch(c, list, &n, &bytes, &synced_earlier, err, sizeof err);
			uint64_t ns = now_ns() - t0;
			pthread_mutex_lock(&c->mu);
			account(c, n, bytes, rc, ns);
			pthread_mutex_unlock(&c->mu);
			if (rc) {
				char ferr[DB_ERRMSG_MAX];   /* older batches first: FIFO */
				flush_waiting(c, &w, ferr, sizeof ferr);
				complete(c, list, rc, err);
			} else {
				if (synced_earlier)
					complete(c, waiting_take(&w), 0, "");
				waiting_add(&w, list);
			}
		}
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

void committer_options_default(committer_options *o)
{
	o->max_records = COMMITTER_DEFAULT_MAX_RECORDS;
	o->max_bytes = COMMITTER_DEFAULT_MAX_BYTES;
}

static int alloc_arrays(committer *c)
{
	c->done = calloc(c->max_records, sizeof *c->done);
	c->drain = calloc(c->max_records, sizeof *c->drain);
	c->recs = calloc(c->max_records, sizeof *c->recs);
	return (c->done && c->drain && c->recs) ? 0 : CARTD_ENOMEM;
}

int committer_new(db *d, const committer_options *o, committer **out)
{
	*out = NULL;
	committer_options def;
	if (!o) {
		committer_options_default(&def);
		o = &def;
	}
	if (!d || o->max_records == 0 || o->max_bytes == 0)
		return CARTD_EINVAL;
	committer *c = calloc(1, sizeof *c);
	if (!c)
		return CARTD_ENOMEM;
	c->db = d;
	c->max_records = o->max_records;
	c->max_bytes = o->max_bytes;
	c->joined = true;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int rc = c->efd < 0 ? -errno : alloc_arrays(c);
	if (!rc) {
		int prc = pthread_create(&c->thread, NULL, run, c);
		rc = prc ? -prc : 0;
	}
	if (rc) {
		committer_free(c);
		return rc;
	}
	c->joined = false;
	*out = c;
	return 0;
}

int committer_fd(const committer *c)
{
	return c->efd;
}

/* Admits a record of len bytes, or says why not.  Called under the lock. */
static int admit(committer *c, size_t len)
{
	if (c->stopping)
		return CARTD_ESHUTDOWN;
	/* An oversized record is let through an empty queue, so that a cart
	 * bigger than max_bytes is slow rather than impossible to persist. */
	if (c->outstanding >= c->max_records ||
	    (c->bytes > 0 && c->bytes + len > c->max_bytes)) {
		c->st.rejected++;
		return CARTD_ENOSPC;
	}
	return 0;
}

/* Appends r to the pending list if there is room; frees it if not. */
static int enqueue(committer *c, rec *r)
{
	size_t len = r->id_len + r->val_len;
	pthread_mutex_lock(&c->mu);
	int rc = admit(c, len);
	if (!rc) {
		if (c->tail)
			c->tail->next = r;
		else
			c->head = r;
		c->tail = r;
		c->outstanding++;
		c->bytes += len;
		c->st.submitted++;
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	if (rc)
		free(r);
	return rc;
}

static rec *rec_new(const char *id, size_t id_len, size_t val_len, uint64_t cookie)
{
	rec *r = malloc(sizeof *r + id_len + val_len);
	if (!r)
		return NULL;
	r->next = NULL;
	r->cookie = cookie;
	r->kind = DB_STATE;
	r->id_len = id_len;
	r->val_len = val_len;
	memcpy(r->data, id, id_len);
	return r;
}

int committer_submit(committer *c, const char *id, size_t id_len,
                     const void *val, size_t val_len, uint64_t cookie)
{
	if (crdt_check_id(id, id_len) != 0)
		return CARTD_EID;
	rec *r = rec_new(id, id_len, val_len, cookie);
	if (!r)
		return CARTD_ENOMEM;
	if (val_len)
		memcpy(r->data + id_len, val, val_len);
	return enqueue(c, r);
}

/* Encodes cart into a new record of the given kind. */
static int submit_encoded(committer *c, const char *id, size_t id_len, const crdt_cart *cart,
                          enum db_kind kind, uint64_t cookie)
{
	if (crdt_check_id(id, id_len) != 0)
		return CARTD_EID;
	size_t len = kind == DB_NOTHING ? 0 : crdt_cart_encoded_size(cart);
	rec *r = rec_new(id, id_len, len, cookie);
	if (!r)
		return CARTD_ENOMEM;
	r->kind = kind;
	buf_writer w;
	buf_writer_fixed(&w, r->data + id_len, len);
	if (len)
		crdt_encode_cart(&w, cart);
	if (w.err || w.len != len) {   /* size and encoder disagree: a bug */
		free(r);
		return CARTD_EINVAL;
	}
	return enqueue(c, r);
}

int committer_submit_cart(committer *c, const char *id, size_t id_len,
                          const crdt_cart *cart, uint64_t cookie)
{
	return submit_encoded(c, id, id_len, cart, DB_STATE, cookie);
}

int committer_submit_delta(committer *c, const char *id, size_t id_len,
                           const crdt_cart *delta, uint64_t cookie)
{
	/* An empty delta changed nothing: there is nothing to store, but its
	 * completion still comes after a synced commit, like any other. */
	return submit_encoded(c, id, id_len, delta,
	                      crdt_cart_empty(delta) ? DB_NOTHING : DB_DELTA, cookie);
}

size_t committer_drain(committer *c, committer_done_fn fn, void *arg)
{
	if (c->draining)
		return 0;
	/* Reset the fd before taking the completions: one posted after the
	 * swap bumps it again, so none can sit unnoticed. */
	uint64_t cnt;
	ssize_t rd = read(c->efd, &cnt, sizeof cnt);
	(void)rd;
	pthread_mutex_lock(&c->mu);
	completion *ready = c->done;
	size_t n = c->ndone;
	c->done = c->drain;
	c->ndone = 0;
	c->drain = ready;
	/* Released before the callbacks so that they can submit again. */
	c->outstanding -= n;
	pthread_mutex_unlock(&c->mu);
	c->draining = true;
	for (size_t i = 0; fn && i < n; i++)
		fn(arg, ready[i].cookie, ready[i].rc);
	c->draining = false;
	return n;
}

void committer_stop(committer *c)
{
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (!c->joined) {
		pthread_join(c->thread, NULL);
		c->joined = true;
	}
}

void committer_stats_get(committer *c, committer_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->st;
	out->queued_records = c->outstanding;
	out->queued_bytes = c->bytes;
	pthread_mutex_unlock(&c->mu);
	out->syncs = db_syncs(c->db);   /* the db counts them, for any thread */
}

void committer_last_error(committer *c, char *err, size_t errlen)
{
	pthread_mutex_lock(&c->mu);
	cartd_errmsg(err, errlen, "%s", c->err);
	pthread_mutex_unlock(&c->mu);
}

void committer_free(committer *c)
{
	if (!c)
		return;
	committer_stop(c);
	while (c->head) {         /* defensive: the thread leaves none */
		rec *next = c->head->next;
		free(c->head);
		c->head = next;
	}
	if (c->efd >= 0)
		close(c->efd);
	free(c->done);
	free(c->drain);
	free(c->recs);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
