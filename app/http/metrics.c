/*
 * metrics.c - Prometheus text rendering of the peer's counters (see
 * metrics.h).  Series are grouped by owner: HTTP, replication (engine and
 * wire), membership, durability (committer, commit latency), faults.  The
 * numbers come from one node_stats taken at the start of the scrape, and
 * the member table from one node_members snapshot (app/peer/node_views.h).
 */
#include "app/http/metrics.h"

#include <stdarg.h>
#include <stdio.h>

#include "app/peer/node.h"
#include "crdt/buf.h"
#include "crdt/error.h"
#include "net/reject.h"

const unsigned metrics_codes[METRICS_NCODES - 1] = {
	200, 204, 400, 404, 405, 413, 415, 422, 500, 503, 408, 431
};

static const char *const op_names[METRICS_NOPS] = {
	[CRDT_OP_ADD] = "add", [CRDT_OP_SET] = "set", [CRDT_OP_REMOVE] = "remove",
	[CRDT_OP_CLEAR] = "clear", [CRDT_OP_CLOSE] = "checkout",
};
static const char *const result_names[3] = { "ok", "error", "replayed" };

void metrics_count_request(metrics_http *m, enum api_route r, unsigned status)
{
	size_t i = 0;
	while (i < METRICS_NCODES - 1 && metrics_codes[i] != status)
		i++;
	if ((unsigned)r < API_R_COUNT)
		m->requests[r][i]++;
}

void metrics_count_write(metrics_http *m, enum crdt_op_kind op, int rc)
{
	if ((unsigned)op < METRICS_NOPS)
		m->writes[op][rc == 0 ? 0 : rc == CARTD_EIDEMPOTENT ? 2 : 1]++;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(buf_writer *w, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_put_bytes(w, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* HELP and TYPE lines of one metric family. */
static void family(buf_writer *w, const char *name, const char *type, const char *help)
{
	put(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void scalar(buf_writer *w, const char *name, const char *type, const char *help,
                   uint64_t v)
{
	family(w, name, type, help);
	put(w, "%s %llu\n", name, (unsigned long long)v);
}

/* One unlabelled sample with its metadata. */
typedef struct series {
	const char *name, *type, *help;
	uint64_t v;
} series;

static void scalars(buf_writer *w, const series *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		scalar(w, s[i].name, s[i].type, s[i].help, s[i].v);
}

/* A counter pair labelled direction="in" / "out". */
static void in_out(buf_writer *w, const char *name, const char *help, uint64_t in, uint64_t out)
{
	family(w, name, "counter", help);
	put(w, "%s{direction=\"in\"} %llu\n", name, (unsigned long long)in);
	put(w, "%s{direction=\"out\"} %llu\n", name, (unsigned long long)out);
}

/* A label value with \, " and newline escaped as the format requires. */
static void label_value(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	for (; *s && o + 3 < cap; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			out[o++] = '\\';
			out[o++] = *s == '\n' ? 'n' : *s;
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

static void http_series(buf_writer *w, const metrics_http *m)
{
	family(w, "cartd_http_requests_total", "counter",
	       "HTTP requests answered, by route and status.");
	for (int r = 0; r < API_R_COUNT; r++)
		for (int c = 0; c < METRICS_NCODES; c++) {
			if (!m->requests[r][c])
				continue;
			char code[16];
			if (c < METRICS_NCODES - 1)
				snprintf(code, sizeof code, "%u", metrics_codes[c]);
			else
				snprintf(code, sizeof code, "other");
			put(w, "cartd_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
			    api_route_name((enum api_route)r), code,
			    (unsigned long long)m->requests[r][c]);
		}
	family(w, "cartd_writes_total", "counter",
	       "Cart writes by operation and outcome (ok = durable and acknowledged; "
	       "replayed = a retry of a keyed write, answered as the first).");
	for (int op = 0; op < METRICS_NOPS; op++)
		for (int k = 0; k < 3; k++)
			put(w, "cartd_writes_total{op=\"%s\",result=\"%s\"} %llu\n", op_names[op],
			    result_names[k], (unsigned long long)m->writes[op][k]);
	scalar(w, "cartd_http_writes_waiting", "gauge", "Write requests waiting for their commit.",
	       m->writes_waiting);
	scalar(w, "cartd_http_header_timeouts_total", "counter",
	       "Connections closed because a request header was not complete within "
	       "--header-timeout-ms.", m->header_timeouts);
	scalar(w, "cartd_http_body_timeouts_total", "counter",
	       "Connections closed because a request body was not complete within "
	       "--body-timeout-ms of its header.", m->body_timeouts);
}

static void traffic_series(buf_writer *w, const node_stats *st)
{
	const engine_stats *e = &st->engine;
	const wire_stats *ws = &st->wire;
	in_out(w, "cartd_datagrams_total", "UDP datagrams received and sent.",
	       e->dgrams_in, e->dgrams_out);
	in_out(w, "cartd_deltas_total", "Cart deltas received and sent.",
	       e->deltas_in, e->deltas_out);
	in_out(w, "cartd_payload_bytes_total",
	       "Replication payload bytes before compression and sealing.",
	       ws->bytes_raw_in, ws->bytes_raw_out);
	in_out(w, "cartd_wire_bytes_total", "Datagram bytes on the wire (compressed, sealed).",
	       ws->bytes_wire_in, ws->bytes_wire_out);
	const series s[] = {
		{ "cartd_datagrams_deflated_total", "counter",
		  "Datagrams sent with a deflated payload.", ws->sealed_deflated },
		{ "cartd_carts_changed_by_replication_total", "counter",
		  "Carts whose state changed through received deltas or repair.", e->carts_changed_in },
	};
	scalars(w, s, sizeof s / sizeof s[0]);
}

/* Every datagram dropped on receipt has one cause here, wherever it was
 * dropped: the socket (longer than --max-datagram, an unusable source
 * address), the wire (header to inflate), or the engine (decode, memory).
 * Datagrams over --max-datagram never reach the wire, since the socket
 * reads at most that much: they count as "oversize" like the wire's own. */
const char *const metrics_reject_causes[METRICS_NCAUSES] = {
	"header", "version", "cluster", "self", "receiver", "cert", "revoked", "session",
	"epoch", "seq_jump", "auth", "replay", "oversize", "inflate", "decode", "badaddr",
	"nomem",
};

static void rejection_series(buf_writer *w, const node_stats *st)
{
	const engine_stats *e = &st->engine;
	const wire_stats *ws = &st->wire;
	const node_counters *ns = &st->node;
	/* In the order of metrics_reject_causes. */
	const uint64_t v[METRICS_NCAUSES] = {
		ws->rej_header, ws->rej_version, ws->rej_cluster, ws->rej_self, ws->rej_receiver,
		ws->rej_cert, ws->rej_revoked, ws->rej_session, ws->rej_epoch, ws->rej_jump,
		ws->rej_auth, ws->rej_replay, ws->rej_oversize + ns->udp_rx_truncated,
		ws->rej_inflate, e->rej_decode, ns->udp_rx_badaddr, e->rej_nomem,
	};
	family(w, "cartd_datagrams_rejected_total", "counter",
	       "Received datagrams refused, by cause.");
	for (size_t i = 0; i < METRICS_NCAUSES; i++)
		put(w, "cartd_datagrams_rejected_total{cause=\"%s\"} %llu\n",
		    metrics_reject_causes[i], (unsigned long long)v[i]);
	/* Every reason the engine can give, zeros included: the set is fixed
	 * (net/reject.h), so the series exist from the start. */
	family(w, "cartd_datagrams_decode_rejected_total", "counter",
	       "Authentic datagrams whose payload was refused, by message and field.");
	for (unsigned r = 0; r < REJECT_ROWS; r++)
		for (unsigned f = 0; f < REJECT_NFIELDS; f++) {
			char name[48];
			if (!reject_valid(r, f))
				continue;
			put(w, "cartd_datagrams_decode_rejected_total{reason=\"%s\"} %llu\n",
			    reject_name(r, f, name, sizeof name),
			    (unsigned long long)e->rej_reason[r][f]);
		}
}

static void engine_series(buf_writer *w, const engine_stats *e)
{
	const series s[] = {
		{ "cartd_anti_entropy_rounds_total", "counter",
		  "Anti-entropy rounds started.", e->ae_rounds },
		{ "cartd_anti_entropy_carts_sent_total", "counter",
		  "Carts sent by anti-entropy repair.", e->ae_carts_sent },
		{ "cartd_anti_entropy_carts_repaired_total", "counter",
		  "Local carts changed by anti-entropy repair.", e->ae_carts_repaired },
		{ "cartd_anti_entropy_bytes_total", "counter",
		  "Bytes anti-entropy sent past the opening digests: bucket digests, listings, cart states.", e->ae_bytes },
		{ "cartd_anti_entropy_throttled_total", "counter",
		  "Anti-entropy sends deferred by the repair rate limit.", e->ae_throttled },
		{ "cartd_swim_pings_total", "counter", "Direct probes sent.", e->pings_out },
		{ "cartd_swim_acks_total", "counter", "Probe acknowledgements received.", e->acks_in },
		{ "cartd_swim_indirect_pings_total", "counter",
		  "Indirect probes requested.", e->indirect_out },
		{ "cartd_swim_suspicions_total", "counter", "Members marked suspect.", e->suspicions },
		{ "cartd_swim_deaths_total", "counter", "Members declared dead.", e->deaths },
		{ "cartd_swim_revivals_total", "counter",
		  "Dead or suspect members seen alive again.", e->revivals },
		{ "cartd_handshakes_sent_total", "counter",
		  "HELLOs sent to start a session.", e->hellos_sent },
		{ "cartd_handshakes_answered_total", "counter",
		  "HELLOs answered.", e->hellos_answered },
		{ "cartd_addresses_verified_total", "counter",
		  "Peer addresses that answered our challenge.", e->addr_verified },
		{ "cartd_hello_probes_total", "counter",
		  "HELLOs sent unasked to seeds and candidates.", e->hello_probes },
		{ "cartd_amplification_refused_total", "counter",
		  "Sends refused: the address is unverified and has used up what it sent.",
		  e->amp_refused },
		{ "cartd_candidates", "gauge",
		  "Peers known but not yet verified at their address.", e->candidates },
		{ "cartd_candidates_evicted_total", "counter",
		  "Candidates dropped to make room in a full table.", e->candidates_evicted },
		{ "cartd_no_session_drops_total", "counter",
		  "Messages not sent for want of a session (a HELLO went instead).",
		  e->no_session_drops },
		{ "cartd_push_queue_carts", "gauge",
		  "Carts waiting for the next push flush.", e->push_queue_carts },
		{ "cartd_pending_writes", "gauge",
		  "Local writes applied but not yet durable.", e->pending_writes },
	};
	scalars(w, s, sizeof s / sizeof s[0]);
}

/* The longest time since an anti-entropy round last found a live member in
 * sync.  Rounds go round-robin, one member each, so in a healthy cluster
 * this sits at about members x --ae-interval-ms: it is the age of the
 * last proof of agreement, not how late a write becomes visible (that is
 * milliseconds, by push; bench/bench_repl.sh measures it).  Members never
 * synced are counted apart, since "never" has no number of seconds. */
static void member_series(buf_writer *w, node *n, const engine_stats *e)
{
	family(w, "cartd_members", "gauge", "Known members by liveness state.");
	for (int s = MEMBER_ALIVE; s <= MEMBER_DEAD; s++)
		put(w, "cartd_members{state=\"%s\"} %llu\n",
		    node_member_state_name((enum engine_member_state)s),
		    (unsigned long long)e->members[s]);

	node_members ms;
	uint64_t lag = 0, never = 0;
	if (node_members_get(n, &ms) != 0)
		ms.n = 0;   /* no memory: the ages read as none rather than fail the scrape */
	for (size_t i = 0; i < ms.n; i++) {
		const node_member *m = &ms.v[i];
		if (m->state == MEMBER_DEAD)
			continue;
		if (m->last_sync_ms == 0)
			never++;
		else if (ms.now_ms > m->last_sync_ms && ms.now_ms - m->last_sync_ms > lag)
			lag = ms.now_ms - m->last_sync_ms;
	}
	node_members_destroy(&ms);
	family(w, "cartd_anti_entropy_sync_age_seconds", "gauge",
	       "Longest time since an anti-entropy round last found a live member in sync.");
	put(w, "cartd_anti_entropy_sync_age_seconds %.3f\n", (double)lag / 1000.0);
	scalar(w, "cartd_members_never_synced", "gauge", "Live members not yet found in sync.", never);
}

/* The node's own counters: the UDP socket's drops and the persistence of
 * replicated carts. */
static void node_series(buf_writer *w, const node_counters *c)
{
	const struct { const char *cause; uint64_t v; } drops[] = {
		{ "rx_truncated", c->udp_rx_truncated }, { "rx_badaddr", c->udp_rx_badaddr },
		{ "rx_error", c->udp_rx_errors }, { "tx_full", c->udp_tx_dropped },
		{ "tx_error", c->udp_tx_errors },
	};
	family(w, "cartd_udp_dropped_total", "counter",
	       "Datagrams the UDP socket dropped, by cause.");
	for (size_t i = 0; i < sizeof drops / sizeof drops[0]; i++)
		put(w, "cartd_udp_dropped_total{cause=\"%s\"} %llu\n", drops[i].cause,
		    (unsigned long long)drops[i].v);
	const series s[] = {
		{ "cartd_persist_submitted_total", "counter",
		  "Carts changed by replication handed to the committer.", c->persist_submitted },
		{ "cartd_persist_failed_total", "counter",
		  "Replicated carts whose commit failed (retried).", c->persist_failed },
		{ "cartd_persist_lost_total", "counter",
		  "Replicated carts not even queued for a retry (out of memory).", c->persist_lost },
		{ "cartd_persist_waiting", "gauge",
		  "Replicated carts waiting to be handed to the committer.", c->persist_waiting },
		{ "cartd_write_commit_failed_total", "counter",
		  "Commits of local writes that failed (retried).", c->write_commit_failed },
		{ "cartd_fault_held_datagrams", "gauge",
		  "Datagrams held back by an injected delay.", c->fault_held },
	};
	scalars(w, s, sizeof s / sizeof s[0]);
}

static void latency_series(buf_writer *w, const node_latency *l)
{
	family(w, "cartd_commit_latency_seconds", "histogram",
	       "Write acknowledgement latency: submit to durable.");
	for (int i = 0; i < NODE_LAT_BUCKETS; i++) {
		if (i == NODE_LAT_BUCKETS - 1)
			put(w, "cartd_commit_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)l->count[i]);
		else
			put(w, "cartd_commit_latency_seconds_bucket{le=\"%g\"} %llu\n", l->le[i],
			    (unsigned long long)l->count[i]);
	}
	put(w, "cartd_commit_latency_seconds_sum %.6f\n", l->sum);
	put(w, "cartd_commit_latency_seconds_count %llu\n", (unsigned long long)l->total);
}

static void committer_series(buf_writer *w, const committer_stats *c)
{
	const series s[] = {
		{ "cartd_committer_records_submitted_total", "counter",
		  "Cart records queued for commit.", c->submitted },
		{ "cartd_committer_records_rejected_total", "counter",
		  "Records refused because the queue was full.", c->rejected },
		{ "cartd_committer_batches_total", "counter", "Batches taken from the commit queue.",
		  c->batches },
		{ "cartd_committer_commits_total", "counter", "Batches made durable in the log.",
		  c->commits },
		{ "cartd_committer_records_written_total", "counter",
		  "Records written by committed batches.", c->records },
		{ "cartd_committer_records_failed_total", "counter",
		  "Records whose batch failed.", c->failed },
		{ "cartd_committer_bytes_total", "counter", "Key and value bytes committed.", c->bytes },
		{ "cartd_committer_syncs_total", "counter",
		  "Log syncs: one per batch that wrote records.", c->syncs },
		{ "cartd_committer_max_batch", "gauge", "Most records committed in one batch.",
		  c->max_batch },
		{ "cartd_committer_queued_records", "gauge", "Records outstanding now.",
		  c->queued_records },
		{ "cartd_committer_queued_bytes", "gauge", "Bytes queued and not yet written.",
		  c->queued_bytes },
	};
	scalars(w, s, sizeof s / sizeof s[0]);
	const series log[] = {
		{ "cartd_log_bytes", "gauge",
		  "Bytes in the write-ahead log's current generation.", c->wal_bytes },
		{ "cartd_checkpoints_total", "counter",
		  "Log generations folded into LMDB.", c->checkpoints },
		{ "cartd_checkpoint_records_total", "counter",
		  "Log records folded into LMDB.", c->checkpoint_records },
		{ "cartd_checkpoint_failures_total", "counter",
		  "Folds that failed (retried with backoff; the log keeps the records).",
		  c->checkpoint_failures },
	};
	scalars(w, log, sizeof log / sizeof log[0]);
	family(w, "cartd_checkpoint_seconds_total", "counter", "Time spent folding the log.");
	put(w, "cartd_checkpoint_seconds_total %.6f\n", (double)c->checkpoint_ns / 1e9);
	family(w, "cartd_committer_commit_seconds_total", "counter",
	       "Time spent appending batches to the log and syncing them.");
	put(w, "cartd_committer_commit_seconds_total %.6f\n", (double)c->commit_ns / 1e9);
	family(w, "cartd_committer_commit_seconds_max", "gauge", "Longest single batch.");
	put(w, "cartd_committer_commit_seconds_max %.6f\n", (double)c->commit_ns_max / 1e9);
}

static void fault_series(buf_writer *w, const node_stats *st)
{
	const fault_state *f = &st->faults;
	scalar(w, "cartd_fault_injection_enabled", "gauge", "1 when started with fault injection.",
	       st->faults_enabled);
	const struct { const char *action; uint64_t v; } acts[] = {
		{ "dropped", f->dropped }, { "duplicated", f->duplicated },
		{ "delayed", f->delayed }, { "blocked", f->blocked },
	};
	family(w, "cartd_fault_datagrams_total", "counter", "Datagrams affected by injected faults.");
	for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
		put(w, "cartd_fault_datagrams_total{action=\"%s\"} %llu\n", acts[i].action,
		    (unsigned long long)acts[i].v);
	family(w, "cartd_fault_drop_ratio", "gauge", "Configured drop probability.");
	put(w, "cartd_fault_drop_ratio %g\n", f->drop);
	family(w, "cartd_fault_duplicate_ratio", "gauge", "Configured duplicate probability.");
	put(w, "cartd_fault_duplicate_ratio %g\n", f->duplicate);
	scalar(w, "cartd_fault_delay_ms", "gauge", "Configured extra delay.", f->delay_ms);
	scalar(w, "cartd_fault_blocked_peers", "gauge", "Peers blocked by id or address.",
	       f->nblocked_ids + f->nblocked_addrs);
}

static void info_series(buf_writer *w, node *n, const node_stats *st)
{
	char name[256], id[17];
	label_value(node_name(n), name, sizeof name);
	snprintf(id, sizeof id, "%016llx", (unsigned long long)node_self_id(n));
	family(w, "cartd_info", "gauge", "Identity of this peer.");
	put(w, "cartd_info{id=\"%s\",name=\"%s\",epoch=\"%u\"} 1\n", id, name,
	    (unsigned)node_boot_epoch(n));
	scalar(w, "cartd_carts", "gauge", "Carts held by this replica.",
	       st->carts);
}

int metrics_render(node *n, const metrics_http *m, char **text, size_t *len)
{
	buf_writer w;
	node_stats st;

	node_stats_get(n, &st);
	*text = NULL;
	*len = 0;
	buf_writer_init(&w);
	info_series(&w, n, &st);
	http_series(&w, m);
	traffic_series(&w, &st);
	rejection_series(&w, &st);
	engine_series(&w, &st.engine);
	member_series(&w, n, &st.engine);
	node_series(&w, &st.node);
	latency_series(&w, &st.latency);
	committer_series(&w, &st.committer);
	fault_series(&w, &st);
	buf_put_u8(&w, 0);
	if (w.err) {
		buf_writer_destroy(&w);
		return CARTD_ENOMEM;
	}
	*text = (char *)w.data;   /* the writer's heap buffer becomes the caller's */
	*len = w.len - 1;
	return 0;
}
