/*
 * test_hostile.h - one engine and a member that holds a session with it
 * (tests/fuzz/fuzz_peer.h), for the suites that feed the engine sealed,
 * authentic messages built to break it (check_hostile.c, check_mangle.c):
 * injection, a snapshot of everything a refused message must leave alone,
 * and the assertions that compare against it.
 *
 * Every datagram goes through the member's session, so it passes every
 * check of the receive order up to the payload parse: what is refused is
 * refused by the engine, with a reason (net/reject.h).
 */
#ifndef TEST_HOSTILE_H
#define TEST_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crdt/buf.h"
#include "net/engine.h"
#include "net/reject.h"
#include "tests/fuzz/fuzz_peer.h"

#define TH_NBUCKETS 1024u
#define TH_NGROUPS (TH_NBUCKETS / 32u)
#define TH_MEMBERS_MAX 300

/* The engine (th.eng, th.store) and its member (th.tx). */
extern fuzz_peer th;

/* A checked fixture: a fresh engine of TH_NBUCKETS buckets, the member
 * joined, the count of sent datagrams at 0.  ae_rate (0: the default)
 * is the engine's repair budget in bytes per second. */
void th_setup_rate(uint32_t ae_rate);
void th_setup(void);
void th_teardown(void);

/* The time of the next datagram: each injection advances it by 1 ms. */
uint64_t th_now(void);

/* Seals payload as type from the member and hands it to the engine;
 * returns engine_receive's code.  Asserts that the payload sealed. */
int th_inject(uint8_t type, const uint8_t *p, size_t len);
/* The same for a writer's contents; asserts the writer has no error. */
int th_inject_w(uint8_t type, const buf_writer *w);

/* Datagrams the engine has sent since set-up, and their bytes. */
size_t th_nsent(void);
uint64_t th_bytes_sent(void);
/* The last one the engine sent, opened by the member (asserts it opens):
 * its type, and its payload into *p (valid until the next open). */
uint8_t th_open_last(const uint8_t **p, size_t *len);

/* Everything a refused datagram must not change. */
typedef struct th_snapshot {
	size_t carts, nmembers, nsent;
	uint64_t rej_decode;
	uint64_t rej_reason[REJECT_ROWS][REJECT_NFIELDS];
	uint64_t buckets[TH_NBUCKETS];
	engine_member_info members[TH_MEMBERS_MAX];
} th_snapshot;

void th_snap(th_snapshot *s);

/* Asserts that the store, the member table (all but last_heard: an
 * authentic datagram proves its sender alive) and what was sent are as in
 * before; what names the case in the failure message. */
void th_assert_unchanged(const th_snapshot *before, const char *what);

/* Asserts that rc is CARTD_EDECODE with reason (row, field), that it was
 * counted once under that reason, under no other, and once in rej_decode,
 * and th_assert_unchanged. */
void th_assert_refused(int rc, const th_snapshot *before, unsigned row,
                       enum reject_field field, const char *what);

/* u16 little-endian, as the messages carry counts. */
void th_put_u16(buf_writer *w, uint64_t v);

#endif
