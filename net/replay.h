/*
 * replay.h - per-sender replay windows for authenticated datagrams.
 *
 * Every sealed datagram carries (sender id, boot epoch, sequence); sequences
 * start at 1 on each boot and only grow.  The table remembers, for a bounded
 * number of senders, the newest epoch seen and a sliding bitmap of the last
 * WIRE_REPLAY_WINDOW sequences of that epoch, and answers "first time this
 * (sender, epoch, seq) is seen, and not too old?".
 *
 * Callers must only feed it datagrams that have already been authenticated:
 * an update is what moves a window, and a forger must not be able to move
 * one.  Memory is fixed at creation; a full table forgets the sender that
 * was accepted least recently (its next datagram starts a fresh window).
 * Pure data structure: no clock, no I/O, no allocation after _new.
 */
#ifndef NET_REPLAY_H
#define NET_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* Sequences at most this far behind the newest accepted one are judged
 * individually; older ones are rejected as replays.  Must be a multiple
 * of 64. */
#define WIRE_REPLAY_WINDOW 1024u
/* Default and hard limit on the number of senders remembered. */
#define WIRE_REPLAY_SENDERS_DEFAULT 1024u
#define WIRE_REPLAY_SENDERS_MAX (1u << 20)

typedef struct wire_replay wire_replay;

/*
 * Creates a table remembering at most max_senders senders
 * (1..WIRE_REPLAY_SENDERS_MAX).  All memory is allocated here.
 * Returns 0, CARTD_EINVAL or CARTD_ENOMEM; on failure *out = NULL.
 * Release with wire_replay_free.
 */
int wire_replay_new(size_t max_senders, wire_replay **out);

/* Frees the table.  NULL-safe. */
void wire_replay_free(wire_replay *r);

/*
 * Check-and-update for one authenticated datagram.
 *   - a newer epoch than the one remembered for sender resets its window;
 *   - an older epoch, sequence 0, a sequence already seen, or one at least
 *     WIRE_REPLAY_WINDOW behind the newest accepted is a replay;
 *   - otherwise the sequence is marked seen and the sender becomes the most
 *     recently accepted.
 * Returns 0 (accepted, window updated) or CARTD_EREPLAY (nothing changed).
 */
int wire_replay_check(wire_replay *r, uint64_t sender, uint32_t epoch, uint64_t seq);

/* Number of senders currently remembered. */
size_t wire_replay_count(const wire_replay *r);

#endif
