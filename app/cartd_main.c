/*
 * cartd_main.c - the cartd program: parse the command line, start the peer
 * and its HTTP API on one libevent loop, and shut down cleanly on a signal.
 *
 * Shutdown order matters (node.h, http.h): node_shutdown commits and
 * answers every pending write while HTTP still has its connections; the
 * loop then turns for a short grace period so the answers and the last
 * deltas go out; only then are HTTP and the node freed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "app/config.h"
#include "app/http/http.h"
#include "app/shared/log.h"
#include "app/peer/node.h"
#include "crdt/error.h"

#define GRACE_EXTRA_MS 100u    /* on top of one push flush delay */
#define GRACE_MAX_MS 2000u

typedef struct app {
	struct event_base *base;
	node *node;
	http_server *http;
	uint32_t grace_ms;
	int stopping;
} app;

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	app *a = arg;
	(void)what;
	if (a->stopping++) {       /* a second signal: do not wait any longer */
		log_event(LOG_WARN, "shutdown_forced", "signal=%d", (int)sig);
		event_base_loopbreak(a->base);
		return;
	}
	log_event(LOG_INFO, "shutdown_requested", "signal=%d", (int)sig);
	node_shutdown(a->node);
	struct timeval tv = { (time_t)(a->grace_ms / 1000), (suseconds_t)(a->grace_ms % 1000) * 1000 };
	event_base_loopexit(a->base, &tv);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	app *a = arg;
	(void)sig;
	(void)what;
	int rc = node_reload_keys(a->node);
	if (rc)     /* node_reload_keys logged the cause; the old ring stays */
		log_event(LOG_ERROR, "keyring_reload_failed", "reason=%s kept=old", cartd_errname(rc));
}

/* Parses argv; returns -1 to go on, or the exit status. */
static int parse_args(cartd_config *cfg, int argc, char **argv)
{
	enum config_action act;
	char err[CONFIG_ERR_MAX];
	int rc = config_parse(cfg, argc, argv, &act, err, sizeof err);
	if (rc) {
		if (rc == CARTD_ENOMEM)
			snprintf(err, sizeof err, "out of memory");
		fprintf(stderr, "cartd: %s\nTry 'cartd --help' for more information.\n", err);
		return rc == CARTD_ENOMEM ? EXIT_FAILURE : CONFIG_EXIT_USAGE;
	}
	if (act == CONFIG_HELP) {
		config_usage(stdout);
		return EXIT_SUCCESS;
	}
	if (act == CONFIG_VERSION) {
		printf("cartd %s\n", CARTD_VERSION);
		return EXIT_SUCCESS;
	}
	return -1;
}

static int start(app *a, const cartd_config *cfg)
{
	int rc = node_new(&cfg->node, a->base, &a->node);
	if (rc)
		return rc;     /* node_new logged why */
	http_config hc = { cfg->http_listen, cfg->node.fault_injection, cfg->http_max_body,
	                   cfg->http_header_ms, cfg->http_body_ms };
	rc = http_new(a->base, a->node, &hc, &a->http);
	if (rc)
		return rc;     /* http_new logged why */
	/* One line that scripts can wait for: both servers are up. */
	log_event(LOG_INFO, "cartd_ready", "version=%s gossip=%s http_port=%u",
	          CARTD_VERSION, node_gossip_addr(a->node), http_port(a->http));
	uint32_t grace = cfg->node.engine.flush_delay_ms + GRACE_EXTRA_MS;
	a->grace_ms = grace < GRACE_MAX_MS ? grace : GRACE_MAX_MS;
	return 0;
}

/* libevent reads the coarse monotonic clock by default, which on this
 * kernel ticks every 4 ms: a 1 ms timer (a due push, a probe) then fires
 * up to 8 ms late, straight into replication lag.  The precise clock is a
 * vDSO call. */
static struct event_base *new_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *b = NULL;
	if (cfg && event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) == 0)
		b = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return b ? b : event_base_new();
}

/* Runs the loop until a signal stops it; 0 or an error from start-up. */
static int run(const cartd_config *cfg)
{
	app a = { 0 };
	struct event *sig[3] = { NULL, NULL, NULL };
	int rc = CARTD_ENOMEM;
	a.base = new_base();
	if (a.base) {
		sig[0] = evsignal_new(a.base, SIGTERM, on_stop, &a);
		sig[1] = evsignal_new(a.base, SIGINT, on_stop, &a);
		sig[2] = evsignal_new(a.base, SIGHUP, on_hup, &a);
		if (sig[0] && sig[1] && sig[2] && !evsignal_add(sig[0], NULL) &&
		    !evsignal_add(sig[1], NULL) && !evsignal_add(sig[2], NULL))
			rc = start(&a, cfg);
	}
	if (rc == 0)
		event_base_dispatch(a.base);
	node_shutdown(a.node);     /* no-op after a signal; covers a failed start */
	http_free(a.http);
	node_free(a.node);
	for (int i = 0; i < 3; i++)
		if (sig[i])
			event_free(sig[i]);
	if (a.base)
		event_base_free(a.base);
	return rc;
}

int main(int argc, char **argv)
{
	cartd_config cfg;
	int status = parse_args(&cfg, argc, argv);
	if (status >= 0) {
		config_destroy(&cfg);
		return status;
	}
	log_set_level(cfg.log_level);
	signal(SIGPIPE, SIG_IGN);   /* a closed HTTP peer must not kill the peer */
	int rc = run(&cfg);
	if (rc)
		log_event(LOG_ERROR, "cartd_exit", "status=1 reason=\"%s\"", cartd_strerror(rc));
	else
		log_event(LOG_INFO, "cartd_exit", "status=0");
	config_destroy(&cfg);
	return rc ? EXIT_FAILURE : EXIT_SUCCESS;
}
