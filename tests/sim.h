/*
 * sim.h - the deterministic simulator: N complete peers (store, wire,
 * engine) over a virtual network, all driven by one 64-bit seed.
 *
 * Virtual time is in milliseconds.  A priority queue holds every future
 * event: datagram deliveries, engine timers, client writes, commits of
 * local writes, delayed persists and faults.  The network loses,
 * duplicates, delays and reorders datagrams and can be partitioned (one
 * peer isolated, random halves, halves joined by a bridge peer); peers
 * crash, losing everything not on their simulated disk, and restart from
 * it with the next boot epoch.
 *
 * A schedule (sim_run_schedule) is: random writes and faults for
 * active_ms, then heal (no more faults, every peer up), run until every
 * peer's bucket digests agree or settle_ms passes, check that they stay
 * put, then the oracle (sim_oracle.h): identical digests and byte-identical
 * carts everywhere, every acknowledged add present unless an observed
 * remove, set or clear covered it, and nothing removed or lost back.
 * Some writes carry an idempotency key and are retried with it, and some
 * carts are checked out (sim_keyed.c, sim_close.c); the oracle judges
 * those answers as they are given and the orders and late items after
 * convergence (sim_marks.c).
 *
 * Replay: sim_params_from_seed() derives every parameter from the seed, so
 * a failing seed printed by a test reruns alone (tests/check_sim.c).
 *
 * Nothing here uses Check, so bench/bench_sim.c drives the same code.
 */
#ifndef TESTS_SIM_H
#define TESTS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/store.h"

#define SIM_MAX_PEERS 4096u
#define SIM_REPORT_MAX 8192u
#define SIM_STRAGGLE_MS 10000u

/* What a schedule does to the cluster besides loss, duplication and
 * reordering, which every schedule has. */
enum sim_fault_kind {
	SIM_FAULT_NET,        /* only the lossy network */
	SIM_FAULT_ISOLATE,    /* one peer cut off at a time */
	SIM_FAULT_HALVES,     /* random halves */
	SIM_FAULT_BRIDGE,     /* halves plus one peer that reaches both */
	SIM_FAULT_CRASH,      /* crashes and restarts from disk */
	SIM_FAULT_MIXED,      /* partitions of every kind and crashes */
	SIM_FAULT_KINDS
};

typedef struct sim_params {
	uint64_t seed;
	enum sim_fault_kind kind;
	unsigned npeers;          /* 2..SIM_MAX_PEERS */
	unsigned ncarts;          /* carts the clients write to */
	unsigned nskus;           /* sku alphabet per cart */
	unsigned add_pct;         /* share of random writes that are adds */
	unsigned max_add;         /* largest quantity an add adds */
	unsigned writes;          /* client writes during the active phase */
	uint64_t active_ms;       /* writes and faults happen in [0, active_ms) */
	uint64_t settle_ms;       /* convergence deadline after the heal */
	unsigned loss_pct;        /* 0..50 during the active phase */
	unsigned dup_pct;
	unsigned delay_ms;        /* base one-way delay */
	unsigned jitter_ms;       /* extra random delay: reordering */
	unsigned straggle_pct;    /* datagrams held up to SIM_STRAGGLE_MS more: stale
	                           * copies arriving long after newer ones */
	unsigned commit_ms;       /* max delay before a local write is durable */
	unsigned persist_ms;      /* max delay of a replicated cart's persist */
	unsigned nfaults;         /* partition windows */
	unsigned ncrashes;        /* crashes (besides a possible crash of all) */
	uint32_t full_push_max;   /* engine config (0: engine default) */
	uint32_t fanout;
	size_t max_datagram;      /* wire config (0: wire default) */
	uint32_t nbuckets;        /* store buckets, same on every peer (0: default) */
	bool no_disk;             /* bench: no persistence (no crashes allowed) */
	unsigned max_seeds;       /* seeds per peer: 1..max_seeds (default 3) */
	unsigned hot_skus;        /* 0, or skus h0.. of the hot cart (the last one),
	                           * which gets adds only, at every peer */
	unsigned hot_writes;      /* adds to the hot cart, besides writes */
	unsigned token_keep_pct;  /* removes and clears with a token that use one
	                           * read earlier (across cuts and crashes) */
	bool insider;             /* the last peer is Byzantine (sim_insider.c) */
	/* Idempotent writes and checkouts (sim_keyed.c, sim_close.c) */
	unsigned keyed_pct;       /* writes to the other carts sent with a key */
	unsigned hot_keyed_pct;   /* adds to the hot cart sent with a key */
	unsigned reuse_pct;       /* keyed writes reusing an earlier key of the cart
	                           * for another request */
	unsigned hedge_pct;       /* keyed writes sent to two peers at once */
	unsigned tokrem_pct;      /* keyed adds retried elsewhere while a remove
	                           * runs under a token that saw the first attempt */
	unsigned answer_loss_pct; /* answers to keyed writes that never arrive */
	unsigned answer_ms;       /* max delay from commit to answer: a crash in
	                           * between loses the answer */
	uint64_t idem_window_ms;  /* the peers' --idempotency-window */
	unsigned skew_ms;         /* the peers' wall clocks differ by up to this */
	unsigned close_pct;       /* carts checked out during the schedule */
	unsigned commit_crashes;  /* crashes of a peer between a keyed write's
	                           * commit and its answer */
} sim_params;

typedef struct sim_stats {
	uint64_t events;
	uint64_t sent, sent_bytes;             /* datagrams handed to the network */
	uint64_t delivered, delivered_bytes;   /* handed to a live, reachable peer */
	uint64_t lost, duplicated, cut, to_down, bad_addr;
	uint64_t by_type[16], bytes_by_type[16];  /* sent, by wire type */
	uint64_t rejected[10];                  /* engine_receive errors, see sim.c */
	uint64_t writes_applied, writes_acked, writes_failed;
	uint64_t writes_lost, writes_durable;  /* settled at crashes (sim_oracle.h) */
	uint64_t writes_skipped;               /* no peer was up */
	uint64_t crashes, restarts, partitions;
	uint64_t disk_writes;
	uint64_t refused_full;                 /* adds refused: line_full */
	uint64_t deferred_removes;             /* token removes that deferred some dots */
	uint64_t old_tokens;                   /* removes and clears under a kept token */
	uint64_t hot_acked, hot_landed;        /* hot-cart quantity, acked and not */
	uint64_t injected, insider_rejected;   /* the insider's datagrams, and refused */
	uint64_t fake_bytes, fake_hellos;      /* sent to addresses the insider made up:
	                                        * bytes of anything but HELLOs, HELLOs */
	uint64_t keyed, keyed_attempts;        /* keyed requests, and attempts at them */
	uint64_t hedged, reapplied;            /* sent to two peers at once; attempts
	                                        * applied for a request applied before */
	uint64_t idem_replays;                 /* attempts answered as a replay */
	uint64_t key_reused, reuse_applied;    /* another request under a kept key:
	                                        * refused, and applied (not kept there) */
	uint64_t answers_lost, commit_crashes; /* answers lost; of them, to a crash
	                                        * between commit and answer */
	uint64_t checkouts, checkouts_refused; /* applied; refused (empty, token ahead) */
	uint64_t closed_refused;               /* writes refused: cart closed */
	uint64_t double_closed;                /* carts left with two or more orders */
	uint64_t late_added, late_removed;     /* entries the late views showed */
	uint64_t replay_no_order;              /* keyed checkout replays at a peer that
	                                        * had the key's dot but not its order */
	uint64_t replay_other_order;           /* ... answering another order than the
	                                        * request's first answer */
	uint64_t key_two_orders;               /* carts left with two orders of one
	                                        * keyed checkout (attempts at two peers) */
	uint64_t tokrem_checked;               /* token removes over retried attempts */
} sim_stats;

typedef struct sim_result {
	bool ok;
	bool converged;
	uint64_t heal_at, converged_at;        /* virtual ms */
	uint64_t fingerprint;                  /* hash of the final state */
	sim_stats stats;
	char report[SIM_REPORT_MAX];           /* on failure: what went wrong */
} sim_result;

typedef struct sim sim;

/* Every parameter from the seed; kind = seed % SIM_FAULT_KINDS. */
void sim_params_from_seed(uint64_t seed, sim_params *p);
/* Defaults for hand-made parameters (bench): no faults, no writes. */
void sim_params_init(sim_params *p, uint64_t seed, unsigned npeers);
/* One line describing p, for failure reports. */
void sim_params_format(const sim_params *p, char *buf, size_t cap);

/* Builds the cluster and boots every peer.  0 or a negative error code;
 * on failure *out = NULL. */
int sim_new(const sim_params *p, sim **out);
void sim_free(sim *s);                  /* NULL-safe */

/* Runs one whole schedule (plan, run, heal, settle, oracle) into *res.
 * Returns 0 when the oracle passed, -1 otherwise (res->report says why). */
int sim_run_schedule(const sim_params *p, sim_result *res);

/* --- lower-level driving, for the scale benchmark ---------------------- */

uint64_t sim_now(const sim *s);
unsigned sim_npeers(const sim *s);
const sim_stats *sim_get_stats(const sim *s);
crdt_store *sim_store(sim *s, unsigned peer);
/* Runs every event due up to and including t; then now = t. */
void sim_run_until(sim *s, uint64_t t);
/* A client write at peer now: apply, begin, commit after commit_ms.
 * 0 or the store's error. */
int sim_write(sim *s, unsigned peer, const char *cart, const crdt_op *op);
/* side[i] is a bitmask per peer: i and j can talk iff side[i] & side[j].
 * NULL heals. */
void sim_partition(sim *s, const unsigned *side);
/* Sets the loss and duplication percentages. */
void sim_set_faults(sim *s, unsigned loss_pct, unsigned dup_pct);
/* True when every live peer has the same bucket digests and no local write
 * is waiting for its commit. */
bool sim_converged(const sim *s);
/* The same among the live peers whose side mask meets mask (a partition's
 * side: 1 or 2 after sim_partition). */
bool sim_converged_side(const sim *s, unsigned mask);
/* Fewest members any live peer's engine counts as alive (membership
 * complete when it reaches npeers - 1). */
unsigned sim_min_alive(sim *s);
/* Runs, checking every step_ms, until sim_converged or deadline; returns
 * the time of convergence or UINT64_MAX. */
uint64_t sim_run_until_converged(sim *s, uint64_t deadline, uint64_t step_ms);
/* Watches cart id arrive at peers (NULL stops): sim_watch_reached counts
 * peers holding it, sim_watch_hops the longest relay chain that brought it
 * and sim_watch_last the time the last peer got it. */
void sim_watch(sim *s, const char *id);
unsigned sim_watch_reached(const sim *s);
unsigned sim_watch_hops(const sim *s);
uint64_t sim_watch_last(const sim *s);

#endif
