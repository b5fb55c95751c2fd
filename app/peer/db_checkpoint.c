/*
 * db_checkpoint.c - folding generations of the write-ahead log (wal.h)
 * into LMDB: at run time for the committer, and at open for whatever the
 * last run left.
 *
 * A generation is read in passes of DB_CHECKPOINT_PASS bytes (one pass
 * for a generation of the default size).  Each cart's records of a pass
 * are joined into one (db_coalesce.c) and written in the order of the cart
 * ids, in transactions of at most DB_CHECKPOINT_CHUNK bytes
 * (db_write_batch: each syncs its data pages); then meta "wal-gen" moves
 * past the generation, and one flush makes it all durable.
 *
 * Why id order: LMDB copies every page a transaction touches.  Records in
 * log order spread over every cart, so each transaction of a pass touched
 * most leaf pages and the pass rewrote and synced the whole file once per
 * transaction; in id order each transaction covers a key range of its
 * own, and a pass writes each leaf page about once (bench_fold: 0.56x
 * the CPU per record of 4 MiB transactions in log order).  The order of
 * records of different carts does not matter: each cart's records keep
 * theirs.
 *
 * Writing a record twice is harmless: a delta joined again, or a full
 * state written again before the records that followed it, gives the same
 * cart (db.h).  So a crash anywhere in a fold leaves LMDB holding some of
 * the generation's records, each cart's a prefix of its own, and wal-gen
 * still naming the generation, and the next open folds it all again.
 */
#include "app/peer/db.h"

#include <lmdb.h>
#include <stdio.h>
#include <string.h>

#include "app/peer/db_internal.h"
#include "app/peer/wal.h"
#include "crdt/error.h"

/* Sets meta "wal-gen" to gen in a transaction of its own. */
static int store_wal_gen(db *d, uint64_t gen)
{
	MDB_txn *txn;
	int mrc = mdb_txn_begin(d->env, NULL, 0, &txn);
	if (mrc)
		return db_lmdb_fail(d, mrc, "mdb_txn_begin");
	uint8_t b[8];
	db_put_le(b, gen, 8);
	int rc = db_put_meta(d, txn, DB_KEY_WAL_GEN, b, sizeof b);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	if ((mrc = mdb_txn_commit(txn)) != 0)
		return db_lmdb_fail(d, mrc, "recording the folded log generation");
	d->wal_gen = gen;
	return 0;
}

int db_write_chunked(db *d, const db_record *recs, size_t n, char *err, size_t errlen)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < n;) {
		size_t j = i + 1, bytes = recs[i].val_len;
		while (j < n && bytes + recs[j].val_len <= DB_CHECKPOINT_CHUNK)
			bytes += recs[j++].val_len;
		bool synced;
		rc = db_write_batch(d, recs + i, j - i, &synced, err, errlen);
		i = j;
	}
	return rc;
}

/* Folds generation gen; *records says how many it wrote.  The message of a
 * failure is left in d->err. */
static int fold(db *d, uint64_t gen, size_t *records)
{
	char err[DB_ERRMSG_MAX];
	wal_reader *r;
	*records = 0;
	int rc = wal_reader_open(d->dir, gen, &r, err, sizeof err);
	while (!rc) {
		const db_record *recs;
		size_t n;
		rc = wal_reader_next(r, DB_CHECKPOINT_PASS, &recs, &n, err, sizeof err);
		if (rc || n == 0)
			break;
		db_coalesced co;
		if ((rc = db_coalesce(recs, n, &co)) != 0) {
			cartd_errmsg(err, sizeof err, "out of memory joining %zu records", n);
			break;
		}
		/* coalesced records come sorted by cart id */
		rc = db_write_chunked(d, co.recs, co.n, err, sizeof err);
		db_coalesced_free(&co);
		*records += n;
	}
	wal_reader_close(r);
	if (rc) {
		db_set_err(d, "folding log generation %llu: %s", (unsigned long long)gen, err);
		return rc;
	}
	/* An empty generation changes nothing: the log still starts there. */
	if (*records == 0)
		return 0;
	rc = store_wal_gen(d, gen + 1);
	if (!rc && (rc = db_flush(d, err, sizeof err)) != 0)
		db_set_err(d, "%s", err);
	return rc;
}

int db_checkpoint(db *d, uint64_t gen, size_t *records, char *err, size_t errlen)
{
	size_t k = 0;
	int rc = 0;
	if (gen < d->wal_gen) {
		db_set_err(d, "log generation %llu was folded already (now at %llu)",
		           (unsigned long long)gen, (unsigned long long)d->wal_gen);
		rc = CARTD_EINVAL;
	} else {
		rc = fold(d, gen, &k);
	}
	if (records)
		*records = k;
	return db_give_err(d, rc, err, errlen);
}

/*
 * The committer writes generation wal_gen, and rotates to the next only
 * once the one before it is folded (committer.c), so a crash can leave
 * frames of wal_gen and wal_gen + 1 and of no other unfolded generation.
 */
int db_recover(db *d)
{
	uint64_t first = d->wal_gen;
	for (uint64_t g = first; g <= first + 1; g++) {
		size_t k;
		int rc = fold(d, g, &k);
		if (rc)
			return rc;
		d->recovered += k;
	}
	return 0;
}
