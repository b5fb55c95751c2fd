/*
 * db_delta.c - writing cart records: full states, deltas, and the folding
 * of a cart's deltas into its full state (the layout and the argument for
 * it are in db.h).
 *
 * Everything for one batch happens in one write transaction, so a crash
 * leaves the records of the batch either all there or all absent, and a
 * fold is never half done.
 */
#include <stdlib.h>
#include <string.h>

#include "app/peer/db_internal.h"
#include "crdt/buf.h"
#include "crdt/cart.h"
#include "crdt/codec.h"
#include "crdt/error.h"

#define DB_MAX_GROWTHS 8          /* map doublings tried for one batch */

typedef struct delta_key {
	uint8_t b[CRDT_MAX_NAME + DB_DELTA_SUFFIX];
	size_t len;
} delta_key;

static void make_key(delta_key *k, const char *id, size_t len, uint32_t seq)
{
	memcpy(k->b, id, len);
	k->b[len] = 0;
	for (int i = 0; i < 4; i++)
		k->b[len + 1 + i] = (uint8_t)(seq >> (24 - 8 * i));
	k->len = len + DB_DELTA_SUFFIX;
}

static bool is_delta_of(const MDB_val *k, const char *id, size_t len)
{
	return k->mv_size == len + DB_DELTA_SUFFIX && memcmp(k->mv_data, id, len) == 0 &&
	       ((const uint8_t *)k->mv_data)[len] == 0;
}

static uint32_t key_seq(const MDB_val *k)
{
	const uint8_t *p = (const uint8_t *)k->mv_data + k->mv_size - 4;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Positions cur at the cart's first delta; MDB_NOTFOUND when it has none. */
static int first_delta(MDB_cursor *cur, const char *id, size_t len, MDB_val *k, MDB_val *v)
{
	delta_key dk;
	make_key(&dk, id, len, 0);
	*k = db_mval(dk.b, dk.len);
	int mrc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
	if (mrc == 0 && !is_delta_of(k, id, len))
		mrc = MDB_NOTFOUND;
	return mrc;
}

/* Deletes every delta of the cart.  An LMDB code. */
static int delete_deltas(MDB_cursor *cur, const char *id, size_t len)
{
	MDB_val k, v;
	int mrc;
	/* Seek again after each delete: where LMDB leaves a cursor after
	 * deleting the last key of a page is not worth depending on. */
	while ((mrc = first_delta(cur, id, len, &k, &v)) == 0)
		if ((mrc = mdb_cursor_del(cur, 0)) != 0)
			return mrc;
	return mrc == MDB_NOTFOUND ? 0 : mrc;
}

/* The sequence number of the cart's last delta, or -1 if it has none. */
static int last_seq(MDB_cursor *cur, const char *id, size_t len, int64_t *seq)
{
	delta_key dk;
	MDB_val k, v;
	make_key(&dk, id, len, 0);
	dk.b[len] = 1;      /* just past every "id 0x00 ..." key */
	k = db_mval(dk.b, len + 1);
	int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (mrc == 0)
		mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	else if (mrc == MDB_NOTFOUND)
		mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	*seq = -1;
	if (mrc == MDB_NOTFOUND)
		return 0;
	if (mrc == 0 && is_delta_of(&k, id, len))
		*seq = key_seq(&k);
	return mrc;
}

/* Decodes one stored value and joins it into acc.  False if it does not
 * decode or join; the fold is then skipped. */
static bool join_value(crdt_cart *acc, crdt_cart *tmp, const MDB_val *v)
{
	bool changed;
	return crdt_cart_from_bytes(v->mv_data, v->mv_size, tmp) == 0 &&
	       crdt_cart_join(acc, tmp, &changed) == 0;
}

/* The cart's full state joined with all its deltas, encoded into w.
 * False when a record does not decode or memory runs out: folding is an
 * optimisation, and such a cart keeps its records (and fails loudly at the
 * next load, which checks every record). */
static bool fold_state(MDB_txn *txn, MDB_dbi dbi, MDB_cursor *cur, const char *id,
                       size_t len, buf_writer *w)
{
	crdt_cart acc, tmp;
	MDB_val k = db_mval(id, len), v;
	bool ok = true;
	crdt_cart_init(&acc);
	crdt_cart_init(&tmp);
	int mrc = mdb_get(txn, dbi, &k, &v);
	if (mrc == 0)
		ok = join_value(&acc, &tmp, &v);
	else if (mrc != MDB_NOTFOUND)
		ok = false;
	for (mrc = first_delta(cur, id, len, &k, &v); ok && mrc == 0;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (!is_delta_of(&k, id, len))
			break;
		ok = join_value(&acc, &tmp, &v);
	}
	if (ok)
		crdt_encode_cart(w, &acc);
	crdt_cart_destroy(&tmp);
	crdt_cart_destroy(&acc);
	return ok && w->err == 0;
}

/* Whether a cart with n deltas is folded now: at DB_COMPACT_DELTAS deltas,
 * or later for a large full state, so that a fold (which costs the whole
 * cart) comes at most once per DB_FOLD_BYTES_PER_DELTA bytes of full state
 * and a write's share of it stays small however large the cart. */
static bool fold_due(MDB_txn *txn, MDB_dbi dbi, const char *id, size_t len, uint64_t n)
{
	MDB_val k = db_mval(id, len), v = { 0, NULL };
	if (n < DB_COMPACT_DELTAS)
		return false;
	if (n >= DB_MAX_DELTAS)
		return true;
	int mrc = mdb_get(txn, dbi, &k, &v);
	return mrc != 0 || n * DB_FOLD_BYTES_PER_DELTA >= v.mv_size;
}

static int put_state(MDB_txn *txn, MDB_dbi dbi, MDB_cursor *cur, const char *id, size_t len,
                     const void *val, size_t val_len)
{
	MDB_val k = db_mval(id, len), v = db_mval(val, val_len);
	int mrc = mdb_put(txn, dbi, &k, &v, 0);
	return mrc ? mrc : delete_deltas(cur, id, len);
}

static int put_delta(MDB_txn *txn, MDB_dbi dbi, MDB_cursor *cur, const db_record *r)
{
	int64_t last;
	delta_key dk;
	int mrc = last_seq(cur, r->id.s, r->id.len, &last);
	if (mrc)
		return mrc;
	if (last >= (int64_t)UINT32_MAX)
		return MDB_BAD_VALSIZE;   /* cannot happen while folds succeed */
	make_key(&dk, r->id.s, r->id.len, (uint32_t)(last + 1));
	MDB_val k = db_mval(dk.b, dk.len), v = db_mval(r->val, r->val_len);
	mrc = mdb_put(txn, dbi, &k, &v, 0);
	if (mrc || !fold_due(txn, dbi, r->id.s, r->id.len, (uint64_t)(last + 2)))
		return mrc;
	buf_writer w;
	buf_writer_init(&w);
	if (fold_state(txn, dbi, cur, r->id.s, r->id.len, &w))
		mrc = put_state(txn, dbi, cur, r->id.s, r->id.len, w.data, w.len);
	buf_writer_destroy(&w);
	return mrc;
}

/* One write transaction for the whole batch; returns an LMDB code. */
static int put_all(db *d, const db_record *recs, size_t n)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	int mrc = mdb_txn_begin(d->env, NULL, 0, &txn);
	if (mrc)
		return mrc;
	mrc = mdb_cursor_open(txn, d->carts, &cur);
	for (size_t i = 0; !mrc && i < n; i++) {
		const db_record *r = &recs[i];
		if (r->kind == DB_STATE)
			mrc = put_state(txn, d->carts, cur, r->id.s, r->id.len, r->val, r->val_len);
		else if (r->kind == DB_DELTA)
			mrc = put_delta(txn, d->carts, cur, r);
	}
	if (mrc) {
		mdb_txn_abort(txn);   /* also closes the cursor of a write txn */
		return mrc;
	}
	mdb_cursor_close(cur);
	return mdb_txn_commit(txn);   /* syncs the data pages unless sync = false */
}

/* The map size is address space, not disk: doubling it is cheap, and a peer
 * that stops acknowledging writes because of a startup guess is worse.
 * Safe here because no transaction of this process is open (db.h: one
 * thread at a time, and the batch's own transaction was aborted). */
static int grow_map(db *d)
{
	MDB_envinfo info;
	int mrc = mdb_env_info(d->env, &info);
	if (!mrc)
		mrc = mdb_env_set_mapsize(d->env, info.me_mapsize * 2);
	return mrc;
}

static int write_batch(db *d, const db_record *recs, size_t n, bool *synced_earlier)
{
	*synced_earlier = !d->sync;
	bool writes = false;
	for (size_t i = 0; i < n; i++) {
		if (recs[i].kind != DB_STATE && recs[i].kind != DB_DELTA &&
		    recs[i].kind != DB_NOTHING) {
			db_set_err(d, "record %zu has an unknown kind", i);
			return CARTD_EINVAL;
		}
		writes |= recs[i].kind != DB_NOTHING;
	}
	if (!writes)
		return 0;   /* nothing to write, so no transaction and no sync */
	int mrc, growths = 0;
	while ((mrc = put_all(d, recs, n)) == MDB_MAP_FULL && growths++ < DB_MAX_GROWTHS) {
		if ((mrc = grow_map(d)) != 0)
			return db_lmdb_fail(d, mrc, "growing the map");
	}
	if (mrc)
		return db_lmdb_fail(d, mrc, "writing carts");
	/* A transaction that wrote pages synced them in mdb_txn_commit, and
	 * with them every meta page written before. */
	uint64_t before = __atomic_load_n(&d->commits, __ATOMIC_RELAXED);
	__atomic_store_n(&d->commits, before + 1, __ATOMIC_RELEASE);
	if (!d->sync) {
		__atomic_store_n(&d->durable, before + 1, __ATOMIC_RELEASE);
	} else {
		__atomic_add_fetch(&d->syncs, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&d->durable, before, __ATOMIC_RELEASE);
	}
	*synced_earlier = true;
	return 0;
}

static int flush(db *d)
{
	if (!d->sync)
		return 0;
	uint64_t committed = __atomic_load_n(&d->commits, __ATOMIC_RELAXED);
	int mrc = mdb_env_sync(d->env, 1);
	__atomic_add_fetch(&d->syncs, 1, __ATOMIC_RELAXED);
	if (mrc)
		return db_lmdb_fail(d, mrc, "syncing the data file");
	__atomic_store_n(&d->durable, committed, __ATOMIC_RELEASE);
	return 0;
}

uint64_t db_syncs(const db *d)
{
	return __atomic_load_n(&d->syncs, __ATOMIC_ACQUIRE);
}

uint64_t db_commits(const db *d)
{
	return __atomic_load_n(&d->commits, __ATOMIC_ACQUIRE);
}

uint64_t db_durable(const db *d)
{
	return __atomic_load_n(&d->durable, __ATOMIC_ACQUIRE);
}

int db_write_batch(db *d, const db_record *recs, size_t n, bool *synced_earlier, char *err,
                   size_t errlen)
{
	return db_give_err(d, write_batch(d, recs, n, synced_earlier), err, errlen);
}

int db_flush(db *d, char *err, size_t errlen)
{
	return db_give_err(d, flush(d), err, errlen);
}

int db_put_batch(db *d, const db_record *recs, size_t n, char *err, size_t errlen)
{
	bool synced;
	int rc = write_batch(d, recs, n, &synced);
	if (!rc && n > 0)
		rc = flush(d);
	return db_give_err(d, rc, err, errlen);
}
