/*
 * fault.h - fault injection on a peer's UDP traffic, for partition and
 * chaos tests.  Compiled in always, reachable only when cartd is started
 * with --enable-fault-injection (node_faults_view() is NULL otherwise).
 *
 * Faults apply to datagrams in both directions: a drop rate, a duplicate
 * rate, a fixed extra delay, and a set of blocked peers (by replica id, or
 * by address when the id is not known yet).  Randomness comes from a seeded
 * generator owned by the state, so a fault run can be repeated.
 *
 * One fault is not on the network: answer_delay_ms holds the answer to a
 * write (or checkout) that long after the write is durable, so that a test
 * can kill the peer between the commit and the answer, or retry elsewhere
 * while the first attempt waits, as a client whose answer was lost would.
 */
#ifndef APP_FAULT_H
#define APP_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/engine.h"

#define FAULT_MAX_BLOCKED 64
#define FAULT_MAX_DELAY_MS 60000u

typedef struct fault_state {
	double drop;                /* 0..1, each datagram independently */
	double duplicate;           /* 0..1 */
	uint32_t delay_ms;          /* 0..FAULT_MAX_DELAY_MS added to every datagram */
	uint32_t answer_delay_ms;   /* 0..FAULT_MAX_DELAY_MS before a durable write is answered */
	uint64_t blocked_ids[FAULT_MAX_BLOCKED];
	size_t nblocked_ids;
	engine_addr blocked_addrs[FAULT_MAX_BLOCKED];
	size_t nblocked_addrs;
	uint64_t rng;               /* splitmix64 state */
	uint64_t dropped, duplicated, delayed, blocked;  /* counters for /metrics */
} fault_state;

void fault_init(fault_state *f, uint64_t seed);
/* Clears every fault (counters kept). */
void fault_clear(fault_state *f);
/* Validated setters: CARTD_EINVAL for out-of-range values (a rate outside
 * 0..1 or NaN, a delay past FAULT_MAX_DELAY_MS, id 0, an empty address),
 * CARTD_ENOSPC for more than FAULT_MAX_BLOCKED blocked peers; nothing
 * changes on error.  Blocking a blocked peer and unblocking one that is not
 * blocked succeed and change nothing (idempotent, for retrying clients). */
int fault_set_rates(fault_state *f, double drop, double duplicate, uint32_t delay_ms);
int fault_set_answer_delay(fault_state *f, uint32_t ms);
int fault_block_id(fault_state *f, uint64_t id);
int fault_unblock_id(fault_state *f, uint64_t id);
int fault_block_addr(fault_state *f, const engine_addr *a);
int fault_unblock_addr(fault_state *f, const engine_addr *a);

/* Decision for one datagram to/from a peer (id 0 if unknown): how many
 * copies to deliver (0, 1 or 2) and the delay to apply.  A blocked peer's
 * datagram is dropped without drawing; otherwise one draw per non-zero rate
 * (drop first, then duplicate), so a seed replays the same decisions.
 * Counts each outcome in the counters. */
typedef struct fault_verdict {
	unsigned copies;
	uint32_t delay_ms;
} fault_verdict;
fault_verdict fault_decide(fault_state *f, uint64_t peer_id, const engine_addr *peer_addr);

#endif
