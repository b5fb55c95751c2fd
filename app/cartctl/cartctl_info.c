/*
 * cartctl_info.c - the read-only peer commands (cluster, health, metrics)
 * and faults (show, set, clear), with their text renderings.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "app/cartctl/cartctl.h"

static const char *str_of(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "-";
}

static long long int_of(json_t *obj, const char *key)
{
	return (long long)json_integer_value(json_object_get(obj, key));
}

/* "120ms", or "never" for a JSON null. */
static const char *ago(json_t *v, char *buf, size_t cap)
{
	if (!json_is_integer(v))
		return "never";
	snprintf(buf, cap, "%lldms", (long long)json_integer_value(v));
	return buf;
}

/* A member's incarnation is its boot epoch times 2^32 plus the suspicions
 * it has refuted since it booted (net/engine.c, net/members.c): shown as
 * epoch.refutations, "1.0" for a peer on its first boot, where the raw
 * number would read 4294967296. */
static const char *incarnation(json_t *v, char *buf, size_t cap)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return "-";
	unsigned long long inc = (unsigned long long)json_integer_value(v);
	snprintf(buf, cap, "%llu.%llu", inc >> 32, inc & 0xffffffffull);
	return buf;
}

static void print_cluster(json_t *v)
{
	json_t *self = json_object_get(v, "self"), *members = json_object_get(v, "members"), *m;
	size_t i;
	printf("self     %s  %s  name %s  epoch %lld\n", str_of(self, "id"), str_of(self, "addr"),
	       str_of(self, "name"), int_of(self, "epoch"));
	printf("carts    %lld  buckets %lld  digest %s\n", int_of(v, "carts"),
	       int_of(v, "buckets"), str_of(v, "digest"));
	printf("members  %zu\n", json_array_size(members));
	if (json_array_size(members) == 0)
		return;
	printf("  %-16s  %-22s %-8s %12s %10s %10s %6s\n", "ID", "ADDRESS", "STATE", "INC",
	       "HEARD", "SYNCED", "DIFF");
	json_array_foreach(members, i, m) {
		char a[32], b[32], inc[48];
		printf("  %-16s  %-22s %-8s %12s %10s %10s %6lld\n", str_of(m, "id"),
		       str_of(m, "addr"), str_of(m, "state"),
		       incarnation(json_object_get(m, "incarnation"), inc, sizeof inc),
		       ago(json_object_get(m, "last_heard_ago_ms"), a, sizeof a),
		       ago(json_object_get(m, "last_sync_ago_ms"), b, sizeof b),
		       int_of(m, "differing_buckets"));
	}
}

static void print_health(json_t *v)
{
	json_t *m = json_object_get(v, "members");
	printf("%s  peer %s (id %s, epoch %lld): %lld carts; members %lld alive, "
	       "%lld suspect, %lld dead\n", str_of(v, "status"), str_of(v, "name"),
	       str_of(v, "id"), int_of(v, "epoch"), int_of(v, "carts"), int_of(m, "alive"),
	       int_of(m, "suspect"), int_of(m, "dead"));
}

static void print_faults(json_t *v)
{
	json_t *blocked = json_object_get(v, "blocked"), *c = json_object_get(v, "counters"), *b;
	size_t i;
	printf("drop %g  duplicate %g  delay %lldms\n",
	       json_number_value(json_object_get(v, "drop")),
	       json_number_value(json_object_get(v, "duplicate")), int_of(v, "delay_ms"));
	printf("blocked  %s", json_array_size(blocked) ? "" : "(none)");
	json_array_foreach(blocked, i, b)
		printf("%s%s", i ? ", " : "", json_string_value(b));
	printf("\ncounters dropped %lld  duplicated %lld  delayed %lld  blocked %lld\n",
	       int_of(c, "dropped"), int_of(c, "duplicated"), int_of(c, "delayed"),
	       int_of(c, "blocked"));
}

/* One request whose JSON answer goes through show (or out raw). */
static int show(const ctl_opts *o, const char *method, const char *target, const char *body,
                void (*render)(json_t *))
{
	ctl_http_response res;
	int rc = ctl_request(o, method, target, body, &res);
	if (rc != CTL_OK)
		return rc;
	if (o->json || !render) {
		fwrite(res.body, 1, res.body_len, stdout);
	} else {
		json_t *v = json_loadb(res.body, res.body_len, 0, NULL);
		if (v)
			render(v);
		else
			fprintf(stderr, "cartctl: the answer is not JSON:\n%s\n", res.body);
		rc = v ? CTL_OK : CTL_FAIL;
		json_decref(v);
	}
	ctl_http_response_free(&res);
	return rc;
}

int ctl_cmd_info(const ctl_opts *o, int argc, char **argv)
{
	if (argc != 1)
		return ctl_usage_error("usage: %s (takes no arguments)", argv[0]);
	if (strcmp(argv[0], "cluster") == 0)
		return show(o, "GET", "/cluster", NULL, print_cluster);
	if (strcmp(argv[0], "health") == 0)
		return show(o, "GET", "/health", NULL, print_health);
	return show(o, "GET", "/metrics", NULL, NULL);
}

/* Reads a value flag "--name V" or "--name=V" at argv[*i]; NULL if argv[*i]
 * is not that flag.  *bad is set when the value is missing. */
static const char *flag_value(int argc, char **argv, int *i, const char *name, bool *bad)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*bad = true;
		return NULL;
	}
	return argv[++*i];
}

static int number_flag(json_t *body, const char *key, const char *text)
{
	char *end = NULL;
	double d = strtod(text, &end);
	if (!*text || *end)
		return ctl_usage_error("%s must be a number, not \"%s\"", key, text);
	if (strcmp(key, "delay_ms") == 0)
		json_object_set_new(body, key, json_integer((json_int_t)d));
	else
		json_object_set_new(body, key, json_real(d));
	return CTL_OK;
}

/* Builds the POST /admin/faults body from set's flags. */
static int faults_body(int argc, char **argv, json_t *body)
{
	json_t *block = json_array(), *unblock = json_array();
	int rc = CTL_OK;
	json_object_set_new(body, "block", block);
	json_object_set_new(body, "unblock", unblock);
	for (int i = 2; i < argc && rc == CTL_OK; i++) {
		bool bad = false;
		const char *v;
		if ((v = flag_value(argc, argv, &i, "--drop", &bad)))
			rc = number_flag(body, "drop", v);
		else if (!bad && (v = flag_value(argc, argv, &i, "--duplicate", &bad)))
			rc = number_flag(body, "duplicate", v);
		else if (!bad && (v = flag_value(argc, argv, &i, "--delay-ms", &bad)))
			rc = number_flag(body, "delay_ms", v);
		else if (!bad && (v = flag_value(argc, argv, &i, "--block", &bad)))
			json_array_append_new(block, json_string(v));
		else if (!bad && (v = flag_value(argc, argv, &i, "--unblock", &bad)))
			json_array_append_new(unblock, json_string(v));
		else
			rc = ctl_usage_error("faults set: unknown or incomplete option \"%s\"", argv[i]);
	}
	if (json_array_size(block) == 0)
		json_object_del(body, "block");
	if (json_array_size(unblock) == 0)
		json_object_del(body, "unblock");
	return rc;
}

int ctl_cmd_faults(const ctl_opts *o, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "show";
	if (strcmp(sub, "show") == 0 && argc <= 2)
		return show(o, "GET", "/admin/faults", NULL, print_faults);
	if (strcmp(sub, "clear") == 0 && argc == 2)
		return show(o, "DELETE", "/admin/faults", NULL, print_faults);
	if (strcmp(sub, "set") != 0)
		return ctl_usage_error("usage: faults [show | clear | set OPTIONS]");
	json_t *body = json_object();
	int rc = body ? faults_body(argc, argv, body) : CTL_FAIL;
	char *text = rc == CTL_OK ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (rc == CTL_OK && text)
		rc = show(o, "POST", "/admin/faults", text, print_faults);
	free(text);
	return rc;
}
