/*
 * check_db.c - the durability layer: data dir identity and boot epoch,
 * refusal of foreign or unknown data dirs, cart records through the group
 * committer and back through db_load_all, backpressure, a disk that refuses
 * the log or a checkpoint, corrupt records.
 *
 * Every test works in its own directory under a per-tcase temporary base
 * (mkdtemp under /tmp), created and removed by unchecked fixtures so that
 * the parent process cleans up even when a forked test fails.
 * Completions are awaited with poll() on the committer's fd and a deadline,
 * never with sleeps.
 */
#include <check.h>
#include <fcntl.h>
#include <lmdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/peer/committer.h"
#include "app/peer/db.h"
#include "app/peer/wal.h"
#include "crdt/codec.h"
#include "crdt/error.h"
#include "crdt/store.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

#define WAIT_MS 20000

static char base[64];

static void base_setup(void)
{
	tt_mkdtemp(base, sizeof base, "/tmp", "cartd-check-db");
}

static void base_teardown(void)
{
	tt_rmtree(base);
}

/* base/name: a directory that does not exist yet. */
static const char *sub(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", base, name);
	return buf;
}

static int open_db(const char *dir, bool sync, db **out, uint32_t *epoch, char *err)
{
	db_options o;
	db_options_default(&o);
	o.dir = dir;
	o.sync = sync;
	o.map_size = 64u << 20;
	return db_open(&o, out, epoch, err, DB_ERRMSG_MAX);
}

static db *open_ok(const char *dir, bool sync, uint32_t *epoch)
{
	db *d;
	char err[DB_ERRMSG_MAX];
	int rc = open_db(dir, sync, &d, epoch, err);
	ck_assert_msg(rc == 0, "db_open %s: %s (%s)", dir, cartd_strerror(rc), err);
	return d;
}

/* Completions collected by drain callbacks. */
typedef struct got {
	size_t n;
	size_t cap;
	uint64_t *cookie;
	int *rc;
} got;

static void on_done(void *arg, uint64_t cookie, int rc)
{
	got *g = arg;
	ck_assert_uint_lt(g->n, g->cap);
	g->cookie[g->n] = cookie;
	g->rc[g->n] = rc;
	g->n++;
}

static void got_init(got *g, size_t cap)
{
	g->n = 0;
	g->cap = cap;
	g->cookie = calloc(cap, sizeof *g->cookie);
	g->rc = calloc(cap, sizeof *g->rc);
	ck_assert(g->cookie && g->rc);
}

static void got_free(got *g)
{
	free(g->cookie);
	free(g->rc);
}

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls the committer fd until g holds want completions or WAIT_MS pass. */
static void wait_for(committer *c, got *g, size_t want)
{
	int64_t deadline = ms_now() + WAIT_MS;
	while (g->n < want) {
		int64_t left = deadline - ms_now();
		ck_assert_msg(left > 0, "only %zu of %zu completions in time", g->n, want);
		struct pollfd p = { .fd = committer_fd(c), .events = POLLIN };
		int pr = poll(&p, 1, (int)left);
		ck_assert_int_ge(pr, 0);
		if (pr > 0)
			committer_drain(c, on_done, g);
	}
}

START_TEST(test_new_dir_identity)
{
	char dir[128];
	sub(dir, sizeof dir, "a/b/data");   /* parents are created too */
	uint32_t epoch = 0;
	db *d = open_ok(dir, true, &epoch);
	ck_assert_uint_eq(epoch, 1);
	ck_assert_uint_eq(db_epoch(d), 1);
	ck_assert(db_created(d));
	uint64_t id = db_replica_id(d);
	ck_assert_uint_ne(id, 0);
	struct stat st;
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	db_close(d);

	for (uint32_t want = 2; want <= 4; want++) {
		d = open_ok(dir, true, &epoch);
		ck_assert_uint_eq(epoch, want);
		ck_assert(!db_created(d));
		ck_assert_uint_eq(db_replica_id(d), id);
		db_close(d);
	}
	/* A second data dir is a second replica. */
	char dir2[128];
	d = open_ok(sub(dir2, sizeof dir2, "other"), true, &epoch);
	ck_assert_uint_ne(db_replica_id(d), id);
	db_close(d);
}
END_TEST

START_TEST(test_locked_dir)
{
	char dir[128], err[DB_ERRMSG_MAX];
	sub(dir, sizeof dir, "locked");
	db *d = open_ok(dir, true, NULL);
	db *d2 = (db *)1;
	int rc = open_db(dir, true, &d2, NULL, err);
	ck_assert_int_eq(rc, CARTD_EDATADIR);
	ck_assert_ptr_null(d2);
	ck_assert_msg(strstr(err, "in use") != NULL, "message: %s", err);
	db_close(d);
	d = open_ok(dir, true, NULL);   /* the lock went with the handle */
	db_close(d);
}
END_TEST

/* Rewrites one meta value of a closed data dir with raw LMDB. */
/* Writes one record of named database dbname straight into the dir. */
static void poke(const char *dir, const char *dbname, const char *key, size_t klen,
                 const void *val, size_t n)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 2), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, dbname, 0, &dbi), 0);
	MDB_val k = { klen, (void *)(uintptr_t)key };
	MDB_val v = { n, (void *)(uintptr_t)val };
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void poke_meta(const char *dir, const char *key, const void *val, size_t n)
{
	poke(dir, "meta", key, strlen(key), val, n);
}

static void expect_refused(const char *dir, const char *needle)
{
	char err[DB_ERRMSG_MAX];
	db *d = (db *)1;
	int rc = open_db(dir, true, &d, NULL, err);
	ck_assert_msg(rc == CARTD_EDATADIR, "rc %d (%s) for %s", rc, err, dir);
	ck_assert_ptr_null(d);
	ck_assert_msg(strstr(err, needle) != NULL, "message '%s' lacks '%s'", err, needle);
}

START_TEST(test_unknown_layout)
{
	char dir[128];
	sub(dir, sizeof dir, "layout");
	db_close(open_ok(dir, true, NULL));
	poke_meta(dir, "layout", "cartd-db-99", 11);
	expect_refused(dir, "unknown layout 'cartd-db-99'");
	poke_meta(dir, "layout", DB_LAYOUT, strlen(DB_LAYOUT));
	db_close(open_ok(dir, true, NULL));
}
END_TEST

/* A layout-1 dir (carts in cart format 1, a folded SET entry among them)
 * is upgraded in place when opened: every cart reads the same, the layout
 * record moves on, and a corrupt format-1 record refuses the whole open. */
START_TEST(test_upgrade_layout1)
{
	char dir[128];
	sub(dir, sizeof dir, "upgrade");
	db_close(open_ok(dir, true, NULL));
	crdt_cart c;
	crdt_cart_init(&c);
	ck_assert_int_eq(crdt_cart_add(&c, 7, "apple", 5, 2, NULL), 0);
	ck_assert_int_eq(crdt_cart_set(&c, 9, "pear", 4, 17, NULL), 0);
	ck_assert_int_eq(crdt_cart_add(&c, 7, "pear", 4, 3, NULL), 0);
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_cart(&w, &c);
	ck_assert_int_eq(w.err, 0);
	poke(dir, "carts", "old-cart", 8, w.data, w.len - 3);   /* format 1 bytes */
	poke(dir, "carts", "other", 5, w.data, w.len - 3);
	poke_meta(dir, "layout", DB_LAYOUT_V1, strlen(DB_LAYOUT_V1));
	db *d = open_ok(dir, true, NULL);
	ck_assert(db_was_upgraded(d));
	ck_assert_uint_eq(db_upgraded(d), 2);
	crdt_store *s;
	ck_assert_int_eq(crdt_store_new(16, &s), 0);
	char err[DB_ERRMSG_MAX];
	int rc = db_load_all(d, s, err, sizeof err);
	ck_assert_msg(rc == 0, "load after upgrade: %s", err);
	crdt_item it;
	ck_assert_int_eq(crdt_store_get(s, "old-cart", 8, &it), 0);
	ck_assert(crdt_cart_equal(it.cart, &c));
	ck_assert_uint_eq(crdt_line_qty(crdt_cart_find(it.cart, "pear", 4)), 20);
	crdt_store_free(s);
	db_close(d);
	d = open_ok(dir, true, NULL);          /* upgraded once, then a plain open */
	ck_assert(!db_was_upgraded(d));
	db_close(d);
	/* A record that is not format 1 stops the upgrade, changing nothing:
	 * once it is mended, the upgrade goes through. */
	sub(dir, sizeof dir, "upgrade-bad");
	db_close(open_ok(dir, true, NULL));
	poke(dir, "carts", "good", 4, w.data, w.len - 3);
	poke(dir, "carts", "zz-bad", 6, w.data, w.len - 2);     /* format 2 bytes */
	poke_meta(dir, "layout", DB_LAYOUT_V1, strlen(DB_LAYOUT_V1));
	expect_refused(dir, "corrupt record");
	poke(dir, "carts", "zz-bad", 6, w.data, w.len - 3);
	d = open_ok(dir, true, NULL);
	ck_assert_uint_eq(db_upgraded(d), 2);
	ck_assert_str_eq(db_upgraded_from(d), DB_LAYOUT_V1);
	db_close(d);
	buf_writer_destroy(&w);
	crdt_cart_destroy(&c);
}
END_TEST

/* A layout-3 dir (cart format 2, full states and deltas) is upgraded in
 * place: full states and deltas both read the same afterwards, and a
 * record that is not format 2 refuses the open. */
START_TEST(test_upgrade_layout3)
{
	char dir[128];
	sub(dir, sizeof dir, "upgrade3");
	db_close(open_ok(dir, true, NULL));
	crdt_cart c, delta;
	crdt_cart_init(&c);
	crdt_cart_init(&delta);
	ck_assert_int_eq(crdt_cart_add(&c, 7, "apple", 5, 2, NULL), 0);
	buf_writer w, wd;
	buf_writer_init(&w);
	buf_writer_init(&wd);
	crdt_encode_cart(&w, &c);
	ck_assert_int_eq(crdt_cart_add(&c, 7, "pear", 4, 3, &delta), 0);
	crdt_encode_cart(&wd, &delta);
	const char dkey[] = { 'c', '1', 0, 0, 0, 0, 0 };   /* c1's delta 0 */
	poke(dir, "carts", "c1", 2, w.data, w.len - 2);      /* format 2 bytes */
	poke(dir, "carts", dkey, sizeof dkey, wd.data, wd.len - 2);
	poke_meta(dir, "layout", DB_LAYOUT_V3, strlen(DB_LAYOUT_V3));
	db *d = open_ok(dir, true, NULL);
	ck_assert_uint_eq(db_upgraded(d), 2);
	ck_assert_str_eq(db_upgraded_from(d), DB_LAYOUT_V3);
	crdt_store *s;
	ck_assert_int_eq(crdt_store_new(16, &s), 0);
	char err[DB_ERRMSG_MAX];
	int rc = db_load_all(d, s, err, sizeof err);
	ck_assert_msg(rc == 0, "load after upgrade: %s", err);
	crdt_item it;
	ck_assert_int_eq(crdt_store_get(s, "c1", 2, &it), 0);
	ck_assert(crdt_cart_equal(it.cart, &c));
	crdt_store_free(s);
	db_close(d);
	sub(dir, sizeof dir, "upgrade3-bad");
	db_close(open_ok(dir, true, NULL));
	poke(dir, "carts", "c1", 2, w.data, w.len);          /* format 3: trailing */
	poke_meta(dir, "layout", DB_LAYOUT_V3, strlen(DB_LAYOUT_V3));
	expect_refused(dir, "corrupt record");
	buf_writer_destroy(&w);
	buf_writer_destroy(&wd);
	crdt_cart_destroy(&c);
	crdt_cart_destroy(&delta);
}
END_TEST

/* Layout 4 is layout 5 without the log: renamed, records untouched, and
 * an older cartd can no longer open the dir. */
START_TEST(test_upgrade_layout4)
{
	char dir[128];
	sub(dir, sizeof dir, "upgrade4");
	db *d = open_ok(dir, true, NULL);
	db_record r = { tu_idn("c4", 2), (const uint8_t *)"\0\0\0", 3, DB_STATE };
	ck_assert_int_eq(db_put_batch(d, &r, 1, NULL, 0), 0);
	db_close(d);
	poke_meta(dir, "layout", DB_LAYOUT_V4, strlen(DB_LAYOUT_V4));
	d = open_ok(dir, true, NULL);
	ck_assert(db_was_upgraded(d));
	ck_assert_uint_eq(db_upgraded(d), 0);
	ck_assert_str_eq(db_upgraded_from(d), DB_LAYOUT_V4);
	size_t count;
	ck_assert_int_eq(db_count(d, &count, NULL, 0), 0);
	ck_assert_uint_eq(count, 1);
	db_close(d);
	d = open_ok(dir, true, NULL);
	ck_assert(!db_was_upgraded(d));
	db_close(d);
}
END_TEST

START_TEST(test_epoch_exhausted)
{
	char dir[128];
	sub(dir, sizeof dir, "epoch");
	db_close(open_ok(dir, true, NULL));
	const uint8_t max[4] = { 0xff, 0xff, 0xff, 0xff };
	poke_meta(dir, "epoch", max, sizeof max);
	expect_refused(dir, "epoch exhausted");
	const uint8_t short_epoch[2] = { 1, 0 };
	poke_meta(dir, "epoch", short_epoch, sizeof short_epoch);
	expect_refused(dir, "malformed");
}
END_TEST

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

START_TEST(test_foreign_dir)
{
	char dir[128], path[256];
	sub(dir, sizeof dir, "foreign");
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	snprintf(path, sizeof path, "%s/notes.txt", dir);
	write_file(path, "hello\n", 6);
	expect_refused(dir, "not empty");
	snprintf(path, sizeof path, "%s/%s", dir, DB_LOCK_FILE);
	ck_assert_int_eq(access(path, F_OK), -1);   /* left untouched */

	/* A data.mdb that is not LMDB. */
	sub(dir, sizeof dir, "garbage");
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	static uint8_t junk[16384];
	memset(junk, 0x5a, sizeof junk);
	write_file(path, junk, sizeof junk);
	expect_refused(dir, "not a usable LMDB file");

	/* A path that is a file. */
	expect_refused(path, "");
}
END_TEST

/* Applies a few operations of every kind to a handful of carts, submitting
 * each cart's full state after every operation (as the loop does). */
static size_t churn(crdt_store *s, uint64_t self, committer *c, size_t ncarts)
{
	static const char *skus[] = { "apple", "pear", "fig", "kiwi-2" };
	size_t submitted = 0;
	for (size_t round = 0; round < 6; round++) {
		for (size_t i = 0; i < ncarts; i++) {
			char id[32];
			int n = snprintf(id, sizeof id, "cart-%zu", i);
			const char *sku = skus[(round + i) % 4];
			crdt_op op = { .kind = CRDT_OP_ADD, .sku = sku, .sku_len = strlen(sku),
			               .qty = (uint32_t)(round + 1) };
			if (round == 3)
				op.kind = CRDT_OP_SET;
			if (round == 4 && i % 3 == 0)
				op.kind = CRDT_OP_REMOVE;
			if (round == 5 && i % 5 == 0)
				op.kind = CRDT_OP_CLEAR;
			ck_assert_int_eq(crdt_store_apply(s, id, (size_t)n, self, &op, NULL), 0);
			crdt_item it;
			ck_assert_int_eq(crdt_store_get(s, id, (size_t)n, &it), 0);
			int rc = committer_submit_cart(c, TU_IDN(id, (size_t)n), it.cart, submitted);
			ck_assert_msg(rc == 0, "submit: %s", cartd_strerror(rc));
			submitted++;
		}
	}
	return submitted;
}

static int same_cart(const crdt_item *it, void *arg)
{
	crdt_store *other = arg;
	crdt_item o;
	ck_assert_int_eq(crdt_store_get(other, it->id, it->id_len, &o), 0);
	ck_assert_msg(crdt_cart_equal(it->cart, o.cart), "cart %s differs", it->id);
	return 0;
}

/* Equal carts and equal bucket digests (which fold in every cart's). */
static void assert_same_store(crdt_store *a, crdt_store *b)
{
	ck_assert_uint_eq(crdt_store_count(a), crdt_store_count(b));
	ck_assert_uint_eq(crdt_store_nbuckets(a), crdt_store_nbuckets(b));
	ck_assert_mem_eq(crdt_store_bucket_digests(a), crdt_store_bucket_digests(b),
	                 crdt_store_nbuckets(a) * sizeof(uint64_t));
	crdt_store_walk(a, same_cart, b);
}

/* Writes through the committer, reloads into a fresh store, compares. */
static void roundtrip(const char *dir, bool sync)
{
	uint32_t epoch;
	db *d = open_ok(dir, sync, &epoch);
	ck_assert_uint_eq(epoch, 1);
	crdt_store *s;
	ck_assert_int_eq(crdt_store_new(64, &s), 0);
	committer *c;
	ck_assert_int_eq(committer_new(d, NULL, &c, NULL, 0), 0);
	size_t n = churn(s, db_replica_id(d), c, 40);
	got g;
	got_init(&g, n);
	wait_for(c, &g, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(g.cookie[i], i);   /* submission order */
		ck_assert_int_eq(g.rc[i], 0);
	}
	committer_stats st;
	committer_stats_get(c, &st);
	ck_assert_uint_eq(st.records, n);
	ck_assert_uint_eq(st.queued_records, 0);
	ck_assert_uint_eq(st.queued_bytes, 0);
	committer_free(c);
	db_close(d);
	got_free(&g);

	d = open_ok(dir, sync, &epoch);
	ck_assert_uint_eq(epoch, 2);
	crdt_store *s2;
	ck_assert_int_eq(crdt_store_new(64, &s2), 0);
	ck_assert_int_eq(db_load_all(d, s2, NULL, 0), 0);
	size_t count;
	ck_assert_int_eq(db_count(d, &count, NULL, 0), 0);
	ck_assert_uint_eq(count, 40);
	assert_same_store(s, s2);
	crdt_store_free(s2);
	crdt_store_free(s);
	db_close(d);
}

START_TEST(test_roundtrip_synced)
{
	char dir[128];
	roundtrip(sub(dir, sizeof dir, "rt-sync"), true);
}
END_TEST

START_TEST(test_roundtrip_nosync)
{
	char dir[128];
	roundtrip(sub(dir, sizeof dir, "rt-nosync"), false);
}
END_TEST

START_TEST(test_group_commit)
{
	enum { N = 1000 };
	char dir[128];
	db *d = open_ok(sub(dir, sizeof dir, "group"), true, NULL);
	committer *c;
	ck_assert_int_eq(committer_new(d, NULL, &c, NULL, 0), 0);
	uint8_t val[64];
	memset(val, 0xab, sizeof val);
	for (size_t i = 0; i < N; i++) {
		char id[32];
		int n = snprintf(id, sizeof id, "g-%zu", i % 97);   /* repeats: LWW */
		ck_assert_int_eq(committer_submit(c, TU_IDN(id, (size_t)n), val, sizeof val, i), 0);
	}
	got g;
	got_init(&g, N);
	wait_for(c, &g, N);
	for (size_t i = 0; i < N; i++) {
		ck_assert_uint_eq(g.cookie[i], i);
		ck_assert_int_eq(g.rc[i], 0);
	}
	committer_stats st;
	committer_stats_get(c, &st);
	ck_assert_uint_eq(st.submitted, N);
	ck_assert_uint_eq(st.records, N);
	ck_assert_uint_eq(st.batches, st.commits);
	ck_assert_msg(st.commits < N, "%llu commits for %d submissions",
	              (unsigned long long)st.commits, N);
	ck_assert_uint_gt(st.max_batch, 1);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_msg(st.syncs == st.commits, "%llu syncs for %llu commits",
	              (unsigned long long)st.syncs, (unsigned long long)st.commits);
	committer_free(c);
	ck_assert_uint_eq(db_durable(d), db_commits(d));   /* the fold at stop synced */
	size_t count;
	ck_assert_int_eq(db_count(d, &count, NULL, 0), 0);
	ck_assert_uint_eq(count, 97);
	db_close(d);
	got_free(&g);
}
END_TEST

/* Lazy records (a replica's) share syncs without anyone waking the commit
 * thread per record, complete in submission order with the others, and
 * are made durable by a stop that comes before their wait is over. */
START_TEST(test_lazy_records)
{
	enum { N = 200 };
	char dir[128];
	db *d = open_ok(sub(dir, sizeof dir, "lazy"), true, NULL);
	committer *c;
	ck_assert_int_eq(committer_new(d, NULL, &c, NULL, 0), 0);
	crdt_cart empty;
	crdt_cart_init(&empty);
	for (size_t i = 0; i < N; i++) {
		char id[32];
		int n = snprintf(id, sizeof id, "lazy-%zu", i);
		ck_assert_int_eq(committer_submit_lazy(c, TU_IDN(id, (size_t)n), &empty, true, i), 0);
	}
	ck_assert_int_eq(committer_submit(c, TU_IDN("urgent", 6), "v", 1, N), 0);
	got g;
	got_init(&g, N + 2);
	wait_for(c, &g, N + 1);
	for (size_t i = 0; i <= N; i++) {
		ck_assert_uint_eq(g.cookie[i], i);
		ck_assert_int_eq(g.rc[i], 0);
	}
	committer_stats st;
	committer_stats_get(c, &st);
	ck_assert_msg(st.syncs < N / 4, "%llu syncs for %d lazy records",
	              (unsigned long long)st.syncs, N);
	/* One more, then a stop well inside its COMMITTER_LAZY_MS. */
	ck_assert_int_eq(committer_submit_lazy(c, TU_IDN("last", 4), &empty, true, N + 1), 0);
	committer_stop(c);
	committer_drain(c, on_done, &g);
	ck_assert_uint_eq(g.n, N + 2);
	ck_assert_uint_eq(g.cookie[N + 1], N + 1);
	ck_assert_int_eq(g.rc[N + 1], 0);
	committer_free(c);
	size_t count;
	ck_assert_int_eq(db_count(d, &count, NULL, 0), 0);
	ck_assert_uint_eq(count, N + 2);
	db_close(d);
	got_free(&g);
}
END_TEST

/* A delta submitted already encoded (a replica logging the bytes a peer
 * sent) is stored as a delta, joined with the full state before it: the
 * log and the fold read it exactly as one the committer encoded. */
START_TEST(test_lazy_encoded_delta)
{
	char dir[128];
	db *d = open_ok(sub(dir, sizeof dir, "lazyenc"), true, NULL);
	committer *c;
	ck_assert_int_eq(committer_new(d, NULL, &c, NULL, 0), 0);
	crdt_cart state, delta;
	crdt_cart_init(&state);
	crdt_cart_init(&delta);
	ck_assert_int_eq(crdt_cart_add(&state, 7, "apple", 5, 2, NULL), 0);
	ck_assert_int_eq(committer_submit_lazy(c, TU_ID("enc"), &state, true, 1), 0);
	ck_assert_int_eq(crdt_cart_add(&state, 9, "pear", 4, 3, &delta), 0);
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_cart(&w, &delta);
	ck_assert_int_eq(w.err, 0);
	ck_assert_int_eq(committer_submit_lazy_encoded(c, TU_ID("enc"), w.data, w.len, 2), 0);
	ck_assert_int_eq(committer_submit_lazy_encoded(c, TU_ID("enc"), w.data, 0, 3), CARTD_EINVAL);
	got g;
	got_init(&g, 4);
	wait_for(c, &g, 2);
	ck_assert_int_eq(g.rc[0], 0);
	ck_assert_uint_eq(g.cookie[1], 2);
	ck_assert_int_eq(g.rc[1], 0);
	committer_free(c);
	crdt_store *s;
	ck_assert_int_eq(crdt_store_new(16, &s), 0);
	char err[DB_ERRMSG_MAX];
	int rc = db_load_all(d, s, err, sizeof err);
	ck_assert_msg(rc == 0, "load: %s", err);
	crdt_item it;
	ck_assert_int_eq(crdt_store_get(s, "enc", 3, &it), 0);
	ck_assert(crdt_cart_equal(it.cart, &state));
	crdt_store_free(s);
	buf_writer_destroy(&w);
	crdt_cart_destroy(&delta);
	crdt_cart_destroy(&state);
	db_close(d);
	got_free(&g);
}
END_TEST

/* db_write_batch's rule (db.h): a commit that wrote syncs every earlier
 * one; its own meta page waits for the next such commit or db_flush. */
START_TEST(test_write_batch_sync_rule)
{
	char dir[128];
	db *d = open_ok(sub(dir, sizeof dir, "syncrule"), true, NULL);
	uint64_t s0 = db_syncs(d);
	db_record a = { tu_idn("sr-a", 4), (const uint8_t *)"v", 1, DB_STATE };
	db_record nothing = { tu_idn("sr-a", 4), NULL, 0, DB_NOTHING };
	bool synced;
	ck_assert_int_eq(db_write_batch(d, &a, 1, &synced, NULL, 0), 0);
	ck_assert(synced);
	ck_assert_uint_eq(db_commits(d), 1);
	ck_assert_uint_eq(db_durable(d), 0);      /* its meta page is not synced */
	ck_assert_uint_eq(db_syncs(d), s0 + 1);
	ck_assert_int_eq(db_write_batch(d, &a, 1, &synced, NULL, 0), 0);
	ck_assert(synced);
	ck_assert_uint_eq(db_commits(d), 2);
	ck_assert_uint_eq(db_durable(d), 1);      /* the second's sync covered the first */
	ck_assert_int_eq(db_write_batch(d, &nothing, 1, &synced, NULL, 0), 0);
	ck_assert(!synced);                       /* wrote nothing, synced nothing */
	ck_assert_uint_eq(db_commits(d), 2);
	ck_assert_uint_eq(db_syncs(d), s0 + 2);
	ck_assert_int_eq(db_flush(d, NULL, 0), 0);
	ck_assert_uint_eq(db_durable(d), 2);
	ck_assert_uint_eq(db_syncs(d), s0 + 3);
	ck_assert_int_eq(db_put_batch(d, &a, 1, NULL, 0), 0);   /* durable on return */
	ck_assert_uint_eq(db_commits(d), 3);
	ck_assert_uint_eq(db_durable(d), 3);
	ck_assert_uint_eq(db_syncs(d), s0 + 5);
	db_close(d);

	d = open_ok(sub(dir, sizeof dir, "syncrule-off"), false, NULL);
	ck_assert_int_eq(db_write_batch(d, &a, 1, &synced, NULL, 0), 0);
	ck_assert(synced);
	ck_assert_uint_eq(db_durable(d), db_commits(d));
	ck_assert_int_eq(db_flush(d, NULL, 0), 0);
	ck_assert_uint_eq(db_syncs(d), 0);
	db_close(d);
}
END_TEST

/* Log records of generation gen in dir (wal.h). */
static size_t logged(const char *dir, uint64_t gen)
{
	wal_reader *r;
	char err[DB_ERRMSG_MAX];
	ck_assert_int_eq(wal_reader_open(dir, gen, &r, err, sizeof err), 0);
	size_t total = 0, n;
	const db_record *recs;
	do {
		int rc = wal_reader_next(r, 1 << 20, &recs, &n, err, sizeof err);
		ck_assert_msg(rc == 0, "reading the log: %s", err);
		total += n;
	} while (n > 0);
	wal_reader_close(r);
	return total;
}

/* A completion is posted only once its record is in a synced log frame:
 * one write at a time, each is its own frame and its own sync. */
START_TEST(test_completion_after_sync)
{
	char dir[128];
	db *d = open_ok(sub(dir, sizeof dir, "lone"), true, NULL);
	committer *c;
	ck_assert_int_eq(committer_new(d, NULL, &c, NULL, 0), 0);
	got g;
	got_init(&g, 20);
	committer_stats st;
	for (size_t i = 0; i < 20; i++) {
		ck_assert_int_eq(committer_submit(c, TU_IDN("lone", 4), "v", 1, i), 0);
		wait_for(c, &g, i + 1);
		ck_assert_int_eq(g.rc[i], 0);
		committer_stats_get(c, &st);
		ck_assert_msg(st.syncs == i + 1 && logged(dir, db_wal_gen(d)) == i + 1,
		              "write %zu completed after %llu syncs with %zu records logged", i,
		              (unsigned long long)st.syncs, logged(dir, db_wal_gen(d)));
	}
	ck_assert_uint_eq(st.commits, 20);
	ck_assert_uint_eq(st.checkpoints, 0);   /* 20 small frames: no rotation */
	committer_free(c);
	/* Stopping folded the log: LMDB holds the cart, the log nothing new. */
	size_t count;
	ck_assert_int_eq(db_count(d, &count, NULL, 0), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(logged(dir, db_wal_gen(d)), 0);
	db_close(d);
	got_free(&g);
}
END_TEST

START_TEST(test_backpressure_records)
{
	char dir[128];
	db *d = open_ok(sub(dir, sizeof dir, "bp"), true, NULL);
	committer_options o = { .max_records = 4, .max_bytes = 1 << 20 };
	committer *c;
	ck_assert_int_eq(committer_new(d, &o, &c, NULL, 0), 0);
	/* Records count until drained, so the fifth is refused however fast
	 * the thread writes. */
	for (uint64_t i = 0; i < 4; i++)
		ck_assert_int_eq(committer_submit(c, TU_IDN("bp", 2), "x", 1, i), 0);
	ck_assert_int_eq(committer_submit(c, TU_IDN("bp", 2), "x", 1, 4), CARTD_ENOSPC);
	got g;
	got_init(&g, 8);
	wait_for(c, &g, 4);
	ck_assert_int_eq(committer_submit(c, TU_IDN("bp", 2), "x", 1, 5), 0);
	committer_stop(c);
	ck_assert_int_eq(committer_submit(c, TU_IDN("bp", 2), "x", 1, 6), CARTD_ESHUTDOWN);
	wait_for(c, &g, 5);                 /* flushed by stop, still drainable */
	ck_assert_uint_eq(g.cookie[4], 5);
	committer_stats st;
	committer_stats_get(c, &st);
	ck_assert_uint_eq(st.rejected, 1);
	committer_free(c);
	db_close(d);
	got_free(&g);
}
END_TEST

START_TEST(test_backpressure_bytes)
{
	char dir[128];
	db *d = open_ok(sub(dir, sizeof dir, "bpb"), true, NULL);
	committer_options o = { .max_records = 100000, .max_bytes = 4096 };
	committer *c;
	ck_assert_int_eq(committer_new(d, &o, &c, NULL, 0), 0);
	static uint8_t big[8192];
	/* Submitting far faster than synced commits fills the byte budget. */
	size_t ok = 0;
	int rc = 0;
	for (int i = 0; i < 1000000 && rc == 0; i++) {
		rc = committer_submit(c, TU_IDN("small", 5), big, 1000, ok);
		ok += rc == 0;
	}
	ck_assert_int_eq(rc, CARTD_ENOSPC);
	committer_stats st;
	committer_stats_get(c, &st);
	ck_assert_uint_le(st.queued_bytes, o.max_bytes);
	ck_assert_uint_ge(st.rejected, 1);
	got g;
	got_init(&g, ok + 1);
	wait_for(c, &g, ok);
	/* Larger than max_bytes, but the queue is empty now: admitted. */
	ck_assert_int_eq(committer_submit(c, TU_IDN("big", 3), big, sizeof big, ok), 0);
	wait_for(c, &g, ok + 1);
	for (size_t i = 0; i <= ok; i++) {
		ck_assert_uint_eq(g.cookie[i], i);
		ck_assert_int_eq(g.rc[i], 0);
	}
	committer_free(c);
	db_close(d);
	got_free(&g);
}
END_TEST

/* Ids are checked where they enter (cart_id.h), not here; an empty batch
 * writes nothing and succeeds. */
START_TEST(test_empty_batch)
{
	char dir[128];
	db *d = open_ok(sub(dir, sizeof dir, "ids"), true, NULL);
	ck_assert_int_eq(db_put_batch(d, NULL, 0, NULL, 0), 0);
	db_close(d);
}
END_TEST

START_TEST(test_map_grows)
{
	char dir[128], err[DB_ERRMSG_MAX];
	db_options o;
	db_options_default(&o);
	o.dir = sub(dir, sizeof dir, "small-map");
	o.map_size = 256u << 10;
	db *d;
	ck_assert_int_eq(db_open(&o, &d, NULL, err, sizeof err), 0);
	static uint8_t val[4096];
	char ids[50][16];
	db_record recs[50];
	for (int b = 0; b < 4; b++) {   /* 800 KiB into a 256 KiB map */
		for (int i = 0; i < 50; i++) {
			int n = snprintf(ids[i], sizeof ids[i], "m-%d", b * 50 + i);
			recs[i] = (db_record){ tu_idn(ids[i], (size_t)n), val, sizeof val, DB_STATE };
		}
		int rc = db_put_batch(d, recs, 50, err, sizeof err);
		ck_assert_msg(rc == 0, "batch %d: %s", b, err);
	}
	size_t count;
	ck_assert_int_eq(db_count(d, &count, NULL, 0), 0);
	ck_assert_uint_eq(count, 200);
	db_close(d);
}
END_TEST

/* A batch the log cannot take is reported to every cookie of it, with the
 * cause, and the committer goes on with the next batch, which takes its
 * place in the log.  The disk is made to refuse by RLIMIT_FSIZE (SIGXFSZ
 * ignored so that the write fails with EFBIG instead), restored after. */
START_TEST(test_failed_batch)
{
	char dir[128], err[DB_ERRMSG_MAX];
	db *d = open_ok(sub(dir, sizeof dir, "fail"), true, NULL);
	committer *c;
	ck_assert_int_eq(committer_new(d, NULL, &c, NULL, 0), 0);
	struct rlimit old, small = { 1u << 20, 0 };
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	size_t huge = 2u << 20;
	uint8_t *val = calloc(1, huge);
	ck_assert_ptr_nonnull(val);
	ck_assert_int_eq(committer_submit(c, TU_IDN("huge", 4), val, huge, 1), 0);
	free(val);                /* the committer holds its own copy */
	got g;
	got_init(&g, 2);
	wait_for(c, &g, 1);
	ck_assert_int_eq(g.rc[0], CARTD_ESTORAGE);
	committer_last_error(c, err, sizeof err);
	ck_assert_msg(strstr(err, "wal-") && strstr(err, "too large"), "message: %s", err);
	ck_assert_int_eq(committer_submit(c, TU_IDN("small", 5), "v", 1, 2), 0);
	wait_for(c, &g, 2);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_sig);
	ck_assert_int_eq(g.rc[1], 0);
	committer_stats st;
	committer_stats_get(c, &st);
	ck_assert_uint_eq(st.batches, 2);
	ck_assert_uint_eq(st.commits, 1);
	ck_assert_uint_eq(st.failed, 1);
	ck_assert_uint_eq(logged(dir, db_wal_gen(d)), 1);   /* "small" only */
	committer_free(c);
	size_t count;
	ck_assert_int_eq(db_count(d, &count, NULL, 0), 0);
	ck_assert_uint_eq(count, 1);
	db_close(d);
	got_free(&g);
}
END_TEST

/* Polls the committer's stats until done(st) or WAIT_MS pass, draining
 * completions into g meanwhile. */
static void wait_stats(committer *c, got *g, bool (*done)(const committer_stats *),
                       const char *what)
{
	int64_t deadline = ms_now() + WAIT_MS;
	committer_stats st;
	for (committer_stats_get(c, &st); !done(&st); committer_stats_get(c, &st)) {
		ck_assert_msg(ms_now() < deadline, "%s: %llu checkpoints, %llu failed", what,
		              (unsigned long long)st.checkpoints,
		              (unsigned long long)st.checkpoint_failures);
		struct pollfd p = { .fd = committer_fd(c), .events = POLLIN };
		if (poll(&p, 1, 10) > 0)
			committer_drain(c, on_done, g);
	}
}

static bool a_fold_failed(const committer_stats *st) { return st->checkpoint_failures > 0; }
static bool a_fold_done(const committer_stats *st) { return st->checkpoints > 0; }

/* A checkpoint the disk refuses does not stop writes: they are durable in
 * the log, the fold is retried, and it succeeds once the disk takes it.
 * RLIMIT_FSIZE (1 MiB) refuses LMDB's growth past the records written
 * before it, while the log files fit under it. */
START_TEST(test_failed_checkpoint)
{
	char dir[128], err[DB_ERRMSG_MAX];
	db *d = open_ok(sub(dir, sizeof dir, "ckfail"), true, NULL);
	static uint8_t val[1000];
	char ids[1500][16];
	db_record recs[1500];
	for (int i = 0; i < 1500; i++) {   /* 1.5 MB: data.mdb past the limit */
		int n = snprintf(ids[i], sizeof ids[i], "pre-%d", i);
		recs[i] = (db_record){ tu_idn(ids[i], (size_t)n), val, sizeof val, DB_STATE };
	}
	ck_assert_int_eq(db_put_batch(d, recs, 1500, NULL, 0), 0);
	committer_options o;
	committer_options_default(&o);
	o.wal_rotate_bytes = 4096;
	committer *c;
	ck_assert_int_eq(committer_new(d, &o, &c, NULL, 0), 0);
	struct rlimit old, small = { 1u << 20, 0 };
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	enum { N = 40 };
	got g;
	got_init(&g, N);
	for (uint64_t i = 0; i < N; i++) {   /* 40 KiB: the log rotates */
		char id[16];
		int n = snprintf(id, sizeof id, "new-%d", (int)i);
		ck_assert_int_eq(committer_submit(c, TU_IDN(id, (size_t)n), val, sizeof val, i), 0);
	}
	wait_stats(c, &g, a_fold_failed, "no checkpoint failed under the limit");
	wait_for(c, &g, N);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_sig);
	for (size_t i = 0; i < N; i++)
		ck_assert_int_eq(g.rc[i], 0);   /* acknowledged: the log took them */
	committer_last_error(c, err, sizeof err);
	ck_assert_msg(strstr(err, "folding log generation") && strstr(err, "too large"),
	              "message: %s", err);
	wait_stats(c, &g, a_fold_done, "the checkpoint never succeeded after the limit went");
	committer_free(c);
	size_t count;
	ck_assert_int_eq(db_count(d, &count, NULL, 0), 0);
	ck_assert_uint_eq(count, 1500 + N);
	db_close(d);
	got_free(&g);
}
END_TEST

/* Stores one good and one bad record and expects the load to name the bad. */
static void expect_corrupt(const char *dir, const uint8_t *bad, size_t n)
{
	db *d = open_ok(dir, true, NULL);
	crdt_cart cart;
	crdt_cart_init(&cart);
	ck_assert_int_eq(crdt_cart_add(&cart, 7, "sku", 3, 2, NULL), 0);
	buf_writer w;
	buf_writer_init(&w);
	crdt_encode_cart(&w, &cart);
	ck_assert_int_eq(w.err, 0);
	db_record recs[2] = { { tu_id("good-1"), w.data, w.len, DB_STATE },
	                      { tu_id("cart-bad"), bad, n, DB_STATE } };
	ck_assert_int_eq(db_put_batch(d, recs, 2, NULL, 0), 0);
	crdt_store *s;
	ck_assert_int_eq(crdt_store_new(16, &s), 0);
	char err[DB_ERRMSG_MAX];
	int rc = db_load_all(d, s, err, sizeof err);
	ck_assert_int_eq(rc, CARTD_EDATADIR);
	ck_assert_msg(strstr(err, "'cart-bad'") != NULL, "message: %s", err);
	crdt_store_free(s);
	buf_writer_destroy(&w);
	crdt_cart_destroy(&cart);
	db_close(d);
}

START_TEST(test_corrupt_record)
{
	char dir[128];
	const uint8_t junk[] = { 0xff, 0xff, 0xff };
	expect_corrupt(sub(dir, sizeof dir, "corrupt1"), junk, sizeof junk);
	const uint8_t trailing[] = { 0, 0, 0, 0 };   /* empty cart plus one byte */
	expect_corrupt(sub(dir, sizeof dir, "corrupt2"), trailing, sizeof trailing);
	expect_corrupt(sub(dir, sizeof dir, "corrupt3"), NULL, 0);
}
END_TEST

Suite *db_suite(void);

Suite *db_suite(void)
{
	Suite *s = suite_create("db");
	TCase *ident = tcase_create("identity");
	tcase_add_unchecked_fixture(ident, base_setup, base_teardown);
	tcase_add_test(ident, test_new_dir_identity);
	tcase_add_test(ident, test_locked_dir);
	tcase_add_test(ident, test_unknown_layout);
	tcase_add_test(ident, test_upgrade_layout1);
	tcase_add_test(ident, test_upgrade_layout3);
	tcase_add_test(ident, test_upgrade_layout4);
	tcase_add_test(ident, test_epoch_exhausted);
	tcase_add_test(ident, test_foreign_dir);
	suite_add_tcase(s, ident);

	TCase *commit = tcase_create("commit");
	tcase_add_unchecked_fixture(commit, base_setup, base_teardown);
	tcase_set_timeout(commit, 60);
	tcase_add_test(commit, test_roundtrip_synced);
	tcase_add_test(commit, test_roundtrip_nosync);
	tcase_add_test(commit, test_group_commit);
	tcase_add_test(commit, test_lazy_records);
	tcase_add_test(commit, test_lazy_encoded_delta);
	tcase_add_test(commit, test_write_batch_sync_rule);
	tcase_add_test(commit, test_completion_after_sync);
	tcase_add_test(commit, test_backpressure_records);
	tcase_add_test(commit, test_backpressure_bytes);
	tcase_add_test(commit, test_empty_batch);
	tcase_add_test(commit, test_map_grows);
	tcase_add_test(commit, test_failed_batch);
	tcase_add_test(commit, test_failed_checkpoint);
	tcase_add_test(commit, test_corrupt_record);
	suite_add_tcase(s, commit);
	return s;
}
