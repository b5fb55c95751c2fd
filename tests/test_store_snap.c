/*
 * test_store_snap.c - store snapshots for the store's tests (see
 * test_store_snap.h).
 */
#include "tests/test_store_snap.h"

#include <check.h>
#include <stdint.h>

#include "crdt/codec.h"

struct snap {
	crdt_store *s;
	buf_writer *w;
};

static int snap_one(const crdt_item *it, void *arg)
{
	struct snap *sn = arg;
	buf_put_str(sn->w, it->id, it->id_len);
	buf_put_u64le(sn->w, crdt_store_digest(sn->s, it));
	crdt_encode_cart(sn->w, it->cart);
	return 0;
}

void test_store_snapshot(crdt_store *s, buf_writer *w)
{
	struct snap sn = { s, w };
	buf_writer_init(w);
	buf_put_u64le(w, crdt_store_count(s));
	buf_put_bytes(w, crdt_store_bucket_digests(s), crdt_store_nbuckets(s) * sizeof(uint64_t));
	ck_assert_int_eq(crdt_store_walk(s, snap_one, &sn), 0);
	ck_assert_int_eq(w->err, 0);
}
