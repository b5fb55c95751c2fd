/*
 * committer.c - the group-commit thread, its two queues, and the
 * checkpoint thread.
 *
 * Pending records form a FIFO list filled by submitters under the mutex.
 * The commit thread takes the whole list at once, appends it to the log as
 * one synced frame outside the lock (wal.h), then appends one completion
 * per record to the `done` array and bumps the eventfd.  The owner swaps
 * `done` with its own `drain` array under the lock and runs the callbacks
 * without it, so a callback may submit again.
 *
 * When the log's generation reaches wal_rotate_bytes, the commit thread
 * starts the next generation in the other file and hands the full one to
 * the checkpoint thread, which folds it into LMDB (db_checkpoint).  Only
 * one generation is ever waiting to be folded: until it is, the commit
 * thread keeps appending to the current one, past the threshold if need
 * be, and never reuses a file whose frames are not folded.
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

#include "app/peer/wal.h"
#include "crdt/buf.h"
#include "crdt/codec.h"
#include "crdt/error.h"

typedef struct rec {
	struct rec *next;
	uint64_t cookie;
	enum db_kind kind;
	bool lazy;              /* nobody waits on it (committer_submit_lazy) */
	bool pooled;            /* REC_POOL_DATA bytes of data: kept for reuse */
	uint64_t id_hash;       /* of the id, as crdt_id_make computed it */
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
	size_t rotate_bytes;
	int efd;

	pthread_t thread, ckpt_thread;
	bool joined;            /* true while there is no commit thread to join */
	bool ckpt_joined;       /* ... no checkpoint thread */

	pthread_mutex_t mu;     /* guards everything below */
	pthread_cond_t cv;      /* signalled on new work and on stop */
	pthread_cond_t ckpt_cv; /* signalled on a generation to fold and on stop */
	rec *head, *tail;       /* pending, FIFO */
	bool urgent;            /* the pending list holds a record not lazy */
	uint64_t batch_at;      /* now_ns() when the last batch was taken */
	bool stopping;
	bool ckpt_stopping;
	bool fold_pending;      /* generation fold_gen waits to be folded */
	uint64_t fold_gen;
	size_t outstanding;     /* submitted, completion not yet drained */
	size_t bytes;           /* submitted, not yet written */
	completion *done;       /* ready for the owner */
	size_t ndone;
	rec *spent, **spent_tail;   /* written records, freed by the owner */
	rec *pool;              /* spent pooled records, for the next submits */
	size_t npool;
	committer_stats st;
	char err[DB_ERRMSG_MAX];

	completion *drain;      /* owner thread only */
	bool draining;
	wal *wal;               /* commit thread only (owner after the join) */
	db_record *recs;        /* commit thread only */
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

/* Appends one batch to the log as a synced frame; returns its result and,
 * on failure, the message. */
static int write_batch(committer *c, rec *list, size_t *nrec, size_t *nbytes, char *err,
                       size_t errlen)
{
	size_t n = 0, bytes = 0;
	for (rec *r = list; r; r = r->next, n++) {
		c->recs[n].id = crdt_id_of((const char *)r->data, r->id_len, r->id_hash);
		c->recs[n].val = r->data + r->id_len;
		c->recs[n].val_len = r->val_len;
		c->recs[n].kind = r->kind;
		bytes += r->id_len + r->val_len;
	}
	*nrec = n;
	*nbytes = bytes;
	return wal_append(c->wal, c->recs, n, err, errlen);
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

/* Posts one completion per record of list (in order) and hands the
 * records back to the owner to free: memory malloc'd on the loop thread
 * and freed on this one would never return to the loop's cache, and every
 * submission would take malloc's slow path.  err names the failure when
 * rc != 0. */
static void complete(committer *c, rec *list, int rc, const char *err)
{
	if (!list)
		return;
	pthread_mutex_lock(&c->mu);
	rec *last = list;
	for (rec *r = list; r; r = r->next) {
		c->done[c->ndone++] = (completion){ r->cookie, rc };
		last = r;
	}
	*c->spent_tail = list;
	c->spent_tail = &last->next;
	if (rc)
		snprintf(c->err, sizeof c->err, "%s", err);
	pthread_mutex_unlock(&c->mu);
	notify(c);
}

static void free_list(rec *list)
{
	while (list) {
		rec *next = list->next;
		free(list);
		list = next;
	}
}

/* Hands the log's generation to the checkpoint thread once it is big
 * enough and the one before it is folded.  Commit thread. */
static void maybe_rotate(committer *c)
{
	if (wal_bytes(c->wal) < c->rotate_bytes)
		return;
	pthread_mutex_lock(&c->mu);
	if (!c->fold_pending) {
		c->fold_gen = wal_gen(c->wal);
		c->fold_pending = true;
		wal_rotate(c->wal);
		pthread_cond_signal(&c->ckpt_cv);
	}
	c->st.wal_bytes = wal_bytes(c->wal);
	pthread_mutex_unlock(&c->mu);
}

/*
 * The commit thread.  Every batch is durable when its frame's sync returns,
 * and every earlier batch was before it, so completions go out in
 * submission order right after each append.
 *
 * A list of lazy records waits until COMMITTER_LAZY_MS after the last
 * batch was taken (not at all after a quiet spell), or until a record
 * someone waits on joins it, the queue is a quarter full, or the committer
 * stops: a stream of them is synced every COMMITTER_LAZY_MS, a lone one
 * at once.
 */
/* Whether the pending list may wait for more; waits (under the mutex) up
 * to its deadline if so, then returns true so that the caller looks again. */
static bool lazy_wait(committer *c)
{
	if (c->urgent || c->stopping || c->outstanding >= c->max_records / 4 ||
	    c->bytes >= c->max_bytes / 4)
		return false;
	uint64_t now = now_ns(), due = c->batch_at + (uint64_t)COMMITTER_LAZY_MS * 1000000u;
	if (now >= due)
		return false;
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	uint64_t ns = (uint64_t)until.tv_nsec + (due - now);
	until.tv_sec += (time_t)(ns / 1000000000u);
	until.tv_nsec = (long)(ns % 1000000000u);
	pthread_cond_timedwait(&c->cv, &c->mu, &until);
	return true;
}

static void *run(void *arg)
{
	committer *c = arg;
	char err[DB_ERRMSG_MAX];
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->head && !c->stopping)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->head && lazy_wait(c))
			continue;
		rec *list = c->head;
		c->head = c->tail = NULL;
		c->urgent = false;
		c->batch_at = now_ns();
		if (!list)
			break;              /* stopping, and everything is durable */
		pthread_mutex_unlock(&c->mu);

		size_t n, bytes;
		uint64_t t0 = now_ns();
		int rc = write_batch(c, list, &n, &bytes, err, sizeof err);
		uint64_t ns = now_ns() - t0;
		pthread_mutex_lock(&c->mu);
		account(c, n, bytes, rc, ns);
		c->st.syncs = wal_syncs(c->wal);
		c->st.wal_bytes = wal_bytes(c->wal);
		pthread_mutex_unlock(&c->mu);
		complete(c, list, rc, err);
		if (rc == 0)
			maybe_rotate(c);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Counts one fold attempt (under the mutex). */
static void account_fold(committer *c, int rc, size_t records, uint64_t ns, const char *err)
{
	c->st.checkpoint_ns += ns;
	if (rc == 0) {
		c->st.checkpoints++;
		c->st.checkpoint_records += records;
	} else {
		c->st.checkpoint_failures++;
		snprintf(c->err, sizeof c->err, "%s", err);
	}
}

#define FOLD_RETRY_MIN_MS 100u
#define FOLD_RETRY_MAX_MS 5000u

/*
 * The checkpoint thread: folds each generation the commit thread hands
 * over.  A failed fold (a full or failing disk) is retried with backoff;
 * the log meanwhile keeps every record, so nothing acknowledged depends
 * on it.  Once stopping, a pending fold gets one more attempt.
 */
static void *checkpoint_run(void *arg)
{
	committer *c = arg;
	char err[DB_ERRMSG_MAX];
	unsigned backoff_ms = 0;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->fold_pending && !c->ckpt_stopping)
			pthread_cond_wait(&c->ckpt_cv, &c->mu);
		if (!c->fold_pending)
			break;
		uint64_t gen = c->fold_gen;
		bool last_try = c->ckpt_stopping;
		pthread_mutex_unlock(&c->mu);

		size_t records = 0;
		uint64_t t0 = now_ns();
		int rc = db_checkpoint(c->db, gen, &records, err, sizeof err);
		uint64_t ns = now_ns() - t0;

		pthread_mutex_lock(&c->mu);
		account_fold(c, rc, records, ns, err);
		if (rc == 0) {
			c->fold_pending = false;
			backoff_ms = 0;
			continue;
		}
		if (last_try)
			break;
		backoff_ms = backoff_ms ? backoff_ms * 2 : FOLD_RETRY_MIN_MS;
		if (backoff_ms > FOLD_RETRY_MAX_MS)
			backoff_ms = FOLD_RETRY_MAX_MS;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += backoff_ms / 1000;
		until.tv_nsec += (long)(backoff_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (!c->ckpt_stopping)
			pthread_cond_timedwait(&c->ckpt_cv, &c->mu, &until);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

void committer_options_default(committer_options *o)
{
	o->max_records = COMMITTER_DEFAULT_MAX_RECORDS;
	o->max_bytes = COMMITTER_DEFAULT_MAX_BYTES;
	o->wal_rotate_bytes = COMMITTER_DEFAULT_WAL_ROTATE;
}

static int alloc_arrays(committer *c)
{
	c->done = calloc(c->max_records, sizeof *c->done);
	c->drain = calloc(c->max_records, sizeof *c->drain);
	c->recs = calloc(c->max_records, sizeof *c->recs);
	return (c->done && c->drain && c->recs) ? 0 : CARTD_ENOMEM;
}

int committer_new(db *d, const committer_options *o, committer **out, char *err,
                  size_t errlen)
{
	*out = NULL;
	committer_options def;
	if (!o) {
		committer_options_default(&def);
		o = &def;
	}
	if (!d || o->max_records == 0 || o->max_bytes == 0) {
		cartd_errmsg(err, errlen, "committer: no db, or a bound of 0");
		return CARTD_EINVAL;
	}
	committer *c = calloc(1, sizeof *c);
	if (!c) {
		cartd_errmsg(err, errlen, "committer: out of memory");
		return CARTD_ENOMEM;
	}
	c->db = d;
	c->max_records = o->max_records;
	c->max_bytes = o->max_bytes;
	c->rotate_bytes = o->wal_rotate_bytes ? o->wal_rotate_bytes : COMMITTER_DEFAULT_WAL_ROTATE;
	c->joined = c->ckpt_joined = true;
	c->spent_tail = &c->spent;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	pthread_cond_init(&c->ckpt_cv, NULL);
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int rc = c->efd < 0 ? -errno : alloc_arrays(c);
	if (!rc)
		rc = wal_open(db_dir(d), db_wal_gen(d), db_sync_enabled(d), &c->wal, err, errlen);
	if (!rc) {
		int prc = pthread_create(&c->ckpt_thread, NULL, checkpoint_run, c);
		rc = prc ? -prc : 0;
		c->ckpt_joined = rc != 0;
	}
	if (!rc) {
		int prc = pthread_create(&c->thread, NULL, run, c);
		rc = prc ? -prc : 0;
		c->joined = rc != 0;
	}
	if (rc) {
		if (rc != CARTD_ESTORAGE && rc != CARTD_EINVAL)
			cartd_errmsg(err, errlen, "committer: %s", rc == CARTD_ENOMEM
			             ? "out of memory" : strerror(-rc));
		committer_free(c);
		return rc;
	}
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

/* Appends r to the pending list if there is room; frees it if not.  A
 * lazy record wakes the commit thread only when the list was empty (to
 * commit it, or time its wait) or the queue fills: a replica's stream of
 * deltas costs no wake-up per record. */
static int enqueue(committer *c, rec *r)
{
	size_t len = r->id_len + r->val_len;
	pthread_mutex_lock(&c->mu);
	int rc = admit(c, len);
	if (!rc) {
		bool was_empty = c->head == NULL;
		if (c->tail)
			c->tail->next = r;
		else
			c->head = r;
		c->tail = r;
		c->outstanding++;
		c->bytes += len;
		c->st.submitted++;
		if (!r->lazy)
			c->urgent = true;
		if (!r->lazy || was_empty || c->outstanding >= c->max_records / 4 ||
		    c->bytes >= c->max_bytes / 4)
			pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	if (rc)
		free(r);
	return rc;
}

/*
 * Records of up to REC_POOL_DATA bytes of id and value (a delta of a line
 * or two: nearly all of them) are kept when spent, up to REC_POOL_MAX, and
 * taken again by the next submits.  A replica has thousands of records
 * in flight between two of its lazy syncs, far past malloc's per-thread
 * cache, and giving them back and taking them again through malloc's bins
 * cost a replica about 6 % of its CPU.
 */
#define REC_POOL_DATA 192u
#define REC_POOL_MAX 4096u

static rec *rec_new(committer *c, const crdt_id *id, enum db_kind kind, bool lazy,
                    size_t val_len, uint64_t cookie)
{
	size_t data = id->len + val_len;
	rec *r = NULL;
	if (data <= REC_POOL_DATA) {
		pthread_mutex_lock(&c->mu);
		if ((r = c->pool) != NULL) {
			c->pool = r->next;
			c->npool--;
		}
		pthread_mutex_unlock(&c->mu);
		if (!r)
			r = malloc(sizeof *r + REC_POOL_DATA);
	} else {
		r = malloc(sizeof *r + data);
	}
	if (!r)
		return NULL;
	r->pooled = data <= REC_POOL_DATA;
	r->next = NULL;
	r->cookie = cookie;
	r->kind = kind;
	r->lazy = lazy;
	r->id_hash = id->hash;
	r->id_len = id->len;
	r->val_len = val_len;
	memcpy(r->data, id->s, id->len);
	return r;
}

/* Queues a record of val's bytes as they are. */
static int submit_bytes(committer *c, const crdt_id *id, enum db_kind kind, bool lazy,
                        const void *val, size_t val_len, uint64_t cookie)
{
	rec *r = rec_new(c, id, kind, lazy, val_len, cookie);
	if (!r)
		return CARTD_ENOMEM;
	if (val_len)
		memcpy(r->data + id->len, val, val_len);
	return enqueue(c, r);
}

int committer_submit(committer *c, const crdt_id *id, const void *val, size_t val_len,
                     uint64_t cookie)
{
	return submit_bytes(c, id, DB_STATE, false, val, val_len, cookie);
}

/* Encodes cart into a new record of the given kind. */
static int submit_encoded(committer *c, const crdt_id *id, const crdt_cart *cart,
                          enum db_kind kind, bool lazy, uint64_t cookie)
{
	size_t len = kind == DB_NOTHING ? 0 : crdt_cart_encoded_size(cart);
	rec *r = rec_new(c, id, kind, lazy, len, cookie);
	if (!r)
		return CARTD_ENOMEM;
	buf_writer w;
	buf_writer_fixed(&w, r->data + id->len, len);
	if (len)
		crdt_encode_cart(&w, cart);
	if (w.err || w.len != len) {   /* size and encoder disagree: a bug */
		free(r);
		return CARTD_EINVAL;
	}
	return enqueue(c, r);
}

int committer_submit_cart(committer *c, const crdt_id *id, const crdt_cart *cart,
                          uint64_t cookie)
{
	return submit_encoded(c, id, cart, DB_STATE, false, cookie);
}

/* An empty delta changed nothing: there is nothing to store, but its
 * completion still comes in order, after every earlier record's. */
static enum db_kind delta_kind(const crdt_cart *delta)
{
	return crdt_cart_empty(delta) ? DB_NOTHING : DB_DELTA;
}

int committer_submit_delta(committer *c, const crdt_id *id, const crdt_cart *delta,
                           uint64_t cookie)
{
	return submit_encoded(c, id, delta, delta_kind(delta), false, cookie);
}

int committer_submit_lazy(committer *c, const crdt_id *id, const crdt_cart *cart,
                          bool full_state, uint64_t cookie)
{
	enum db_kind kind = full_state ? DB_STATE : delta_kind(cart);
	return submit_encoded(c, id, cart, kind, true, cookie);
}

int committer_submit_lazy_encoded(committer *c, const crdt_id *id, const void *enc,
                                  size_t enc_len, uint64_t cookie)
{
	if (enc_len == 0)
		return CARTD_EINVAL;   /* even an empty delta takes a few bytes */
	return submit_bytes(c, id, DB_DELTA, true, enc, enc_len, cookie);
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
	rec *spent = c->spent;
	c->spent = NULL;
	c->spent_tail = &c->spent;
	/* Released before the callbacks so that they can submit again. */
	c->outstanding -= n;
	rec *unpooled = NULL;
	while (spent) {
		rec *next = spent->next;
		if (spent->pooled && c->npool < REC_POOL_MAX) {
			spent->next = c->pool;
			c->pool = spent;
			c->npool++;
		} else {
			spent->next = unpooled;
			unpooled = spent;
		}
		spent = next;
	}
	pthread_mutex_unlock(&c->mu);
	free_list(unpooled);
	c->draining = true;
	for (size_t i = 0; fn && i < n; i++)
		fn(arg, ready[i].cookie, ready[i].rc);
	c->draining = false;
	return n;
}

/* With both threads gone: folds the generation being written, once the
 * one before it is folded, so that LMDB alone holds every record. */
static void fold_the_rest(committer *c)
{
	if (c->fold_pending || !c->wal || wal_bytes(c->wal) == 0)
		return;   /* left to the next open's recovery */
	char err[DB_ERRMSG_MAX];
	size_t records = 0;
	uint64_t gen = wal_gen(c->wal), t0 = now_ns();
	int rc = db_checkpoint(c->db, gen, &records, err, sizeof err);
	pthread_mutex_lock(&c->mu);
	account_fold(c, rc, records, now_ns() - t0, err);
	if (rc == 0) {
		wal_rotate(c->wal);
		c->st.wal_bytes = 0;
	}
	pthread_mutex_unlock(&c->mu);
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

/* Stops the checkpoint thread (a fold it has pending gets one more try)
 * and folds what is left. */
static void stop_checkpoints(committer *c)
{
	pthread_mutex_lock(&c->mu);
	c->ckpt_stopping = true;
	pthread_cond_signal(&c->ckpt_cv);
	pthread_mutex_unlock(&c->mu);
	if (!c->ckpt_joined) {
		pthread_join(c->ckpt_thread, NULL);
		c->ckpt_joined = true;
		fold_the_rest(c);
	}
}

void committer_stats_get(committer *c, committer_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->st;
	out->queued_records = c->outstanding;
	out->queued_bytes = c->bytes;
	pthread_mutex_unlock(&c->mu);
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
	stop_checkpoints(c);
	free_list(c->head);       /* defensive: the thread leaves none */
	free_list(c->spent);
	free_list(c->pool);
	if (c->efd >= 0)
		close(c->efd);
	free(c->done);
	free(c->drain);
	free(c->recs);
	wal_close(c->wal);
	pthread_cond_destroy(&c->ckpt_cv);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
