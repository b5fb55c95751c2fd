/*
 * db.c - LMDB environment, replica identity, cart records and load.
 *
 * Opening is three steps, each undone on failure: prepare the directory
 * (create it, or make sure it is ours), take the data dir lock, open the
 * environment and run one write transaction that checks the layout, creates
 * or reads the identity and bumps the boot epoch; then fold what the log
 * holds (db_checkpoint.c).  Cart records (full states and deltas, see db.h)
 * are written by db_delta.c.
 */
#include "app/peer/db.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/peer/db_internal.h"
#include "crdt/cart.h"
#include "crdt/codec.h"
#include "crdt/error.h"

#define KEY_LAYOUT "layout"
#define KEY_REPLICA "replica"
#define KEY_EPOCH "epoch"

void db_set_err(db *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof d->err, fmt, ap);
	va_end(ap);
}

int db_give_err(db *d, int rc, char *err, size_t errlen)
{
	if (rc)
		cartd_errmsg(err, errlen, "%s", d->err[0] ? d->err : cartd_strerror(rc));
	d->err[0] = '\0';   /* a message never outlives the call that set it */
	return rc;
}

/* Every LMDB failure funnels through here so the text survives the code. */
int db_lmdb_fail(db *d, int mrc, const char *what)
{
	db_set_err(d, "%s: %s%s", what, mdb_strerror(mrc),
	        mrc == MDB_MAP_FULL ? " (raise the map size)" : "");
	return CARTD_ESTORAGE;
}


/* Creates path and its missing parents; new components get mode 0700. */
static int mkdir_p(db *d, const char *path)
{
	char tmp[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof tmp) {
		db_set_err(d, "data dir path empty or too long");
		return CARTD_EINVAL;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
			db_set_err(d, "cannot create %s: %s", tmp, strerror(errno));
			return CARTD_EDATADIR;
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

/* A dir without data.mdb must hold nothing but files we would create:
 * pointing --data-dir at $HOME by mistake must not litter it. */
static int check_foreign(db *d, const char *dir)
{
	DIR *dp = opendir(dir);
	if (!dp) {
		db_set_err(d, "cannot open data dir %s: %s", dir, strerror(errno));
		return CARTD_EDATADIR;
	}
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(dp)) != NULL) {
		const char *n = e->d_name;
		if (strcmp(n, ".") && strcmp(n, "..") && strcmp(n, "lock.mdb") &&
		    strcmp(n, DB_LOCK_FILE)) {
			db_set_err(d, "data dir %s is not empty and holds no cartd database "
			        "(found '%s')", dir, n);
			rc = CARTD_EDATADIR;
			break;
		}
	}
	closedir(dp);
	return rc;
}

static int prepare_dir(db *d, const char *dir)
{
	int rc = mkdir_p(d, dir);
	if (rc)
		return rc;
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		db_set_err(d, "data dir %s is not a directory", dir);
		return CARTD_EDATADIR;
	}
	char path[4200];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	if (access(path, F_OK) == 0)
		return 0;
	return check_foreign(d, dir);
}

/* LMDB happily opens one environment from two processes; two peers with one
 * replica id would reuse dots, so the dir is exclusively ours while open. */
static int take_lock(db *d, const char *dir)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, DB_LOCK_FILE);
	d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (d->lock_fd < 0) {
		db_set_err(d, "cannot open %s: %s", path, strerror(errno));
		return CARTD_EDATADIR;
	}
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		db_set_err(d, "data dir %s is in use by another cartd (%s)", dir,
		        e == EWOULDBLOCK ? "locked" : strerror(e));
		return CARTD_EDATADIR;
	}
	return 0;
}

static int open_env(db *d, const db_options *o)
{
	int mrc = mdb_env_create(&d->env);
	if (mrc)
		return db_lmdb_fail(d, mrc, "mdb_env_create");
	mrc = mdb_env_set_mapsize(d->env, o->map_size ? o->map_size : DB_DEFAULT_MAP_SIZE);
	if (!mrc)
		mrc = mdb_env_set_maxdbs(d->env, 2);
	if (mrc)
		return db_lmdb_fail(d, mrc, "mdb_env_set_mapsize/maxdbs");
	/* MDB_NOTLS: reader slots belong to transactions, not threads, so the
	 * thread that loads (the loop) and the committer thread that writes
	 * never leave a slot pinned to a thread. */
	unsigned flags = MDB_NOTLS | MDB_NOMETASYNC;   /* db_write_batch says why */
	if (!o->sync)
		flags |= MDB_NOSYNC;
	mrc = mdb_env_open(d->env, o->dir, flags, 0600);
	if (mrc == MDB_INVALID || mrc == MDB_VERSION_MISMATCH) {
		db_set_err(d, "data dir %s: data.mdb is not a usable LMDB file: %s",
		        o->dir, mdb_strerror(mrc));
		return CARTD_EDATADIR;
	}
	if (mrc)
		return db_lmdb_fail(d, mrc, "mdb_env_open");
	return 0;
}

/* The layout value comes from disk: print it without control bytes. */
static void printable(char *dst, size_t cap, const MDB_val *v)
{
	size_t n = v->mv_size < cap - 1 ? v->mv_size : cap - 1;
	const unsigned char *s = v->mv_data;
	for (size_t i = 0; i < n; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	dst[n] = '\0';
}

int db_get_meta(db *d, MDB_txn *txn, const char *key, MDB_val *out)
{
	MDB_val k = db_mval(key, strlen(key));
	int mrc = mdb_get(txn, d->meta, &k, out);
	if (mrc == MDB_NOTFOUND)
		return CARTD_ENOTFOUND;
	return mrc ? db_lmdb_fail(d, mrc, "reading meta") : 0;
}

int db_put_meta(db *d, MDB_txn *txn, const char *key, const void *p, size_t n)
{
	MDB_val k = db_mval(key, strlen(key)), v = db_mval(p, n);
	int mrc = mdb_put(txn, d->meta, &k, &v, 0);
	return mrc ? db_lmdb_fail(d, mrc, "writing meta") : 0;
}

/* Writes epoch to meta; shared by creation and every reopen. */
static int store_epoch(db *d, MDB_txn *txn, uint32_t epoch)
{
	uint8_t b[4];
	db_put_le(b, epoch, 4);
	d->epoch = epoch;
	return db_put_meta(d, txn, KEY_EPOCH, b, sizeof b);
}

static int create_identity(db *d, MDB_txn *txn)
{
	uint64_t id = 0;
	while (id == 0)   /* 0 means "no replica" on the wire and in dots */
		randombytes_buf(&id, sizeof id);
	uint8_t b[8];
	db_put_le(b, id, 8);
	int rc = db_put_meta(d, txn, KEY_LAYOUT, DB_LAYOUT, strlen(DB_LAYOUT));
	if (!rc)
		rc = db_put_meta(d, txn, KEY_REPLICA, b, sizeof b);
	if (!rc)
		rc = store_epoch(d, txn, 1);
	d->replica = id;
	d->created = true;
	return rc;
}

/* The cart id of a record key: all of it for a full state, the part
 * before the 0x00 for a delta (db.h).  0 or CARTD_EID. */
static int record_id(const MDB_val *k, size_t *len)
{
	const uint8_t *p = k->mv_data, *z = memchr(p, 0, k->mv_size);
	*len = z ? (size_t)(z - p) : k->mv_size;
	if (z && k->mv_size != *len + DB_DELTA_SUFFIX)
		return CARTD_EID;
	return crdt_check_id(k->mv_data, *len);
}

/* Rewrites every record (full states and deltas) of an older layout in
 * cart format 3: each is checked in its old format (version), then gets
 * the zero bytes of the sections it lacks (crdt/codec.h), and records the
 * new layout, all in the open transaction: the upgrade commits with the
 * epoch bump or not at all. */
static int upgrade_records(db *d, MDB_txn *txn, const char *dir, int version,
                           const char *from)
{
	const size_t pad = (size_t)(CRDT_CART_V3 - version) + 1;
	MDB_cursor *cur;
	int mrc = mdb_cursor_open(txn, d->carts, &cur);
	if (mrc)
		return db_lmdb_fail(d, mrc, "upgrading the data dir");
	MDB_val k, v;
	uint8_t *copy = NULL;
	size_t nrecords = 0;
	int rc = 0;
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == 0;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		crdt_cart c;
		crdt_cart_init(&c);
		size_t id_len;
		rc = record_id(&k, &id_len) ? CARTD_EID
		   : crdt_cart_from_bytes_version(v.mv_data, v.mv_size, version, &c);
		crdt_cart_destroy(&c);
		if (rc && rc != CARTD_ENOMEM) {
			db_set_err(d, "data dir %s: corrupt record (%zu bytes) while upgrading: %s",
			        dir, v.mv_size, cartd_strerror(rc));
			rc = CARTD_EDATADIR;
			break;
		}
		uint8_t *grown = rc ? NULL : realloc(copy, v.mv_size + pad);
		if (!grown) {
			rc = CARTD_ENOMEM;
			break;
		}
		copy = grown;
		memcpy(copy, v.mv_data, v.mv_size);
		memset(copy + v.mv_size, 0, pad);
		/* Key and value point into the page being rewritten: pass copies. */
		uint8_t key[CRDT_MAX_NAME + DB_DELTA_SUFFIX];
		memcpy(key, k.mv_data, k.mv_size);   /* a valid record key: it fits */
		MDB_val nk = db_mval(key, k.mv_size), nv = db_mval(copy, v.mv_size + pad);
		int prc = mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT);
		if (prc)
			rc = db_lmdb_fail(d, prc, "upgrading a cart record");
		nrecords++;
	}
	mdb_cursor_close(cur);
	free(copy);
	if (rc == 0 && mrc != MDB_NOTFOUND)
		rc = db_lmdb_fail(d, mrc, "upgrading the data dir");
	if (rc == 0)
		rc = db_put_meta(d, txn, KEY_LAYOUT, DB_LAYOUT, strlen(DB_LAYOUT));
	if (rc == 0) {
		d->upgraded = nrecords + 1;
		d->upgraded_from = from;
	}
	return rc;
}

static bool layout_is(const MDB_val *v, const char *name)
{
	return v->mv_size == strlen(name) && memcmp(v->mv_data, name, v->mv_size) == 0;
}

static int check_layout(db *d, MDB_txn *txn, const char *dir)
{
	MDB_val v;
	int rc = db_get_meta(d, txn, KEY_LAYOUT, &v);
	if (rc == CARTD_ENOTFOUND) {
		db_set_err(d, "data dir %s has no layout record; not a cartd data dir", dir);
		return CARTD_EDATADIR;
	}
	if (rc)
		return rc;
	if (layout_is(&v, DB_LAYOUT_V1))
		return upgrade_records(d, txn, dir, CRDT_CART_V1, DB_LAYOUT_V1);
	/* Layout 2 is layout 3 without deltas; both hold cart format 2. */
	if (layout_is(&v, DB_LAYOUT_V2))
		return upgrade_records(d, txn, dir, CRDT_CART_V2, DB_LAYOUT_V2);
	if (layout_is(&v, DB_LAYOUT_V3))
		return upgrade_records(d, txn, dir, CRDT_CART_V2, DB_LAYOUT_V3);
	/* Layout 4 is layout 5 without a log: its records stay as they are.
	 * The new name keeps an older cartd, which would not read the log,
	 * from opening the dir. */
	if (layout_is(&v, DB_LAYOUT_V4)) {
		rc = db_put_meta(d, txn, KEY_LAYOUT, DB_LAYOUT, strlen(DB_LAYOUT));
		if (!rc) {
			d->upgraded = 1;
			d->upgraded_from = DB_LAYOUT_V4;
		}
		return rc;
	}
	if (v.mv_size != strlen(DB_LAYOUT) || memcmp(v.mv_data, DB_LAYOUT, v.mv_size)) {
		char shown[64];
		printable(shown, sizeof shown, &v);
		db_set_err(d, "data dir %s has unknown layout '%s' (this cartd reads '%s')",
		        dir, shown, DB_LAYOUT);
		return CARTD_EDATADIR;
	}
	return 0;
}

static int read_identity(db *d, MDB_txn *txn, const char *dir)
{
	int rc = check_layout(d, txn, dir);
	if (rc)
		return rc;
	MDB_val id, ep;
	rc = db_get_meta(d, txn, KEY_REPLICA, &id);
	if (!rc)
		rc = db_get_meta(d, txn, KEY_EPOCH, &ep);
	if (rc == CARTD_ENOTFOUND || (!rc && (id.mv_size != 8 || ep.mv_size != 4))) {
		db_set_err(d, "data dir %s: identity record missing or malformed", dir);
		return CARTD_EDATADIR;
	}
	if (rc)
		return rc;
	d->replica = db_get_le(id.mv_data, 8);
	uint32_t epoch = (uint32_t)db_get_le(ep.mv_data, 4);
	if (d->replica == 0) {
		db_set_err(d, "data dir %s: replica id is 0", dir);
		return CARTD_EDATADIR;
	}
	if (epoch == UINT32_MAX) {
		/* Wrapping would repeat AEAD nonces: a new data dir is the way out. */
		db_set_err(d, "data dir %s: boot epoch exhausted; start from a new data dir", dir);
		return CARTD_EDATADIR;
	}
	rc = db_read_wal_gen(d, txn, dir);
	return rc ? rc : store_epoch(d, txn, epoch + 1);
}

int db_read_wal_gen(db *d, MDB_txn *txn, const char *dir)
{
	MDB_val v;
	int rc = db_get_meta(d, txn, DB_KEY_WAL_GEN, &v);
	if (rc == CARTD_ENOTFOUND) {
		d->wal_gen = 0;
		return 0;
	}
	if (!rc && v.mv_size != 8) {
		db_set_err(d, "data dir %s: log generation record malformed", dir);
		return CARTD_EDATADIR;
	}
	if (!rc)
		d->wal_gen = db_get_le(v.mv_data, 8);
	return rc;
}

/* Opens (or, in a fresh environment, creates) the named databases; a
 * pre-existing environment without them was made by something else. */
static int open_dbis(db *d, MDB_txn *txn, const char *dir, bool *fresh)
{
	MDB_dbi main_dbi;
	MDB_stat st;
	int mrc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
	if (!mrc)
		mrc = mdb_stat(txn, main_dbi, &st);
	if (mrc)
		return db_lmdb_fail(d, mrc, "opening main database");
	*fresh = st.ms_entries == 0;
	unsigned fl = *fresh ? MDB_CREATE : 0;
	mrc = mdb_dbi_open(txn, "meta", fl, &d->meta);
	if (!mrc)
		mrc = mdb_dbi_open(txn, "carts", fl, &d->carts);
	if (mrc == MDB_NOTFOUND || mrc == MDB_INCOMPATIBLE) {
		db_set_err(d, "data dir %s holds an LMDB environment not made by cartd (%s)",
		        dir, mdb_strerror(mrc));
		return CARTD_EDATADIR;
	}
	return mrc ? db_lmdb_fail(d, mrc, "opening meta/carts") : 0;
}

static int boot_txn(db *d, const char *dir)
{
	MDB_txn *txn;
	int mrc = mdb_txn_begin(d->env, NULL, 0, &txn);
	if (mrc)
		return db_lmdb_fail(d, mrc, "mdb_txn_begin");
	bool fresh;
	int rc = open_dbis(d, txn, dir, &fresh);
	if (!rc)
		rc = fresh ? create_identity(d, txn) : read_identity(d, txn, dir);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	mrc = mdb_txn_commit(txn);
	if (mrc)
		return db_lmdb_fail(d, mrc, "committing boot epoch");
	/* The epoch must be durable before anyone uses it, even with sync off;
	 * with sync on, the commit synced the data but not the meta page. */
	if ((mrc = mdb_env_sync(d->env, 1)) != 0)
		return db_lmdb_fail(d, mrc, "syncing boot epoch");
	return 0;
}

static int fsync_path(db *d, const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		db_set_err(d, "cannot sync directory %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return CARTD_ESTORAGE;
	}
	close(fd);
	return 0;
}

/* A new identity is durable only once the names leading to data.mdb are:
 * fdatasync on the file does not promise its directory entry, and a peer
 * that loses it would come back as a new replica with acknowledged writes
 * gone.  The dir and its parent cover the common case of one new level. */
static int sync_new_dir(db *d, const char *dir)
{
	char parent[4096];
	snprintf(parent, sizeof parent, "%s", dir);
	size_t n = strlen(parent);
	while (n > 1 && parent[n - 1] == '/')
		parent[--n] = '\0';
	char *slash = strrchr(parent, '/');
	if (!slash)
		snprintf(parent, sizeof parent, ".");
	else
		slash[slash == parent] = '\0';   /* keep "/" for a top-level dir */
	int rc = fsync_path(d, dir);
	return rc ? rc : fsync_path(d, parent);
}

void db_options_default(db_options *o)
{
	o->dir = NULL;
	o->map_size = DB_DEFAULT_MAP_SIZE;
	o->sync = true;
}

int db_open(const db_options *o, db **out, uint32_t *epoch, char *err, size_t errlen)
{
	*out = NULL;
	if (!o || !o->dir) {
		cartd_errmsg(err, errlen, "no data dir given");
		return CARTD_EINVAL;
	}
	if (sodium_init() < 0) {
		cartd_errmsg(err, errlen, "libsodium failed to initialise");
		return CARTD_ECRYPTO;
	}
	db *d = calloc(1, sizeof *d);
	if (!d) {
		cartd_errmsg(err, errlen, "out of memory opening %s", o->dir);
		return CARTD_ENOMEM;
	}
	d->lock_fd = -1;
	d->sync = o->sync;
	if (!(d->dir = strdup(o->dir))) {
		free(d);
		cartd_errmsg(err, errlen, "out of memory opening %s", o->dir);
		return CARTD_ENOMEM;
	}
	int rc = prepare_dir(d, o->dir);
	if (!rc)
		rc = take_lock(d, o->dir);
	if (!rc)
		rc = open_env(d, o);
	if (!rc)
		rc = boot_txn(d, o->dir);
	if (!rc && d->created)
		rc = sync_new_dir(d, o->dir);
	if (!rc)
		rc = db_recover(d);
	if (rc) {
		db_give_err(d, rc, err, errlen);
		db_close(d);
		return rc;
	}
	if (epoch)
		*epoch = d->epoch;
	*out = d;
	return 0;
}

void db_close(db *d)
{
	if (!d)
		return;
	if (d->env)
		mdb_env_close(d->env);
	if (d->lock_fd >= 0)
		close(d->lock_fd);   /* releases the flock */
	free(d->dir);
	free(d);
}

uint64_t db_replica_id(const db *d) { return d->replica; }
uint32_t db_epoch(const db *d) { return d->epoch; }
bool db_created(const db *d) { return d->created; }

size_t db_upgraded(const db *d) { return d->upgraded ? d->upgraded - 1 : 0; }
bool db_was_upgraded(const db *d) { return d->upgraded != 0; }
const char *db_upgraded_from(const db *d) { return d->upgraded_from ? d->upgraded_from : ""; }
const char *db_dir(const db *d) { return d->dir; }
bool db_sync_enabled(const db *d) { return d->sync; }
uint64_t db_wal_gen(const db *d) { return d->wal_gen; }
size_t db_recovered(const db *d) { return d->recovered; }

/* Decodes one record and joins it; names the cart in the error. */
static int load_one(db *d, crdt_store *store, const MDB_val *k, const MDB_val *v,
                    crdt_cart *cart)
{
	const char *id = k->mv_data;
	size_t len = db_key_id_len(k);
	int id_len = (int)len;
	crdt_id key;
	if (crdt_id_make(&key, id, len) != 0) {
		char shown[CRDT_MAX_NAME + 1];
		printable(shown, sizeof shown, k);
		db_set_err(d, "corrupt record: key '%s' (%zu bytes) is not a valid cart id",
		        shown, k->mv_size);
		return CARTD_EDATADIR;
	}
	int rc = crdt_cart_from_bytes(v->mv_data, v->mv_size, cart);   /* format 3 */
	if (rc == CARTD_ENOMEM)
		return rc;
	if (rc) {
		db_set_err(d, "corrupt record for cart '%.*s' (%zu bytes): %s",
		        id_len, id, v->mv_size, cartd_strerror(rc));
		return CARTD_EDATADIR;
	}
	rc = crdt_store_join_id(store, &key, cart, NULL);
	if (rc)
		db_set_err(d, "loading cart '%.*s': %s", id_len, id, cartd_strerror(rc));
	return rc;
}

static int load_all(db *d, crdt_store *store)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	int mrc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn);
	if (mrc)
		return db_lmdb_fail(d, mrc, "mdb_txn_begin (read)");
	mrc = mdb_cursor_open(txn, d->carts, &cur);
	if (mrc) {
		mdb_txn_abort(txn);
		return db_lmdb_fail(d, mrc, "mdb_cursor_open");
	}
	crdt_cart cart;
	crdt_cart_init(&cart);
	int rc = 0;
	MDB_val k, v;
	/* Values are decoded straight out of the map: no copy per record. */
	while (!rc && (mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0)
		rc = load_one(d, store, &k, &v, &cart);
	if (!rc && mrc != MDB_NOTFOUND)
		rc = db_lmdb_fail(d, mrc, "mdb_cursor_get");
	crdt_cart_destroy(&cart);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

static int count(db *d, size_t *out)
{
	*out = 0;
	MDB_txn *txn;
	MDB_stat st;
	int mrc = mdb_txn_begin(d->env, NULL, MDB_RDONLY, &txn);
	if (mrc)
		return db_lmdb_fail(d, mrc, "mdb_txn_begin (read)");
	mrc = mdb_stat(txn, d->carts, &st);
	mdb_txn_abort(txn);
	if (mrc)
		return db_lmdb_fail(d, mrc, "mdb_stat");
	*out = st.ms_entries;
	return 0;
}

int db_load_all(db *d, crdt_store *store, char *err, size_t errlen)
{
	return db_give_err(d, load_all(d, store), err, errlen);
}

int db_count(db *d, size_t *out, char *err, size_t errlen)
{
	return db_give_err(d, count(d, out), err, errlen);
}
