/*
 * check_wal.c - the write-ahead log (app/peer/wal.h) and its folding into
 * LMDB: frames read back in order and in whole-frame chunks, where a
 * generation ends (a torn frame at every byte, an older generation beyond
 * the tail), corrupt frames refused, and acknowledged writes surviving a
 * peer killed at random moments, checkpoints included.
 *
 * Each test works under its own mkdtemp directory.  The crash test kills a
 * child process with SIGKILL once it has reported enough acknowledgements
 * through a pipe; completions are awaited with poll() and a deadline.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "app/peer/committer.h"
#include "app/peer/db.h"
#include "app/peer/wal.h"
#include "crdt/error.h"
#include "crdt/store.h"
#include "tests/test_tmpdir.h"
#include "tests/test_util.h"

#define WAIT_MS 20000

static char base[64];

static void base_setup(void)
{
	tt_mkdtemp(base, sizeof base, "/tmp", "cartd-check-wal");
}

static void base_teardown(void)
{
	tt_rmtree(base);
}

static const char *sub(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", base, name);
	ck_assert_int_eq(mkdir(buf, 0700), 0);
	return buf;
}

/* Record i of the test sequence: ids and values of varying length,
 * states and deltas. */
static db_record record(size_t i, char *id, uint8_t *val)
{
	int n = snprintf(id, 32, "cart-%zu", i * 7919 % 1000);
	size_t len = (i * 37) % 300;
	for (size_t k = 0; k < len; k++)
		val[k] = (uint8_t)(i + k);
	return (db_record){ tu_idn(id, (size_t)n), val, len, i % 3 ? DB_DELTA : DB_STATE };
}

static void assert_record(const db_record *got, size_t i)
{
	char id[32];
	uint8_t val[300];
	db_record want = record(i, id, val);
	/* The reader checks and hashes the id again: the hash must agree. */
	ck_assert_msg(got->kind == want.kind && got->id.len == want.id.len &&
	              memcmp(got->id.s, want.id.s, want.id.len) == 0 &&
	              got->id.hash == want.id.hash && got->val_len == want.val_len &&
	              (want.val_len == 0 || memcmp(got->val, want.val, want.val_len) == 0),
	              "record %zu read back differently", i);
}

/* Appends frames of sizes[k] records each (records numbered on from
 * *next); returns the log's size after each frame in ends[]. */
static void append_frames(wal *w, const size_t *sizes, size_t nframes, size_t *next,
                          uint64_t *ends)
{
	for (size_t f = 0; f < nframes; f++) {
		char ids[16][32];
		uint8_t vals[16][300];
		db_record recs[17];
		size_t n = 0;
		ck_assert_uint_le(sizes[f], 16);
		for (size_t k = 0; k < sizes[f]; k++) {
			recs[n++] = record(*next, ids[k], vals[k]);
			(*next)++;
			if (k == 0)   /* nothing records are not logged */
				recs[n++] = (db_record){ tu_idn("x", 1), NULL, 0, DB_NOTHING };
		}
		char err[DB_ERRMSG_MAX];
		int rc = wal_append(w, recs, n, err, sizeof err);
		ck_assert_msg(rc == 0, "append: %s", err);
		if (ends)
			ends[f] = wal_bytes(w);
	}
}

/* Reads generation gen and checks it holds records first..first+count-1
 * in order; chunk is the reader's max_bytes. */
static void expect_records(const char *dir, uint64_t gen, size_t first, size_t count,
                           size_t chunk)
{
	wal_reader *r;
	char err[DB_ERRMSG_MAX];
	ck_assert_int_eq(wal_reader_open(dir, gen, &r, err, sizeof err), 0);
	size_t seen = 0, n;
	const db_record *recs;
	for (;;) {
		int rc = wal_reader_next(r, chunk, &recs, &n, err, sizeof err);
		ck_assert_msg(rc == 0, "read: %s", err);
		if (n == 0)
			break;
		for (size_t k = 0; k < n; k++) {
			ck_assert_uint_lt(seen, count + 1);
			assert_record(&recs[k], first + seen);
			seen++;
		}
	}
	ck_assert_msg(seen == count, "generation %llu: %zu records read, %zu expected",
	              (unsigned long long)gen, seen, count);
	wal_reader_close(r);
}

START_TEST(test_roundtrip_chunks)
{
	char dir[128], err[DB_ERRMSG_MAX];
	sub(dir, sizeof dir, "roundtrip");
	wal *w;
	ck_assert_int_eq(wal_open(dir, 0, true, &w, err, sizeof err), 0);
	size_t sizes[40], next = 0, total = 0;
	for (size_t f = 0; f < 40; f++)
		total += sizes[f] = 1 + f % 16;
	append_frames(w, sizes, 40, &next, NULL);
	/* A batch of nothing records writes nothing and syncs nothing. */
	uint64_t syncs = wal_syncs(w), bytes = wal_bytes(w);
	db_record nothing = { tu_idn("x", 1), NULL, 0, DB_NOTHING };
	ck_assert_int_eq(wal_append(w, &nothing, 1, NULL, 0), 0);
	ck_assert_uint_eq(wal_syncs(w), syncs);
	ck_assert_uint_eq(wal_bytes(w), bytes);
	ck_assert_uint_eq(syncs, 40);
	/* Any chunk size yields every record once, in order: a chunk smaller
	 * than a frame still holds that one frame. */
	const size_t chunks[] = { 1, 300, 4096, 1 << 20 };
	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++)
		expect_records(dir, 0, 0, total, chunks[i]);
	/* Whole frames per chunk: with max_bytes 1 every chunk is one frame. */
	wal_reader *r;
	ck_assert_int_eq(wal_reader_open(dir, 0, &r, NULL, 0), 0);
	const db_record *recs;
	size_t n;
	for (size_t f = 0; f < 40; f++) {
		ck_assert_int_eq(wal_reader_next(r, 1, &recs, &n, NULL, 0), 0);
		ck_assert_uint_eq(n, sizes[f]);
	}
	ck_assert_int_eq(wal_reader_next(r, 1, &recs, &n, NULL, 0), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(wal_reader_frames(r), 40);
	ck_assert_uint_eq(wal_reader_offset(r), bytes);
	wal_reader_close(r);
	/* Generation 1 lives in the other file, empty so far. */
	expect_records(dir, 1, 0, 0, 4096);
	wal_close(w);
}
END_TEST

static void copy_prefix(const char *from, const char *to, size_t len, long flip)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	ck_assert(in && out);
	for (size_t i = 0; i < len; i++) {
		int ch = fgetc(in);
		ck_assert_int_ne(ch, EOF);
		if ((long)i == flip)
			ch ^= 0x10;
		fputc(ch, out);
	}
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
}

/* A crash tears the frame being written: cut or damaged anywhere, that
 * frame ends the generation and every frame before it reads whole. */
START_TEST(test_torn_tail)
{
	char dir[128], torn[128], err[DB_ERRMSG_MAX], path[256], tpath[256];
	sub(dir, sizeof dir, "torn");
	sub(torn, sizeof torn, "torn-copy");
	wal *w;
	ck_assert_int_eq(wal_open(dir, 0, true, &w, err, sizeof err), 0);
	size_t sizes[3] = { 2, 3, 2 }, next = 0;
	uint64_t ends[3];
	append_frames(w, sizes, 3, &next, ends);
	wal_close(w);
	ck_assert_int_eq(wal_path(dir, 0, path, sizeof path), 0);
	ck_assert_int_eq(wal_path(torn, 0, tpath, sizeof tpath), 0);
	for (uint64_t cut = ends[1]; cut < ends[2]; cut++) {
		copy_prefix(path, tpath, (size_t)cut, -1);
		expect_records(torn, 0, 0, 5, 1 << 20);
	}
	for (uint64_t at = ends[1]; at < ends[2]; at++) {
		copy_prefix(path, tpath, (size_t)ends[2], (long)at);
		expect_records(torn, 0, 0, 5, 1 << 20);
	}
	copy_prefix(path, tpath, (size_t)ends[2], -1);
	expect_records(torn, 0, 0, 7, 1 << 20);
}
END_TEST

/* A generation overwrites its file from offset 0; the older generation's
 * frames beyond its end are not part of it. */
START_TEST(test_stale_generation)
{
	char dir[128], err[DB_ERRMSG_MAX];
	sub(dir, sizeof dir, "stale");
	wal *w;
	ck_assert_int_eq(wal_open(dir, 0, true, &w, err, sizeof err), 0);
	size_t big[4] = { 16, 16, 16, 16 }, one[1] = { 1 }, next = 0;
	append_frames(w, big, 4, &next, NULL);          /* records 0..63, file 0 */
	wal_rotate(w);
	append_frames(w, one, 1, &next, NULL);          /* record 64, file 1 */
	wal_rotate(w);
	ck_assert_uint_eq(wal_gen(w), 2);
	ck_assert_uint_eq(wal_bytes(w), 0);
	append_frames(w, one, 1, &next, NULL);          /* record 65, file 0 again */
	wal_close(w);
	expect_records(dir, 2, 65, 1, 1 << 20);
	expect_records(dir, 1, 64, 1, 1 << 20);
	expect_records(dir, 0, 0, 0, 1 << 20);           /* overwritten at offset 0 */
	expect_records(dir, 3, 0, 0, 1 << 20);           /* file 1 holds generation 1 */
}
END_TEST

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes one frame of generation 0 with a correct CRC around payload. */
static void forge_frame(const char *dir, const uint8_t *payload, size_t len, uint32_t count)
{
	uint8_t h[WAL_FRAME_HEADER] = { 0 };
	put32(h, WAL_MAGIC);
	put32(h + 4, (uint32_t)len);
	put32(h + 16, count);
	uLong crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, h, WAL_FRAME_HEADER - 4);
	crc = crc32(crc, payload, (uInt)len);
	put32(h + 20, (uint32_t)crc);
	char path[256];
	ck_assert_int_eq(wal_path(dir, 0, path, sizeof path), 0);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(h, 1, sizeof h, f), sizeof h);
	ck_assert_uint_eq(fwrite(payload, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void expect_corrupt(const char *dir, const char *needle)
{
	wal_reader *r;
	char err[DB_ERRMSG_MAX] = "";
	ck_assert_int_eq(wal_reader_open(dir, 0, &r, err, sizeof err), 0);
	const db_record *recs;
	size_t n = 99;
	int rc = wal_reader_next(r, 1 << 20, &recs, &n, err, sizeof err);
	ck_assert_msg(rc == CARTD_EDATADIR, "rc %d (%s), expected EDATADIR", rc, err);
	ck_assert_msg(strstr(err, "wal-0") && strstr(err, needle),
	              "message '%s' lacks '%s'", err, needle);
	wal_reader_close(r);
}

/* A frame that passes its CRC was written whole: if it does not parse,
 * that is corruption, and reading says so instead of ending there. */
START_TEST(test_corrupt_frame)
{
	char dir[128];
	sub(dir, sizeof dir, "corrupt");
	/* kind 1, id "c1", value "v" */
	uint8_t good[] = { 1, 2, 1, 0, 0, 0, 'c', '1', 'v' };
	uint8_t p[64];

	memcpy(p, good, sizeof good);
	p[0] = 7;
	forge_frame(dir, p, sizeof good, 1);
	expect_corrupt(dir, "unknown kind");

	memcpy(p, good, sizeof good);
	p[6] = '/';
	forge_frame(dir, p, sizeof good, 1);
	expect_corrupt(dir, "invalid cart id");

	memcpy(p, good, sizeof good);
	p[2] = 0xff;   /* value length past the frame */
	forge_frame(dir, p, sizeof good, 1);
	expect_corrupt(dir, "ends inside a record");

	forge_frame(dir, good, sizeof good, 2);   /* claims two records */
	expect_corrupt(dir, "ends inside a record header");

	memcpy(p, good, sizeof good);
	p[sizeof good] = 0;
	forge_frame(dir, p, sizeof good + 1, 1);   /* a byte after the record */
	expect_corrupt(dir, "after its 1 records");

	/* The same frame, well formed, reads. */
	forge_frame(dir, good, sizeof good, 1);
	wal_reader *r;
	ck_assert_int_eq(wal_reader_open(dir, 0, &r, NULL, 0), 0);
	const db_record *recs;
	size_t n;
	ck_assert_int_eq(wal_reader_next(r, 1 << 20, &recs, &n, NULL, 0), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(recs[0].kind == DB_STATE && recs[0].id.len == 2 && recs[0].val_len == 1);
	wal_reader_close(r);
}
END_TEST

/* A frame of no records is never written, but it parses: the first frame
 * of a reader being one reads as the end, not as an allocation failure. */
START_TEST(test_empty_frame)
{
	char dir[128], err[DB_ERRMSG_MAX] = "";
	uint8_t none[1] = { 0 };   /* not NULL: crc32(c, NULL, 0) is not c */
	sub(dir, sizeof dir, "empty");
	forge_frame(dir, none, 0, 0);
	wal_reader *r;
	ck_assert_int_eq(wal_reader_open(dir, 0, &r, NULL, 0), 0);
	const db_record *recs;
	size_t n = 99;
	int rc = wal_reader_next(r, 1 << 20, &recs, &n, err, sizeof err);
	ck_assert_msg(rc == 0, "rc %d (%s)", rc, err);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(wal_reader_frames(r), 1);
	ck_assert_uint_eq(wal_reader_offset(r), WAL_FRAME_HEADER);
	wal_reader_close(r);
}
END_TEST

/* ---- acknowledged writes survive a kill ---- */

#define CRASH_CARTS 40
#define CRASH_OPS 4000

/* Operation i of the crash workload, the same in the child and the
 * parent: adds, sets and removes over a few skus of CRASH_CARTS carts. */
static void crash_op(size_t i, char *id, size_t *id_len, crdt_op *op)
{
	static const char *skus[] = { "apple", "pear", "fig", "kiwi-2", "plum" };
	*id_len = (size_t)snprintf(id, 32, "crash-%zu", (i * 13) % CRASH_CARTS);
	const char *sku = skus[(i / 3) % 5];
	*op = (crdt_op){ .kind = CRDT_OP_ADD, .sku = sku, .sku_len = strlen(sku),
	                 .qty = (uint32_t)(1 + i % 4) };
	if (i % 11 == 5)
		op->kind = CRDT_OP_SET;
	if (i % 17 == 3)
		op->kind = CRDT_OP_REMOVE;
}

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct acks {
	int fd;          /* the pipe to the parent */
	size_t n;
} acks;

static void on_ack(void *arg, uint64_t cookie, int rc)
{
	acks *a = arg;
	if (rc != 0 || cookie != a->n)
		_exit(3);    /* out of order or failed: the parent reports it */
	a->n++;
	uint32_t v = (uint32_t)a->n;
	if (write(a->fd, &v, sizeof v) != sizeof v)
		_exit(4);
}

/* The child: a peer's write path, as the loop runs it (apply, submit the
 * delta, acknowledge on completion), until it is killed or done.  Exits
 * without stopping the committer either way: nothing is folded for it. */
static void crash_child(const char *dir, int fd, uint64_t replica)
{
	db_options o;
	db_options_default(&o);
	o.dir = dir;
	db *d;
	if (db_open(&o, &d, NULL, NULL, 0) != 0)
		_exit(1);
	committer_options co;
	committer_options_default(&co);
	co.wal_rotate_bytes = 2048;   /* a checkpoint every few dozen writes */
	committer *c;
	crdt_store *s;
	if (committer_new(d, &co, &c, NULL, 0) != 0 || crdt_store_new(64, &s) != 0)
		_exit(1);
	acks a = { fd, 0 };
	crdt_cart delta;
	crdt_cart_init(&delta);
	for (size_t i = 0; i < CRASH_OPS; i++) {
		char id[32];
		size_t id_len;
		crdt_op op;
		crash_op(i, id, &id_len, &op);
		if (crdt_store_apply(s, id, id_len, replica, &op, &delta) != 0 ||
		    committer_submit_delta(c, TU_IDN(id, id_len), &delta, i) != 0)
			_exit(2);
		struct pollfd p = { .fd = committer_fd(c), .events = POLLIN };
		if (i % 8 == 7 && poll(&p, 1, WAIT_MS) > 0)
			committer_drain(c, on_ack, &a);
	}
	while (a.n < CRASH_OPS) {
		struct pollfd p = { .fd = committer_fd(c), .events = POLLIN };
		if (poll(&p, 1, WAIT_MS) <= 0)
			_exit(5);
		committer_drain(c, on_ack, &a);
	}
	_exit(0);
}

typedef struct covered {
	crdt_store *recovered;
	size_t changed;
} covered;

/* Joining an acknowledged cart into the recovered one must change
 * nothing: the recovered cart already holds it. */
static int check_covered(const crdt_item *it, void *arg)
{
	covered *cv = arg;
	bool changed = false;
	ck_assert_int_eq(crdt_store_join(cv->recovered, it->id, it->id_len, it->cart, &changed), 0);
	cv->changed += changed;
	return 0;
}

/* Runs the child until it has acknowledged `kill_at` writes (all of them
 * if 0), kills it, reopens the dir and checks every acknowledged write. */
static void crash_round(const char *dir, size_t kill_at)
{
	db *d;
	db_options o;
	db_options_default(&o);
	o.dir = dir;
	char err[DB_ERRMSG_MAX];
	ck_assert_msg(db_open(&o, &d, NULL, err, sizeof err) == 0, "open: %s", err);
	uint64_t replica = db_replica_id(d);
	db_close(d);

	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		crash_child(dir, fds[1], replica);
	}
	close(fds[1]);
	size_t acked = 0;
	int64_t deadline = ms_now() + 2 * WAIT_MS;
	while (kill_at == 0 || acked < kill_at) {
		uint32_t v;
		ssize_t k = read(fds[0], &v, sizeof v);
		if (k == 0)
			break;   /* the child finished */
		ck_assert_msg(k == sizeof v, "pipe read: %zd", k);
		acked = v;
		ck_assert_msg(ms_now() < deadline, "only %zu acks in time", acked);
	}
	if (kill_at)
		kill(pid, SIGKILL);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(fds[0]);
	ck_assert_msg(kill_at ? WIFSIGNALED(status) || WEXITSTATUS(status) == 0
	                      : WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "child status %d", status);

	/* What the acknowledged writes made, replayed here. */
	crdt_store *want, *got;
	ck_assert_int_eq(crdt_store_new(64, &want), 0);
	ck_assert_int_eq(crdt_store_new(64, &got), 0);
	for (size_t i = 0; i < acked; i++) {
		char id[32];
		size_t id_len;
		crdt_op op;
		crash_op(i, id, &id_len, &op);
		ck_assert_int_eq(crdt_store_apply(want, id, id_len, replica, &op, NULL), 0);
	}
	ck_assert_msg(db_open(&o, &d, NULL, err, sizeof err) == 0, "reopen: %s", err);
	ck_assert_msg(db_load_all(d, got, err, sizeof err) == 0, "load: %s", err);
	covered cv = { got, 0 };
	crdt_store_walk(want, check_covered, &cv);
	ck_assert_msg(cv.changed == 0,
	              "killed after %zu acks: %zu carts lack acknowledged writes (%zu recovered "
	              "from the log)", acked, cv.changed, db_recovered(d));
	if (kill_at == 0)
		ck_assert_uint_eq(acked, CRASH_OPS);
	db_close(d);
	crdt_store_free(want);
	crdt_store_free(got);
}

START_TEST(test_kill_keeps_acks)
{
	/* A fresh dir each round: the child starts from an empty store, so a
	 * dir with earlier rounds' carts would see its dots reused. */
	const size_t at[] = { 1, 57, 400, 1333, 2900, 0 };
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		char dir[128], name[32];
		snprintf(name, sizeof name, "kill-%zu", i);
		crash_round(sub(dir, sizeof dir, name), at[i]);
	}
}
END_TEST

Suite *wal_suite(void);

Suite *wal_suite(void)
{
	Suite *s = suite_create("wal");
	TCase *t = tcase_create("log");
	tcase_add_unchecked_fixture(t, base_setup, base_teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, test_roundtrip_chunks);
	tcase_add_test(t, test_torn_tail);
	tcase_add_test(t, test_stale_generation);
	tcase_add_test(t, test_corrupt_frame);
	tcase_add_test(t, test_empty_frame);
	tcase_add_test(t, test_kill_keeps_acks);
	suite_add_tcase(s, t);
	return s;
}
