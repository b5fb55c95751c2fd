/*
 * config.c - the table of cartd's flags and the parser over it (config.h).
 *
 * One row per flag gives its kind, where the value goes (an offset into
 * cartd_config) and its range, so a flag cannot be parsed without being
 * validated, and the help text test can walk the same table.
 */
#include "app/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "app/shared/idem.h"
#include "crdt/error.h"
#include "net/hostport.h"
#include "net/udp.h"
#include "net/wire.h"

enum opt_kind {
	OPT_STR,        /* non-empty string */
	OPT_LISTEN,     /* IP:port, no names (the HTTP address) */
	OPT_ADDR,       /* host:port; a name must resolve */
	OPT_PEER,       /* host:port, port not 0, repeatable; a name must resolve */
	OPT_U32, OPT_SIZE, OPT_INT, OPT_U64,  /* decimal in [min, max] */
	OPT_ONOFF,      /* "on" or "off" into a bool */
	OPT_FLAG,       /* no value; sets a bool */
	OPT_LEVEL,      /* log level name */
	OPT_HELP, OPT_VERSION,
};

typedef struct opt_def {
	const char *name;       /* without the leading "--" */
	enum opt_kind kind;
	size_t off;             /* into cartd_config */
	uint64_t min, max;
} opt_def;

#define NODE(f) offsetof(cartd_config, node.f)
#define ENG(f) offsetof(cartd_config, node.engine.f)
#define HOUR_MS 3600000u

static const opt_def opts[] = {
	{ "name", OPT_STR, NODE(name), 0, 0 },
	{ "http", OPT_LISTEN, offsetof(cartd_config, http_listen), 0, 0 },
	{ "gossip", OPT_ADDR, NODE(gossip_addr), 0, 0 },
	{ "peer", OPT_PEER, 0, 0, 0 },
	{ "data-dir", OPT_STR, NODE(data_dir), 0, 0 },
	{ "key-file", OPT_STR, NODE(key_file), 0, 0 },
	{ "cluster", OPT_STR, NODE(cluster), 0, 0 },
	{ "log-level", OPT_LEVEL, offsetof(cartd_config, log_level), 0, 0 },
	{ "sync", OPT_ONOFF, NODE(sync), 0, 0 },
	{ "enable-fault-injection", OPT_FLAG, NODE(fault_injection), 0, 0 },
	{ "fault-seed", OPT_U64, NODE(fault_seed), 0, UINT64_MAX },
	{ "max-datagram", OPT_SIZE, NODE(max_datagram), 512, WIRE_MAX_DATAGRAM_LIMIT },
	{ "deflate-level", OPT_INT, NODE(deflate_level), 0, 9 },
	{ "buckets", OPT_U32, NODE(nbuckets), 1, CRDT_MAX_BUCKETS },
	{ "max-pending", OPT_SIZE, NODE(max_pending), 1, 1000000 },
	{ "log-size", OPT_SIZE, NODE(wal_size), 4096, 1u << 30 },
	{ "idempotency-window", OPT_U32, NODE(idem_window_s), IDEM_WINDOW_MIN_S, IDEM_WINDOW_MAX_S },
	{ "max-body", OPT_SIZE, offsetof(cartd_config, http_max_body), 1024, 16u << 20 },
	{ "header-timeout-ms", OPT_U32, offsetof(cartd_config, http_header_ms), 100, 600000 },
	{ "body-timeout-ms", OPT_U32, offsetof(cartd_config, http_body_ms), 100, 600000 },
	{ "socket-buffer", OPT_SIZE, NODE(udp_sockbuf), 0, 1u << 30 },
	{ "flush-delay-ms", OPT_U32, ENG(flush_delay_ms), 0, 10000 },
	{ "full-push-max", OPT_U32, ENG(full_push_max), 1, 100000 },
	{ "fanout", OPT_U32, ENG(fanout), 1, 1000 },
	{ "ae-interval-ms", OPT_U32, ENG(ae_interval_ms), 10, HOUR_MS },
	{ "ae-rate", OPT_U32, ENG(ae_bytes_per_sec), 1024, 1u << 30 },
	{ "ping-interval-ms", OPT_U32, ENG(ping_interval_ms), 10, 600000 },
	{ "ping-timeout-ms", OPT_U32, ENG(ping_timeout_ms), 1, 599999 },
	{ "indirect-probes", OPT_U32, ENG(indirect_probes), 0, 64 },
	{ "suspect-ms", OPT_U32, ENG(suspect_ms), 1, HOUR_MS },
	{ "dead-retry-ms", OPT_U32, ENG(dead_retry_ms), 10, HOUR_MS },
	{ "max-members", OPT_U32, ENG(max_members), 1, 1000000 },
	{ "max-candidates", OPT_U32, ENG(max_candidates), 1, 1000000 },
	{ "help", OPT_HELP, 0, 0, 0 },
	{ "version", OPT_VERSION, 0, 0, 0 },
};
#define NOPTS (sizeof opts / sizeof opts[0])

size_t config_option_count(void)
{
	return NOPTS;
}

const char *config_option_name(size_t i)
{
	return i < NOPTS ? opts[i].name : NULL;
}

void config_init(cartd_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	node_config_init(&cfg->node);
	cfg->node.gossip_addr = CONFIG_DEFAULT_GOSSIP;
	cfg->node.cluster = CONFIG_DEFAULT_CLUSTER;
	cfg->http_listen = CONFIG_DEFAULT_HTTP;
	cfg->http_max_body = CONFIG_DEFAULT_MAX_BODY;
	cfg->http_header_ms = CONFIG_DEFAULT_HEADER_MS;
	cfg->http_body_ms = CONFIG_DEFAULT_BODY_MS;
	cfg->log_level = LOG_INFO;
}

void config_destroy(cartd_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->peer_buf);
	config_init(cfg);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return CARTD_ECONFIG;
}

/* Unsigned decimal in [min, max]: digits only (strtoull alone would take
 * blanks, a sign and "0x"), no overflow. */
static int parse_num(const opt_def *o, const char *v, uint64_t *out, char *err, size_t errlen)
{
	bool digits = v[0] != '\0';
	for (const char *p = v; *p; p++)
		digits = digits && *p >= '0' && *p <= '9';
	if (!digits)
		return fail(err, errlen, "--%s: '%s' is not an unsigned decimal number", o->name, v);
	errno = 0;
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno == ERANGE || *end != '\0' || n < o->min || n > o->max)
		return fail(err, errlen, "--%s: %s is out of range %llu..%llu", o->name, v,
		            (unsigned long long)o->min, (unsigned long long)o->max);
	*out = n;
	return 0;
}

static int add_peer(cartd_config *cfg, const char *v)
{
	size_t n = cfg->node.npeers;
	const char **p = realloc(cfg->peer_buf, (n + 1) * sizeof *p);
	if (!p)
		return CARTD_ENOMEM;
	p[n] = v;
	cfg->peer_buf = p;
	cfg->node.peers = p;
	cfg->node.npeers = n + 1;
	return 0;
}

/* Every address is checked here, names resolved included, so that a typo
 * fails before the data dir is opened or its boot epoch bumped.  The
 * grammar is net/hostport.h's. */
static int check_addr(const opt_def *o, const char *v, char *err, size_t errlen)
{
	char host[HOSTPORT_HOST_MAX], why[256];
	uint16_t port;
	enum hostport_kind kind;
	if (o->kind == OPT_LISTEN) {
		hostport_ip ip;
		if (hostport_parse_ip(v, &ip) != 0)
			return fail(err, errlen, "--%s: '%s' is not IPV4:PORT, [IPV6]:PORT, "
			            "localhost:PORT or :PORT (no other names; port 0..65535)", o->name, v);
		return 0;
	}
	if (hostport_split(v, host, sizeof host, &port, &kind) != 0)
		return fail(err, errlen, "--%s: '%s' is not HOST:PORT, [IPV6]:PORT or :PORT "
		            "(port 0..65535)", o->name, v);
	if (o->kind == OPT_PEER && port == 0)
		return fail(err, errlen, "--%s: '%s': a peer's port cannot be 0", o->name, v);
	engine_addr a;
	if (kind == HOSTPORT_NAME && udp_resolve(v, 0, &a, why, sizeof why) != 0)
		return fail(err, errlen, "--%s: %s", o->name, why);
	return 0;
}

/* Stores a numeric value at its field, by the field's type. */
static void store_num(cartd_config *cfg, const opt_def *o, uint64_t n)
{
	char *f = (char *)cfg + o->off;
	if (o->kind == OPT_U32) {
		uint32_t v = (uint32_t)n;
		memcpy(f, &v, sizeof v);
	} else if (o->kind == OPT_SIZE) {
		size_t v = (size_t)n;
		memcpy(f, &v, sizeof v);
	} else if (o->kind == OPT_INT) {
		int v = (int)n;
		memcpy(f, &v, sizeof v);
	} else {
		memcpy(f, &n, sizeof n);
	}
}

/* Applies one option that takes a value. */
static int apply_value(cartd_config *cfg, const opt_def *o, const char *v,
                       char *err, size_t errlen)
{
	char *f = (char *)cfg + o->off;
	uint64_t n = 0;
	int rc;
	switch (o->kind) {
	case OPT_LISTEN:
	case OPT_ADDR:
		if ((rc = check_addr(o, v, err, errlen)) != 0)
			return rc;
		/* fall through */
	case OPT_STR:
		if (v[0] == '\0')
			return fail(err, errlen, "--%s: the value must not be empty", o->name);
		memcpy(f, &v, sizeof v);
		return 0;
	case OPT_PEER:
		if ((rc = check_addr(o, v, err, errlen)) != 0)
			return rc;
		return add_peer(cfg, v);
	case OPT_ONOFF:
		if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
			return fail(err, errlen, "--%s: '%s' is neither 'on' nor 'off'", o->name, v);
		*(bool *)(void *)f = strcmp(v, "on") == 0;
		return 0;
	case OPT_LEVEL:
		if (log_parse_level(v, (enum log_level *)(void *)f) != 0)
			return fail(err, errlen, "--%s: '%s' is not one of debug, info, warn, error",
			            o->name, v);
		return 0;
	default:
		if ((rc = parse_num(o, v, &n, err, errlen)) != 0)
			return rc;
		store_num(cfg, o, n);
		return 0;
	}
}

static const opt_def *find_opt(const char *name, size_t len)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

/* True if s names one of our options (with or without "=value"). */
static bool is_option(const char *s)
{
	if (strncmp(s, "--", 2) != 0)
		return false;
	const char *eq = strchr(s + 2, '=');
	return find_opt(s + 2, eq ? (size_t)(eq - s - 2) : strlen(s + 2)) != NULL;
}

static bool takes_value(const opt_def *o)
{
	return o->kind != OPT_FLAG && o->kind != OPT_HELP && o->kind != OPT_VERSION;
}

/* Settings that are valid alone but not together, and required flags. */
static int check_whole(const cartd_config *cfg, char *err, size_t errlen)
{
	const engine_config *e = &cfg->node.engine;
	if (!cfg->node.data_dir)
		return fail(err, errlen, "--data-dir is required");
	if (!cfg->node.key_file)
		return fail(err, errlen, "--key-file is required (create one with 'cartctl keygen')");
	if (e->ping_timeout_ms >= e->ping_interval_ms)
		return fail(err, errlen, "--ping-timeout-ms (%u) must be less than "
		            "--ping-interval-ms (%u)", e->ping_timeout_ms, e->ping_interval_ms);
	return 0;
}

/* Handles argv[*i]; advances *i past a separate value.  Sets *action for
 * --help/--version. */
static int parse_one(cartd_config *cfg, int argc, char *const argv[], int *i,
                     enum config_action *action, char *err, size_t errlen)
{
	const char *a = argv[*i];
	if (strcmp(a, "-h") == 0 || strcmp(a, "-V") == 0) {
		*action = a[1] == 'h' ? CONFIG_HELP : CONFIG_VERSION;
		return 0;
	}
	if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
		return fail(err, errlen, "unexpected argument '%s' (options start with --)", a);
	const char *name = a + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const opt_def *o = find_opt(name, len);
	if (!o)
		return fail(err, errlen, "unknown option '--%.*s'", (int)len, name);
	if (!takes_value(o)) {
		if (eq)
			return fail(err, errlen, "--%s takes no value", o->name);
		if (o->kind == OPT_FLAG)
			*(bool *)(void *)((char *)cfg + o->off) = true;
		else
			*action = o->kind == OPT_HELP ? CONFIG_HELP : CONFIG_VERSION;
		return 0;
	}
	if (!eq && *i + 1 >= argc)
		return fail(err, errlen, "--%s needs a value", o->name);
	/* "--data-dir --key-file k" is a forgotten value, not a dir named
	 * "--key-file"; --flag=--x still passes such a value on purpose. */
	if (!eq && is_option(argv[*i + 1]))
		return fail(err, errlen, "--%s needs a value (got option '%s')", o->name,
		            argv[*i + 1]);
	return apply_value(cfg, o, eq ? eq + 1 : argv[++*i], err, errlen);
}

int config_parse(cartd_config *cfg, int argc, char *const argv[],
                 enum config_action *action, char *err, size_t errlen)
{
	config_init(cfg);
	*action = CONFIG_RUN;
	if (err && errlen)
		err[0] = '\0';
	for (int i = 1; i < argc; i++) {
		int rc = parse_one(cfg, argc, argv, &i, action, err, errlen);
		if (rc)
			return rc;
		if (*action != CONFIG_RUN)
			return 0;
	}
	return check_whole(cfg, err, errlen);
}
