/*
 * node_drops.c - log lines for datagrams the peer drops on receipt.
 *
 * Every drop is counted by cause (and a decode failure by reason) in
 * /metrics; the log says, once in a while, which kinds are happening and
 * from where.  A line per datagram would let any sender flood the log, so
 * each kind of drop (a cause, or a decode reason) logs at most one line per
 * NODE_DROP_LOG_MS, saying how many of that kind it did not log since
 * (suppressed=N).  At --log-level debug every drop is logged.
 */
#include <stdio.h>

#include "app/shared/log.h"
#include "app/peer/node_internal.h"
#include "crdt/error.h"

/* Causes with a kind of their own: every cause the wire and the engine
 * give (the causes of cartd_datagrams_rejected_total but decode, whose
 * reasons have kinds of their own, and badaddr); then one kind for any
 * other code, and one for datagrams from an unusable source address.  A
 * kind per cause keeps a stream of one (say, "session" drops after a
 * restart) from hiding a line of another ("revoked"). */
static const int causes[] = {
	CARTD_EHEADER, CARTD_EVERSION, CARTD_ECLUSTER, CARTD_ESELF, CARTD_ERECEIVER,
	CARTD_ECERT, CARTD_EREVOKED, CARTD_ESESSION, CARTD_EEPOCH, CARTD_EJUMP,
	CARTD_EAUTH, CARTD_EREPLAY, CARTD_EOVERSIZE, CARTD_EINFLATE, CARTD_ENOMEM,
};
#define NCAUSES (sizeof causes / sizeof causes[0])
#define KIND_OTHER NCAUSES
#define KIND_BADADDR (NCAUSES + 1)
_Static_assert(NCAUSES + 2 == NODE_DROP_CAUSES, "one kind per cause");

static size_t kind_of(int rc)
{
	for (size_t i = 0; i < NCAUSES; i++)
		if (causes[i] == rc)
			return i;
	return KIND_OTHER;
}

/* True when this kind may log now; *suppressed is how many went unlogged
 * since its last line.  add is how many drops of the kind this is. */
static bool may_log(node *n, size_t kind, uint64_t add, uint64_t *suppressed)
{
	drop_log *l = &n->drops;
	uint64_t now = node_now_ms(n);
	if (log_enabled(LOG_DEBUG) || !l->logged[kind] ||
	    now - l->last_ms[kind] >= NODE_DROP_LOG_MS) {
		*suppressed = l->suppressed[kind] + add - 1;
		l->suppressed[kind] = 0;
		l->last_ms[kind] = now;
		l->logged[kind] = true;
		return true;
	}
	l->suppressed[kind] += add;
	return false;
}

static enum log_level level_of(int rc)
{
	/* Duplicated datagrams are normal on a real network. */
	return rc == CARTD_EREPLAY ? LOG_INFO : LOG_WARN;
}

void node_drop_datagram(node *n, int rc, const engine_addr *from, const uint8_t *d,
                        size_t len)
{
	char a[UDP_ADDRSTR_MAX], reason[48];
	uint64_t sup;
	unsigned row = 0, field = 0;
	size_t kind = kind_of(rc);
	if (rc == CARTD_EDECODE) {
		engine_last_reject(n->eng, &row, &field);
		kind = NODE_DROP_CAUSES + (size_t)row * REJECT_NFIELDS + field;
	}
	if (kind >= NODE_DROP_KINDS || !log_enabled(level_of(rc)) || !may_log(n, kind, 1, &sup))
		return;
	udp_addr_format(from, a, sizeof a);
	if (rc == CARTD_EDECODE)
		log_event(LOG_WARN, "dgram_rejected",
		          "cause=decode reason=%s from=%s len=%zu suppressed=%llu",
		          reject_name(row, field, reason, sizeof reason), a, len,
		          (unsigned long long)sup);
	else if (rc == CARTD_EVERSION)
		log_event(LOG_WARN, "dgram_rejected",
		          "cause=version from=%s received_version=%u our_version=%u "
		          "suppressed=%llu hint=\"a peer of another protocol version: "
		          "every peer of a cluster must run the same one\"",
		          a, wire_dgram_version(d, len), (unsigned)WIRE_VERSION,
		          (unsigned long long)sup);
	else
		log_event(level_of(rc), "dgram_rejected", "cause=%s from=%s len=%zu suppressed=%llu",
		          cartd_errname(rc), a, len, (unsigned long long)sup);
}

void node_drop_socket(node *n)
{
	const udp_stats *u = udp_get_stats(n->udp);
	drop_log *l = &n->drops;
	uint64_t sup;
	char a[UDP_ADDRSTR_MAX];
	if (u->rx_truncated > l->seen_truncated) {
		uint64_t add = u->rx_truncated - l->seen_truncated;
		l->seen_truncated = u->rx_truncated;
		if (log_enabled(LOG_WARN) && may_log(n, kind_of(CARTD_EOVERSIZE), add, &sup))
			log_event(LOG_WARN, "dgram_rejected",
			          "cause=oversize from=%s max_datagram=%zu suppressed=%llu",
			          udp_addr_format(udp_last_truncated_from(n->udp), a, sizeof a),
			          wire_max_body(n->w) + wire_overhead(), (unsigned long long)sup);
	}
	if (u->rx_badaddr > l->seen_badaddr) {
		uint64_t add = u->rx_badaddr - l->seen_badaddr;
		l->seen_badaddr = u->rx_badaddr;
		if (log_enabled(LOG_WARN) && may_log(n, KIND_BADADDR, add, &sup))
			log_event(LOG_WARN, "dgram_rejected", "cause=badaddr suppressed=%llu",
			          (unsigned long long)sup);
	}
}
