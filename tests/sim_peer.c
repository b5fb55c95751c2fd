/*
 * sim_peer.c - a simulated peer's life: boot from its disk, crash, client
 * writes with cartd's durability rule, and persistence.
 *
 * A local write goes as in app/peer/node.h, through the same engine_local_write
 * (mark the cart, then apply to the store), durable after a commit delay (the cart's current encoding is written to
 * disk then; commits complete in order, like a log), then
 * engine_write_done with the delta, and only then is it acknowledged.  A
 * crash in between loses it, unless a persist of a replicated change to the
 * same cart wrote it to disk first (the oracle settles that).
 *
 * A replicated change is persisted as cartd persists it: the delta that
 * made it, joined into what the disk holds (after a delay), so the disk
 * only ever moves forward.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crdt/codec.h"
#include "crdt/error.h"
#include "tests/sim_internal.h"

void sim_die(const char *what, int rc)
{
	fprintf(stderr, "sim: %s: %s\n", what, cartd_strerror(rc));
	abort();
}

static int make_wire(sim *s, sim_peer *p)
{
	int rc = wire_keyring_parse(s->ring_text, strlen(s->ring_text), &p->ring, NULL, 0);
	if (rc == 0)
		rc = wire_keyring_derive_identity(p->ring, p->id);
	if (rc)
		return rc;
	wire_config wc;
	wire_config_init(&wc);
	wc.boot_epoch = p->disk.epoch;
	/* a boot nonce that differs per boot, from the run's seed */
	uint64_t x = s->p.seed ^ p->id ^ ((uint64_t)p->disk.epoch << 40);
	for (int i = 0; i < 2; i++) {
		uint64_t r = sim_mix(&x);
		memcpy(wc.boot_nonce + 8 * i, &r, 8);
	}
	wc.cluster_tag = s->cluster_tag;
	if (s->p.max_datagram)
		wc.max_datagram = s->p.max_datagram;
	if (s->n > wc.max_peers)
		wc.max_peers = s->n;
	return wire_new(&wc, p->ring, &p->w);
}

static int make_engine(sim *s, sim_peer *p)
{
	engine_config ec;
	engine_config_init(&ec);
	ec.self_id = wire_self_id(p->w);
	ec.replica_id = p->id;
	ec.boot_epoch = p->disk.epoch;
	uint64_t x = s->p.seed ^ p->id ^ ((uint64_t)p->disk.epoch << 48);
	ec.seed = sim_mix(&x);
	if (s->p.full_push_max)
		ec.full_push_max = s->p.full_push_max;
	if (s->p.fanout)
		ec.fanout = s->p.fanout;
	engine_callbacks cb = { .send = sim_net_send, .persist = sim_peer_persist,
	                        .member_event = NULL, .arg = p };
	return engine_new(&ec, p->store, p->w, &cb, &p->e);
}

int sim_peer_boot(sim *s, sim_peer *p)
{
	p->disk.epoch++;          /* written before anything else happens */
	uint32_t nb = s->p.nbuckets ? s->p.nbuckets : CRDT_DEFAULT_BUCKETS;
	int rc = crdt_store_new(nb, &p->store);
	if (rc == 0)
		rc = sim_disk_load(&p->disk, p->store);
	if (rc == 0)
		rc = make_wire(s, p);
	if (rc == 0)
		rc = make_engine(s, p);
	for (unsigned i = 0; i < p->nseeds && rc == 0; i++) {
		engine_addr a = sim_addr(p->seeds[i]);
		rc = engine_add_seed(p->e, &a, s->now);
	}
	if (rc)
		return rc;
	p->up = true;
	p->tick_at = UINT64_MAX;
	p->last_commit = s->now;
	if (p->disk.epoch > 1)
		s->st.restarts++;
	sim_arm(s, p);
	return 0;
}

void sim_peer_crash(sim *s, sim_peer *p)
{
	if (!p->up)
		return;
	int rc = sim_oracle_crashed(&s->oracle, p->idx, &p->disk, s->cart_ids);
	if (rc)
		sim_die("settling writes on crash", rc);
	engine_free(p->e);
	wire_free(p->w);
	wire_keyring_free(p->ring);
	crdt_store_free(p->store);
	p->e = NULL;
	p->w = NULL;
	p->ring = NULL;
	p->store = NULL;
	p->up = false;
	p->gen++;                 /* voids its queued timers, commits, persists */
	p->pending = 0;
	p->tick_at = UINT64_MAX;
	s->st.crashes++;
}

void sim_peer_write_disk(sim *s, sim_peer *p, const char *id, size_t len)
{
	crdt_item it;
	if (s->p.no_disk || crdt_store_get(p->store, id, len, &it) != 0)
		return;
	int rc = sim_disk_put(&p->disk, id, len, it.cart);
	if (rc)
		sim_die("disk write", rc);
	s->st.disk_writes++;
}

/* Joins delta into what the disk holds for cart id, as cartd's log and
 * LMDB do with a replicated change (app/peer/node_commit.c). */
static void join_disk(sim *s, sim_peer *p, const char *id, size_t len, const crdt_cart *delta)
{
	crdt_cart c;
	crdt_cart_init(&c);
	int rc = sim_disk_read(&p->disk, id, len, &c);
	if (rc == 0)
		rc = crdt_cart_join(&c, delta, NULL);
	if (rc == 0)
		rc = sim_disk_put(&p->disk, id, len, &c);
	crdt_cart_destroy(&c);
	if (rc)
		sim_die("disk join", rc);
	s->st.disk_writes++;
}

/* The delta waits persist_ms at most, encoded after the id in the event. */
void sim_peer_persist(void *arg, const crdt_id *cid, const crdt_cart *delta, const uint8_t *enc,
                      size_t enc_len)
{
	(void)enc;   /* the simulated disk keeps carts, not log records */
	(void)enc_len;
	const char *id = cid->s;
	size_t id_len = cid->len;
	sim_peer *p = arg;
	sim *s = p->sim;
	if (s->p.no_disk)
		return;
	uint64_t delay = sim_below(&s->rng, (uint64_t)s->p.persist_ms + 1);
	if (delay == 0) {
		join_disk(s, p, id, id_len, delta);
		return;
	}
	buf_writer w;
	buf_writer_init(&w);
	buf_put_bytes(&w, id, id_len);
	crdt_encode_cart(&w, delta);
	if (w.err)
		sim_die("persist", CARTD_ENOMEM);
	sim_event ev = { .at = s->now + delay, .kind = SIM_EV_PERSIST,
	                 .peer = (uint16_t)p->idx, .gen = p->gen,
	                 .len = (uint32_t)id_len, .arg = (uint32_t)(w.len - id_len),
	                 .data = w.data };
	sim_schedule(s, &ev);
}

void sim_peer_persisted(sim *s, const sim_event *ev)
{
	sim_peer *p = &s->peer[ev->peer];
	if (!p->up || ev->gen != p->gen)
		return;
	const char *bytes = ev->data;
	crdt_cart delta;
	crdt_cart_init(&delta);
	int rc = crdt_cart_from_bytes(bytes + ev->len, ev->arg, &delta);
	if (rc)
		sim_die("persist decode", rc);
	join_disk(s, p, bytes, ev->len, &delta);
	crdt_cart_destroy(&delta);
}

void sim_free_commit(void *commit)
{
	sim_commit *c = commit;
	if (c)
		crdt_cart_destroy(&c->delta);
	free(c);
}
