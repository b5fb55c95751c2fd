/*
 * sim_disk.h - a simulated peer's disk: what survives a crash.
 *
 * It holds the peer's boot epoch and, per cart id, the canonical encoding
 * of the cart as last written.  Writes replace a cart's bytes whole, like
 * one LMDB put, so a crash never leaves a half-written cart.  A restart
 * rebuilds the store from these bytes alone (crdt_cart_from_bytes and
 * crdt_store_join), exactly what cartd does from LMDB once db_open has
 * folded the write-ahead log into it (the log itself is tested by
 * check_wal, with real processes killed).
 *
 * Lookups are linear: simulated schedules use a handful of carts, and the
 * scale benchmark, which has no crashes, does not keep a disk.
 */
#ifndef TESTS_SIM_DISK_H
#define TESTS_SIM_DISK_H

#include <stddef.h>
#include <stdint.h>

#include "crdt/cart.h"
#include "crdt/store.h"

typedef struct sim_disk_rec {
	char *id;            /* NUL-terminated */
	size_t id_len;
	uint8_t *bytes;      /* crdt_encode_cart output */
	size_t len;
} sim_disk_rec;

typedef struct sim_disk {
	sim_disk_rec *rec;
	size_t n, cap;
	uint32_t epoch;      /* boot epoch of the last boot (0: never booted) */
	uint64_t writes;
} sim_disk;

void sim_disk_init(sim_disk *d);
void sim_disk_destroy(sim_disk *d);
/* Stores the encoding of c under id, replacing what was there.
 * 0 or CARTD_ENOMEM (the old bytes are kept). */
int sim_disk_put(sim_disk *d, const char *id, size_t id_len, const crdt_cart *c);
/* The record of id, or NULL. */
const sim_disk_rec *sim_disk_get(const sim_disk *d, const char *id, size_t id_len);
/* Decodes the record of id into out (initialised; replaced; empty when
 * there is no record).  0 or the decoder's error. */
int sim_disk_read(const sim_disk *d, const char *id, size_t id_len, crdt_cart *out);
/* Joins every stored cart into s.  0 or the first error. */
int sim_disk_load(const sim_disk *d, crdt_store *s);

#endif
