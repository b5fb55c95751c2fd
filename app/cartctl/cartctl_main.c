/*
 * cartctl_main.c - the cartctl command: global options, dispatch to the
 * command implementations (app/cartctl/cartctl.h), and the --help text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cartctl/cartctl.h"

static const char usage_text[] =
"NAME\n"
"    cartctl - command-line client of cartd, the replicated cart store\n"
"\n"
"SYNOPSIS\n"
"    cartctl [--peer ADDR] [--json] [--timeout MS] COMMAND [ARGS]\n"
"    cartctl --help\n"
"\n"
"DESCRIPTION\n"
"    cartctl sends one request to one cartd peer's HTTP API and prints the\n"
"    answer: readable text by default, the server's JSON unchanged with --json.\n"
"    It also generates keyrings and starts and stops a local cluster.\n"
"\n"
"GLOBAL OPTIONS (before or after the command)\n"
"    --peer ADDR    Peer to talk to: host:port, [v6]:port or http://host:port.\n"
"                   Default: $CARTD_PEER, else " CTL_DEFAULT_PEER ".\n"
"    --json         Print the JSON answer as received (for scripts and jq).\n"
"    --timeout MS   Give up on a request after MS milliseconds.  Default: 10000.\n"
"    -h, --help     Print this text.\n"
"\n"
"CART COMMANDS\n"
"    get CART                  Show a cart's items and its context token; for a\n"
"                              checked-out cart also its orders and late items.\n"
"    add CART SKU QTY          Add QTY (1..1000000) of SKU.\n"
"    set CART SKU QTY          Set SKU's quantity to QTY; 0 removes the line.\n"
"    remove CART SKU [--token T]\n"
"                              Remove SKU's line.  With a token from an earlier\n"
"                              get, remove only what that read saw: an add made\n"
"                              concurrently elsewhere survives.\n"
"    clear CART [--token T]    Remove every line (only those the token saw).\n"
"    checkout CART [--token T] Close the cart at what the token saw (without a\n"
"                              token: at what the peer holds) and print the\n"
"                              order.  Later writes to the cart are refused.\n"
"    Cart ids and skus are 1..128 characters of A-Z a-z 0-9 . _ ~ : @ -.\n"
"    Writes print the cart as it is after the write, once it is durable.\n"
"    add, set, remove, clear and checkout take --idempotency-key KEY (1..255\n"
"    printable ASCII characters): a retry with the same KEY, at any peer, is\n"
"    applied once and answered as the first attempt was, marked\n"
"    \"replayed\".  A keyed write prints what it did (its receipt), not the\n"
"    cart.  Use a new KEY for every new write.\n"
"\n"
"PEER COMMANDS\n"
"    health                    Is the peer up; its id, epoch, carts, members.\n"
"    cluster                   The peer's view of the membership: state, last\n"
"                              heard, last in-sync anti-entropy round, buckets\n"
"                              that differed, and its root digest.\n"
"    metrics                   Prometheus text exposition, as served.\n"
"    faults [show]             Fault injection state (peers started with\n"
"                              --enable-fault-injection only).\n"
"    faults clear              Remove every injected fault.\n"
"    faults set [--drop P] [--duplicate P] [--delay-ms N]\n"
"               [--block PEER]... [--unblock PEER]...\n"
"                              P in 0..1; N in 0..60000; PEER is a replica id in\n"
"                              hex (see 'cluster') or a gossip host:port.\n"
"                              Options not given keep their current value.\n"
"\n"
"LOCAL CLUSTER AND KEYS\n"
"    keygen [FILE] [--force]   Write a new cluster keyring to FILE with mode 0600,\n"
"                              or to stdout: a fresh cluster signing key (secret\n"
"                              and public) and token key.  Peers may share it\n"
"                              (each certifies itself), or keep it offline and\n"
"                              issue one keyring per peer.  An existing FILE is\n"
"                              kept unless --force.\n"
"    issue CLUSTER-KEYRING [FILE] [--force]\n"
"                              Write the keyring of one new peer, certified by\n"
"                              CLUSTER-KEYRING: its own key pair and certificate,\n"
"                              the cluster's public keys and token keys, no\n"
"                              cluster secret.  Prints the new peer's id.\n"
"    cluster up N [--base-port P] [--dir D] [--fault-injection] [--cartd PATH]\n"
"               [-- CARTD-OPTIONS...]\n"
"                              Start N (1..100) cartd peers on 127.0.0.1 in the\n"
"                              background, sharing a fresh key D/cluster.key,\n"
"                              each seeded with all the others.  Peer I serves\n"
"                              HTTP on P+I-1 and gossips on P+100+I-1 (P default\n"
"                              8080); data in D/peerI, logs in D/peerI.log, pids\n"
"                              in D/peerI.pid, addresses in D/cluster.env.  D\n"
"                              defaults to ./cartd-local.  cartd is taken from\n"
"                              cartctl's own directory, else from PATH.  Waits\n"
"                              until every peer answers /health.\n"
"    cluster down [--dir D]    SIGTERM every peer of D, wait for each (SIGKILL\n"
"                              after 10 s), and report.  Data dirs are kept.\n"
"\n"
"EXIT STATUS\n"
"    0  success\n"
"    1  the request failed or the peer answered an error (printed on stderr\n"
"       as: cartctl: PEER answered STATUS CODE: MESSAGE)\n"
"    2  invalid command line\n"
"\n"
"EXAMPLES\n"
"    cartctl cluster up 3 --fault-injection\n"
"    cartctl --peer 127.0.0.1:8080 add c1 apple 2\n"
"    cartctl --peer 127.0.0.1:8081 get c1\n"
"    T=$(cartctl --json get c1 | jq -r .token); cartctl remove c1 apple --token \"$T\"\n"
"    cartctl add c1 pear 1 --idempotency-key order-7-line-2\n"
"    cartctl checkout c1 --token \"$T\" --idempotency-key order-7\n"
"    cartctl --peer 127.0.0.1:8082 faults set --block 127.0.0.1:8180\n"
"    cartctl cluster down\n"
"\n"
"SEE ALSO\n"
"    cartd(1), docs/api.md\n";

int ctl_usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("cartctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(see cartctl --help)\n", stderr);
	return CTL_USAGE;
}

/* Takes the global options out of argv wherever they are; the rest (the
 * command and its arguments) is compacted to the front.  Returns the new
 * argc, or -1 after a usage error, or -2 for --help. */
static int take_globals(int argc, char **argv, ctl_opts *o)
{
	const char *peer = getenv("CARTD_PEER");
	int out = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[out++] = argv[i++];   /* cluster up passes these on */
			break;
		}
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return -2;
		if (strcmp(argv[i], "--json") == 0) {
			o->json = true;
		} else if (strcmp(argv[i], "--peer") == 0 && i + 1 < argc) {
			peer = argv[++i];
		} else if (strncmp(argv[i], "--peer=", 7) == 0) {
			peer = argv[i] + 7;
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			o->timeout_ms = atoi(argv[++i]);
			if (o->timeout_ms <= 0)
				return ctl_usage_error("--timeout must be a positive number of ms"), -1;
		} else {
			argv[out++] = argv[i];
		}
	}
	if (!peer || !*peer)
		peer = CTL_DEFAULT_PEER;
	if (ctl_parse_peer(peer, &o->peer) != 0)
		return ctl_usage_error("--peer: \"%s\" is not host:port (numeric address, or "
		                       "localhost)", peer), -1;
	hostport_ip_format(&o->peer, o->peer_text, sizeof o->peer_text);
	return out;
}

static int dispatch(const ctl_opts *o, int argc, char **argv)
{
	const char *c = argv[0];
	if (strcmp(c, "get") == 0)
		return ctl_cmd_get(o, argc, argv);
	if (strcmp(c, "add") == 0 || strcmp(c, "set") == 0)
		return ctl_cmd_add(o, argc, argv);
	if (strcmp(c, "remove") == 0 || strcmp(c, "clear") == 0)
		return ctl_cmd_remove(o, argc, argv);
	if (strcmp(c, "checkout") == 0)
		return ctl_cmd_checkout(o, argc, argv);
	if (strcmp(c, "cluster") == 0 && argc > 1 && strcmp(argv[1], "up") == 0)
		return ctl_cmd_cluster_up(o, argc, argv);
	if (strcmp(c, "cluster") == 0 && argc > 1 && strcmp(argv[1], "down") == 0)
		return ctl_cmd_cluster_down(argc, argv);
	if (strcmp(c, "cluster") == 0 || strcmp(c, "health") == 0 || strcmp(c, "metrics") == 0)
		return ctl_cmd_info(o, argc, argv);
	if (strcmp(c, "faults") == 0)
		return ctl_cmd_faults(o, argc, argv);
	if (strcmp(c, "keygen") == 0)
		return ctl_cmd_keygen(argc, argv);
	if (strcmp(c, "issue") == 0)
		return ctl_cmd_issue(argc, argv);
	return ctl_usage_error("unknown command \"%s\"", c);
}

int main(int argc, char **argv)
{
	ctl_opts o = { .argv0 = argv[0] };
	int n = take_globals(argc, argv, &o);
	if (n == -2) {
		fputs(usage_text, stdout);
		return CTL_OK;
	}
	if (n < 0)
		return CTL_USAGE;
	if (n == 0)
		return ctl_usage_error("no command given");
	/* Output may go to a pipe: make what was printed reach it in order
	 * with the error lines on stderr. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	return dispatch(&o, n, argv);
}
