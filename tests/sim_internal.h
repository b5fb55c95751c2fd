/*
 * sim_internal.h - the simulator's state, shared by its files: sim.c (the
 * event loop and the public driving calls), sim_net.c (the virtual
 * network), sim_peer.c (boot, crash, writes, persistence), sim_plan.c
 * (parameters and fault plans from a seed), sim_write.c, sim_keyed.c and
 * sim_close.c (the clients), sim_oracle*.c (what they were told) and
 * sim_check.c and sim_marks.c (the verdict).  Not for the tests
 * themselves: they use sim.h (check_sim.c also tests the oracle).
 */
#ifndef TESTS_SIM_INTERNAL_H
#define TESTS_SIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/store.h"
#include "net/engine.h"
#include "net/keyring.h"
#include "net/wire.h"
#include "tests/sim.h"
#include "tests/sim_disk.h"
#include "tests/sim_heap.h"
#include "tests/sim_oracle.h"
#include "tests/sim_rng.h"

typedef struct sim_peer {
	struct sim *sim;          /* back pointer for the engine callbacks */
	unsigned idx;
	uint64_t id;              /* replica id, kept across restarts */
	bool up;
	uint32_t gen;             /* lives so far: events of a past life are void */
	crdt_store *store;
	wire_keyring *ring;       /* the shared keyring, with this peer's identity */
	wire *w;
	engine *e;
	uint64_t tick_at;         /* queued engine timer, UINT64_MAX: none */
	uint64_t last_commit;     /* commits complete in order, like a log */
	unsigned pending;         /* local writes not yet durable */
	unsigned side;            /* partition side mask */
	sim_disk disk;
	unsigned seeds[3];
	unsigned nseeds;
	unsigned hops;            /* watched cart: relay chain length, or ~0u */
} sim_peer;

/* One planned fault; SIM_EV_FAULT events name them by index. */
enum sim_fault_op { SIM_OP_CUT, SIM_OP_MEND, SIM_OP_CRASH, SIM_OP_RESTART };
#define SIM_BUSIEST 0xFFFFu   /* CRASH: the peer with most pending writes */
typedef struct sim_fault {
	uint8_t op;               /* enum sim_fault_op */
	uint8_t shape;            /* CUT: SIM_FAULT_ISOLATE/HALVES/BRIDGE */
	uint16_t peer;            /* CRASH/RESTART, or SIM_BUSIEST */
	uint32_t down_ms;         /* CRASH: time until the restart */
} sim_fault;

struct sim {
	sim_params p;
	sim_rng rng;              /* network and client decisions */
	uint64_t now;
	sim_heap q;
	sim_peer *peer;
	unsigned n;
	const char *ring_text;    /* the development keyring every peer parses */
	uint32_t cluster_tag;
	unsigned loss_pct, dup_pct;
	sim_fault *faults;
	size_t nfaults, faults_cap;
	sim_oracle oracle;
	sim_stats st;
	char **cart_ids;          /* p.ncarts names the clients write to */
	crdt_ctx *kept;           /* per cart: a token read earlier, kept for later */
	unsigned commit_crashes;  /* of p.commit_crashes, made so far */
	sim_report during;        /* problems seen while running (sim_check adds them) */
	char during_buf[4096];
	char *watch;              /* sim_watch, or NULL */
	unsigned watch_reached;
	unsigned watch_hops;
	uint64_t watch_last;
};

/* A local write waiting for its commit (SIM_EV_COMMIT data). */
typedef struct sim_commit {
	crdt_cart delta;
	uint64_t id_hash;           /* the cart id, kept as a host keeps it */
	size_t id_len;
	char id[CRDT_MAX_NAME + 1];
} sim_commit;

/* sim.c */
int sim_schedule(sim *s, const sim_event *ev);
/* Queues the engine's next timer for p (after any call into the engine). */
void sim_arm(sim *s, sim_peer *p);

/* sim_net.c */
void sim_net_send(void *arg, const engine_addr *to, const uint8_t *dgram, size_t len);
void sim_net_deliver(sim *s, const sim_event *ev);
void sim_net_cut(sim *s, enum sim_fault_kind shape);
engine_addr sim_addr(unsigned idx);

/* sim_peer.c */
int sim_peer_boot(sim *s, sim_peer *p);
void sim_peer_crash(sim *s, sim_peer *p);
void sim_peer_persist(void *arg, const crdt_id *id, const crdt_cart *delta, const uint8_t *enc,
                      size_t enc_len);
void sim_peer_persisted(sim *s, const sim_event *ev);
/* Writes the current state of cart id at p to p's disk. */
void sim_peer_write_disk(sim *s, sim_peer *p, const char *id, size_t len);
/* An impossible failure (allocation, a broken contract): abort loudly
 * rather than let the run silently differ from its seed. */
void sim_die(const char *what, int rc) __attribute__((noreturn));

/* sim_write.c.  The arg of a SIM_EV_WRITE says what the client sends:
 *   0                  a random write at a random peer;
 *   SIM_HOT            an add to the hot cart at a random peer;
 *   SIM_RETRY | cart   a client retrying a lost write at ev->peer (same life);
 *   SIM_AT | cart      a random write to cart at ev->peer;
 *   SIM_KEYED | req    an attempt of request req at ev->peer (SIM_ANY_PEER:
 *                      a random one), sim_keyed.c;
 *   SIM_TOKREM | req   a remove at ev->peer under the token request req's
 *                      client read after its first attempt, sim_keyed.c;
 *   SIM_CLOSE | cart   a checkout at ev->peer or SIM_ANY_PEER, sim_close.c. */
#define SIM_RETRY 0x80000000u
#define SIM_HOT 0x40000000u
#define SIM_KEYED 0x20000000u
#define SIM_TOKREM 0x10000000u
#define SIM_CLOSE 0x08000000u
#define SIM_AT 0x04000000u
#define SIM_INDEX 0x00FFFFFFu
#define SIM_ANY_PEER 0xFFFFu
/* Plans retries at p, just restarted, of its last lost writes. */
void sim_plan_retries(sim *s, sim_peer *p);
void sim_peer_commit(sim *s, const sim_event *ev);
void sim_peer_client_write(sim *s, const sim_event *ev);
void sim_free_commit(void *commit);
/* A client's write to cart id at p, through engine_local_write, with the
 * closed-cart rules checked and the write recorded (as an attempt of
 * request req, or SIM_NO_OP) and committed later.  *op_no: the oracle's
 * number of the write, SIM_NO_OP if refused.  0 or the refusal. */
int sim_client_apply(sim *s, sim_peer *p, const char *id, size_t len, const crdt_op *op,
                     uint32_t req, uint32_t *op_no);
/* A random live peer, or s->n when none is up. */
unsigned sim_pick_up(sim *s);
/* The token peer pi hands out for cart (engine_token_ctx); out replaced. */
void sim_token_at(sim *s, unsigned pi, unsigned cart, crdt_ctx *out);
/* The peer's wall clock (the virtual time, skewed per peer). */
uint64_t sim_clock(const sim *s, unsigned pi);

/* sim_keyed.c: keyed requests.  start: a new request for op on cart, its
 * first attempt at peer pi (op's observed is copied); keyed false only for
 * checkouts.  The rest handle their events and the commit of an attempt. */
void sim_keyed_start(sim *s, unsigned pi, uint32_t cart, const crdt_op *op, bool keyed,
                     uint8_t flags);
void sim_keyed_attempt(sim *s, const sim_event *ev);
void sim_keyed_tokrem(sim *s, const sim_event *ev);
void sim_keyed_committed(sim *s, sim_peer *p, uint32_t op);
void sim_keyed_answer(sim *s, const sim_event *ev);
void sim_keyed_timeout(sim *s, const sim_event *ev);

/* sim_close.c: checkouts.  plan: random ones over the schedule; cut: one
 * during the partition just made, writes on the other side; start: the
 * SIM_CLOSE event; applied: a checkout write just applied at p (checks its
 * order, records it). */
void sim_close_plan(sim *s);
void sim_close_cut(sim *s);
void sim_close_start(sim *s, const sim_event *ev);
void sim_close_applied(sim *s, const sim_peer *p, uint32_t cart, const crdt_op *op,
                       const crdt_cart *delta, uint32_t op_no);

/* sim_marks.c: the verdict on keyed requests and checkouts, into r, and
 * the hot cart's exact sums.  view_equals: are the lines view[0..vn)
 * exactly the entries of src[0..n) that keep accepts (arg passed on),
 * line by line in order?  *count receives how many src entries it kept. */
void sim_marks_check(sim *s, sim_report *r);
void sim_check_hot(sim *s, unsigned cart, const crdt_cart *c, sim_report *r);
typedef bool (*sim_keep_fn)(const void *arg, const crdt_line *l, const crdt_entry *e);
bool sim_view_equals(const crdt_line *view, uint32_t vn, const crdt_line *src, uint32_t n,
                     sim_keep_fn keep, const void *arg, uint64_t *count);

/* sim_net.c: queues a datagram the insider forged or replayed, as if sent
 * by peer `from` (its refusal is not a problem). */
void sim_net_inject(sim *s, unsigned from, unsigned to, const uint8_t *d, size_t len);

/* sim_insider.c: the Byzantine last peer sees a datagram from p to dst and
 * may attack with it; and the verdict on what honest peers did. */
void sim_insider_saw(sim *s, const sim_peer *p, unsigned dst, const uint8_t *d, size_t len);
void sim_insider_check(sim *s, sim_report *r);

/* sim_check.c: the final verdict into r (sim_oracle.h lists the rules). */
void sim_check(sim *s, sim_report *r);

/* sim_plan.c */
int sim_plan(sim *s);
void sim_fault_run(sim *s, const sim_event *ev);
/* Crashes peer now (after what is running), for down_ms. */
void sim_plan_crash(sim *s, unsigned peer, uint32_t down_ms);
void sim_heal(sim *s);

#endif
