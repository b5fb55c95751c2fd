/*
 * test_store_snap.h - everything observable of a store, as bytes, to prove
 * that a call changed nothing or that two stores are the same.
 */
#ifndef TESTS_TEST_STORE_SNAP_H
#define TESTS_TEST_STORE_SNAP_H

#include "crdt/buf.h"
#include "crdt/store.h"

/* *w := the cart count, the bucket digests, and each cart's id, digest and
 * encoding in walk order (which follows the bucket lists).  w is
 * initialised here; the caller destroys it.  Reads settle digests, which
 * changes nothing observable. */
void test_store_snapshot(crdt_store *s, buf_writer *w);

#endif
