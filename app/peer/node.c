/*
 * node.c - a cartd peer's lifecycle (node.h): assembling storage, keys, the
 * wire, the socket and the engine in that order, and taking them down again.
 *
 * Every step logs its own failure with the detail it has (the data dir's
 * message, the keyring file, the bind error), so node_new's caller only
 * needs the code.  node_free undoes any prefix of node_new.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <event2/event.h>

#include "app/shared/idem.h"
#include "app/shared/log.h"
#include "app/peer/node_internal.h"
#include "crdt/error.h"

void node_config_init(node_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->cluster = "cartd";
	cfg->gossip_addr = "127.0.0.1:7946";
	cfg->sync = true;
	cfg->max_datagram = WIRE_MAX_DATAGRAM_DEFAULT;
	cfg->nbuckets = CRDT_DEFAULT_BUCKETS;
	cfg->deflate_level = WIRE_DEFLATE_LEVEL_DEFAULT;
	cfg->max_pending = COMMITTER_DEFAULT_MAX_RECORDS;
	cfg->wal_size = COMMITTER_DEFAULT_WAL_ROTATE;
	cfg->udp_sockbuf = UDP_SOCKBUF_DEFAULT;
	cfg->idem_window_s = IDEM_WINDOW_DEFAULT_S;
	engine_config_init(&cfg->engine);
}

static int config_error(const char *what)
{
	log_event(LOG_ERROR, "config_error", "reason=\"%s\"", what);
	return CARTD_ECONFIG;
}

static int check_config(const node_config *c)
{
	if (!c->data_dir || !c->data_dir[0])
		return config_error("data dir missing");
	if (!c->key_file || !c->key_file[0])
		return config_error("key file missing");
	if (!c->gossip_addr || !c->cluster || (c->npeers && !c->peers))
		return config_error("gossip address, cluster name or peers missing");
	if (c->max_datagram <= WIRE_OVERHEAD || c->max_datagram > WIRE_MAX_DATAGRAM_LIMIT)
		return config_error("max datagram out of range");
	if (c->nbuckets < 1 || c->nbuckets > CRDT_MAX_BUCKETS)
		return config_error("bucket count out of range");
	if (c->deflate_level < 0 || c->deflate_level > 9 || c->max_pending < 1 ||
	    c->wal_size < 1)
		return config_error("deflate level or max pending out of range");
	if (c->idem_window_s < IDEM_WINDOW_MIN_S || c->idem_window_s > IDEM_WINDOW_MAX_S)
		return config_error("idempotency window out of range");
	return 0;
}

static int open_storage(node *n, const node_config *c)
{
	db_options o;
	db_options_default(&o);
	o.dir = c->data_dir;
	o.sync = c->sync;
	char err[DB_ERRMSG_MAX], q[DB_ERRMSG_MAX + 16];
	int rc = db_open(&o, &n->db, &n->epoch, err, sizeof err);
	if (rc) {
		log_event(LOG_ERROR, "datadir_error", "reason=%s", log_quote(err, q, sizeof q));
		return rc;
	}
	n->replica_id = db_replica_id(n->db);
	if (db_was_upgraded(n->db))
		log_event(LOG_INFO, "datadir_upgraded", "from=%s to=%s records=%zu",
		          db_upgraded_from(n->db), DB_LAYOUT, db_upgraded(n->db));
	if (db_recovered(n->db))
		log_event(LOG_INFO, "log_recovered", "records=%zu", db_recovered(n->db));
	/* A development keyring (one shared cluster-secret) gives each replica
	 * an identity of its own, derived from the replica id. */
	if (!wire_keyring_has_identity(n->ring) &&
	    (rc = wire_keyring_derive_identity(n->ring, n->replica_id)) != 0)
		return rc;
	n->self_id = wire_keyring_self_id(n->ring);
	if ((rc = crdt_store_new(c->nbuckets, &n->store)) != 0)
		return rc;
	if ((rc = db_load_all(n->db, n->store, err, sizeof err)) != 0) {
		log_event(LOG_ERROR, "datadir_error", "reason=%s", log_quote(err, q, sizeof q));
		return rc;
	}
	committer_options co;
	committer_options_default(&co);
	co.max_records = c->max_pending;
	co.wal_rotate_bytes = c->wal_size;
	n->max_pending = co.max_records;
	n->max_bytes = co.max_bytes;
	if ((rc = committer_new(n->db, &co, &n->com, err, sizeof err)) != 0)
		log_event(LOG_ERROR, "datadir_error", "reason=%s", log_quote(err, q, sizeof q));
	return rc;
}

static int open_wire(node *n, const node_config *c)
{
	wire_config wc;
	wire_config_init(&wc);
	wc.boot_epoch = n->epoch;
	randombytes_buf(wc.boot_nonce, sizeof wc.boot_nonce);
	wc.cluster_tag = wire_cluster_tag(c->cluster);
	wc.max_datagram = c->max_datagram;
	wc.deflate_level = c->deflate_level;
	return wire_new(&wc, n->ring, &n->w);
}

static int open_socket(node *n, const node_config *c)
{
	udp_options o = { c->gossip_addr, c->max_datagram, c->udp_sockbuf };
	char err[256], q[300];
	int rc = udp_open(&o, &n->udp, err, sizeof err);
	if (rc) {
		log_event(LOG_ERROR, "gossip_bind_failed", "reason=%s", log_quote(err, q, sizeof q));
		return rc;
	}
	udp_addr_format(udp_local_addr(n->udp), n->gossip, sizeof n->gossip);
	n->name = strdup(c->name ? c->name : n->gossip);
	return n->name ? 0 : CARTD_ENOMEM;
}

/* Resolves and adds every --peer; our own address is skipped. */
static int add_seeds(node *n, const node_config *c)
{
	const engine_addr *self = udp_local_addr(n->udp);
	for (size_t i = 0; i < c->npeers; i++) {
		engine_addr a;
		char err[256], q[300];
		int rc = udp_resolve(c->peers[i], udp_addr_family(self), &a, err, sizeof err);
		if (rc) {
			log_event(LOG_ERROR, "peer_invalid", "reason=%s", log_quote(err, q, sizeof q));
			return CARTD_ECONFIG;
		}
		if (a.len == self->len && memcmp(a.b, self->b, a.len) == 0)
			continue;
		/* An IPv4 socket cannot reach an IPv6 peer at all; the other way
		 * round works only from a wildcard [::] socket.  Say so now rather
		 * than leave a peer silently unreachable. */
		if (udp_addr_family(&a) != udp_addr_family(self)) {
			char as[UDP_ADDRSTR_MAX];
			log_event(LOG_WARN, "peer_family_mismatch", "peer=%s gossip=%s",
			          udp_addr_format(&a, as, sizeof as), n->gossip);
		}
		if ((rc = engine_add_seed(n->eng, &a, node_now_ms(n))) != 0)
			return rc;
	}
	return 0;
}

static int open_engine(node *n, const node_config *c)
{
	engine_config ec = c->engine;
	ec.self_id = n->self_id;
	ec.replica_id = n->replica_id;
	ec.boot_epoch = n->epoch;
	randombytes_buf(&ec.seed, sizeof ec.seed);
	engine_callbacks cb = { node_cb_send, node_cb_persist, node_cb_member, n };
	int rc = engine_new(&ec, n->store, n->w, &cb, &n->eng);
	if (rc)
		return rc == CARTD_EINVAL ? config_error("replication settings rejected") : rc;
	return add_seeds(n, c);
}

static int open_faults(node *n, const node_config *c)
{
	if (!c->fault_injection)
		return 0;
	n->faults = malloc(sizeof *n->faults);
	if (!n->faults)
		return CARTD_ENOMEM;
	uint64_t seed = c->fault_seed;
	while (seed == 0)
		randombytes_buf(&seed, sizeof seed);
	fault_init(n->faults, seed);
	log_event(LOG_WARN, "fault_injection_enabled", "seed=%llu", (unsigned long long)seed);
	return 0;
}

static void log_started(const node *n)
{
	char q[256];
	const udp_stats *us = udp_get_stats(n->udp);
	log_event(LOG_INFO, "node_started", "name=%s id=%016llx replica=%016llx epoch=%u "
	          "carts=%zu gossip=%s protocol=%u revoked=%zu rcvbuf=%d sndbuf=%d",
	          log_quote(n->name, q, sizeof q), (unsigned long long)n->self_id,
	          (unsigned long long)n->replica_id, n->epoch, crdt_store_count(n->store),
	          n->gossip, (unsigned)WIRE_VERSION, wire_keyring_revoked_count(n->ring),
	          us->rcvbuf, us->sndbuf);
}

int node_new(const node_config *cfg, struct event_base *base, node **out)
{
	if (!out)
		return CARTD_EINVAL;
	*out = NULL;
	if (!cfg || !base)
		return CARTD_EINVAL;
	int rc = check_config(cfg);
	if (rc)
		return rc;
	if (sodium_init() < 0)
		return CARTD_ECRYPTO;
	node *n = calloc(1, sizeof *n);
	if (!n)
		return CARTD_ENOMEM;
	n->base = base;
	n->idem_window_s = cfg->idem_window_s;
	n->key_file = strdup(cfg->key_file);
	/* Keys and socket first: a typo or a busy port then fails before the
	 * data dir is created or its boot epoch bumped. */
	rc = n->key_file ? node_read_keyring(cfg->key_file, &n->ring) : CARTD_ENOMEM;
	if (!rc)
		rc = open_socket(n, cfg);
	if (!rc)
		rc = open_storage(n, cfg);
	if (!rc)
		rc = open_wire(n, cfg);
	if (!rc)
		rc = open_engine(n, cfg);
	if (!rc)
		rc = open_faults(n, cfg);
	if (!rc)
		rc = node_commit_start(n);
	if (!rc)
		rc = node_io_start(n);
	if (rc) {
		char q[128];
		log_event(LOG_ERROR, "node_start_failed", "reason=%s",
		          log_quote(cartd_strerror(rc), q, sizeof q));
		node_free(n);
		return rc;
	}
	log_started(n);
	*out = n;
	return 0;
}

void node_shutdown(node *n)
{
	if (!n || n->closing)
		return;
	/* Last chance for what waits for room, while submitting still works. */
	node_commit_drain(n);
	node_retry_writes(n);
	node_persist_dirty(n);
	n->closing = true;
	size_t pending = n->inflight.n, unsubmitted = n->waiting.n;
	committer_stop(n->com);          /* blocks for the final sync */
	node_commit_drain(n);            /* answers them, queues their deltas */
	node_write_abort_all(n, true);   /* whatever never reached the disk */
	node_rearm(n);                   /* so the last deltas go out promptly */
	log_event(LOG_INFO, "node_shutdown", "committed=%zu refused=%zu unpersisted=%zu",
	          pending, unsubmitted, n->dirty.n);
}

void node_free(node *n)
{
	if (!n)
		return;
	n->closing = true;
	node_io_stop(n);
	node_commit_stop(n);
	node_fault_free(n);
	node_commit_discard(n);          /* commits what is queued, then stops */
	node_write_abort_all(n, false);
	node_write_free_spares(n);
	committer_free(n->com);
	engine_free(n->eng);
	udp_close(n->udp);
	wire_free(n->w);
	wire_keyring_free(n->ring);
	idset_destroy(&n->dirty);
	idfifo_destroy(&n->persisting);
	crdt_store_free(n->store);
	db_close(n->db);
	free(n->name);
	free(n->key_file);
	free(n);
}

int node_reload_keys(node *n)
{
	wire_keyring *ring;
	int rc = node_read_keyring(n->key_file, &ring);
	if (!rc && !wire_keyring_has_identity(ring))
		rc = wire_keyring_derive_identity(ring, n->replica_id);
	if (!rc)
		rc = engine_set_keyring(n->eng, ring);   /* the old ring is unused from here */
	if (rc) {
		if (rc == CARTD_EKEYRING && ring)
			log_event(LOG_ERROR, "keyring_error", "reason=\"the keyring holds another "
			          "identity; restart the peer to change its identity\"");
		wire_keyring_free(ring);
		return rc == CARTD_ENOMEM ? rc : CARTD_EKEYRING;
	}
	wire_keyring_free(n->ring);
	n->ring = ring;
	log_event(LOG_INFO, "keyring_loaded", "id=%016llx revoked=%zu tokens=%zu",
	          (unsigned long long)n->self_id, wire_keyring_revoked_count(ring),
	          wire_keyring_token_count(ring));
	return 0;
}

uint64_t node_self_id(const node *n) { return n->self_id; }
uint32_t node_boot_epoch(const node *n) { return n->epoch; }
const char *node_name(const node *n) { return n->name; }
const char *node_gossip_addr(const node *n) { return n->gossip; }
uint64_t node_idem_window_ms(const node *n) { return (uint64_t)n->idem_window_s * 1000u; }

void node_format_addr(const engine_addr *a, char *buf, size_t len)
{
	udp_addr_format(a, buf, len);
}
