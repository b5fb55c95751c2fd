/*
 * check_chaos.c - cartd under failure, with real processes on loopback
 * (helpers in test_proc.c and test_chaos_*.c):
 *
 *   kill_during_writes   kill -9 a peer while eight clients write to it;
 *                        restarted alone on its data dir, it holds every
 *                        acknowledged write, with a higher boot epoch; its
 *                        next writes are taken by the others (no dot was
 *                        reused), and all converge
 *   kill_under_load      kill -9 and restart random peers of three, several
 *                        times, under a load spread over all of them; then
 *                        byte-identical carts (token included) and root
 *                        digests, and no acknowledged add lost
 *   nft_partition        nftables drops one peer's UDP; every row of the
 *                        semantics table is played on both sides of the
 *                        cut; after the table is deleted, the merged result
 *                        of each row, everywhere          (root + nft only)
 *   partition_script     scripts/partition.sh --mode fault: cut, status,
 *                        replace a cut, heal, heal again, bad usage
 *   partition_script_nft scripts/partition.sh --mode nft   (root + nft only)
 *   bench_script_args    the bench/ scripts print their settings for
 *                        --help and refuse any other argument, starting
 *                        nothing
 *
 * The nft tests run in a network namespace of their own (unshare), so their
 * rules never touch the host's ruleset and vanish with the test process,
 * however it ends.  Where that is impossible (not root, no nft, no
 * namespaces, CK_FORK=no) they are not registered, and the suite prints
 * "SKIPPED: <reason>" instead: never a silent pass.
 *
 * Waits poll with deadlines; a failed wait prints what was last seen.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/test_chaos.h"
#include "tests/test_tmpdir.h"

#define CONVERGE_MS 30000
#define ACK_WAIT_MS 30000
#define SCRIPT_MS 60000

static char parent[64];
static tp_cluster cl;
static tc_load *load;

static void dir_setup(void)
{
	tt_mkdtemp(parent, sizeof parent, "/tmp", "cartd-check-chaos");
}

static void dir_teardown(void)
{
	tt_rmtree(parent);
}

static void cl_setup(void)
{
	tp_light();
	load = NULL;
	tp_cluster_init(&cl, parent);
}

static void cl_teardown(void)
{
	tc_load_free(load);
	load = NULL;
	tp_cluster_destroy(&cl);
}

/* Asserts peer i shows cart as want within the deadline. */
static void expect_items(int i, const char *cart, const char *want)
{
	tp_expect_items(&cl, i, cart, want, CONVERGE_MS);
}

/* Peer i shows cart as want now (no waiting: for "the cut holds"). */
static void expect_now(int i, const char *cart, const char *want, const char *why)
{
	char seen[1024];
	tp_items(&cl, i, cart, seen, sizeof seen);
	ck_assert_msg(strcmp(seen, want) == 0, "%s: cart %s is \"%s\", want \"%s\" (%s)",
	              cl.peers[i].name, cart, seen, want, why);
}

/* One write in the little language of the tests: "add SKU N", "set SKU N",
 * "remove SKU", "clear".  Asserts 200. */
static void op(int i, const char *cart, const char *what)
{
	char verb[16], sku[64], target[256], body[128];
	int qty = 0, status;
	const char *method = "POST", *b = NULL;
	int n = sscanf(what, "%15s %63s %d", verb, sku, &qty);
	if (strcmp(verb, "add") == 0 && n == 3) {
		snprintf(target, sizeof target, "/carts/%s/items", cart);
		snprintf(body, sizeof body, "{\"sku\":\"%s\",\"qty\":%d}", sku, qty);
		b = body;
	} else if (strcmp(verb, "set") == 0 && n == 3) {
		method = "PUT";
		snprintf(target, sizeof target, "/carts/%s/items/%s", cart, sku);
		snprintf(body, sizeof body, "{\"qty\":%d}", qty);
		b = body;
	} else if (strcmp(verb, "remove") == 0 && n == 2) {
		method = "DELETE";
		snprintf(target, sizeof target, "/carts/%s/items/%s", cart, sku);
	} else {
		ck_assert_msg(strcmp(verb, "clear") == 0 && n == 1, "bad op \"%s\"", what);
		method = "DELETE";
		snprintf(target, sizeof target, "/carts/%s", cart);
	}
	json_t *v = tp_json(&cl, i, method, target, b, &status);
	ck_assert_msg(status == 200, "%s: %s on %s answered %d", cl.peers[i].name, what, cart,
	              status);
	json_decref(v);
}

static void print_load(const char *when)
{
	char d[160];
	tc_load_describe(load, d, sizeof d);
	fprintf(stderr, "chaos: %s: %s\n", when, d);
}

static void expect_no_rejects(void)
{
	ck_assert_msg(tc_load_count(load, TC_REJECTED) == 0, "%ld writes rejected; first: %s",
	              tc_load_count(load, TC_REJECTED), tc_load_first_reject(load));
}

/* How many lines of peer i's log (every run of it, appended) hold what. */
static int log_lines_with(int i, const char *what)
{
	FILE *f = fopen(cl.peers[i].log, "r");
	ck_assert_msg(f != NULL, "cannot read %s", cl.peers[i].log);
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

static void expect_all_acked_at(int i)
{
	char report[2048];
	int bad = tc_load_verify(load, &cl, i, report, sizeof report);
	ck_assert_msg(bad == 0, "%s: %d violation(s) of the clients' record:%s", cl.peers[i].name,
	              bad, report);
}

/* (a) */
START_TEST(test_kill_during_writes)
{
	int nthreads = tp_light() ? 3 : 8, before = tp_light() ? 10 : 60;
	int target = 0;
	for (int i = 0; i < 3; i++)
		tp_add_peer(&cl, false, NULL);
	long long epoch = tc_epoch(&cl, 0);

	load = tc_load_start(&cl, &target, 1, nthreads, 100000, "a");
	ck_assert_msg(tc_load_wait_acked(load, before, ACK_WAIT_MS), "the load did not get going");
	tp_stop(&cl, 0, SIGKILL);          /* with writes in flight */
	tc_load_stop(load);
	char what[64];
	snprintf(what, sizeof what, "peer0 killed under %d writers", nthreads);
	print_load(what);
	fprintf(stderr, "chaos: writes in flight at the kill (outcome unknown): %ld\n",
	        tc_load_count(load, TC_UNKNOWN));
	expect_no_rejects();

	/* Restarted alone, peer0 can only hold what its own disk kept. */
	tp_stop(&cl, 1, SIGTERM);
	tp_stop(&cl, 2, SIGTERM);
	tp_restart(&cl, 0);
	long long after = tc_epoch(&cl, 0);
	ck_assert_msg(after > epoch, "peer0's boot epoch went from %lld to %lld", epoch, after);
	/* The acknowledged writes were in its log, not yet folded into LMDB
	 * (far below --log-size): the restart folded them first. */
	ck_assert_int_eq(log_lines_with(0, "event=log_recovered records="), 1);
	expect_all_acked_at(0);

	/* Its new writes carry new dots: if a dot of before the kill were
	 * reused, the others would take the new write for one they have. */
	tp_restart(&cl, 1);
	tp_restart(&cl, 2);
	for (int t = 0; t < nthreads; t++) {
		char cart[32];
		snprintf(cart, sizeof cart, "a-t%d-0", t);
		op(0, cart, "add x-after 1");
	}
	tc_wait_identical(&cl, load, NULL, CONVERGE_MS);
	for (int i = 0; i < 3; i++)
		expect_all_acked_at(i);
	for (int t = 0; t < nthreads; t++) {
		char cart[32], seen[16384];
		snprintf(cart, sizeof cart, "a-t%d-0", t);
		tp_items(&cl, 2, cart, seen, sizeof seen);
		ck_assert_msg(strstr(seen, "x-after:1") != NULL, "peer2: %s lacks x-after: %s",
		              cart, seen);
	}
}
END_TEST

/* (b) */
START_TEST(test_kill_under_load)
{
	int rounds = tp_light() ? 2 : 6, nthreads = tp_light() ? 2 : 4, step = tp_light() ? 8 : 40;
	int targets[] = { 0, 1, 2 };
	unsigned seed = (unsigned)tp_now_ms();
	for (int i = 0; i < 3; i++)
		tp_add_peer(&cl, false, NULL);
	fprintf(stderr, "chaos: kill_under_load seed %u\n", seed);

	load = tc_load_start(&cl, targets, 3, nthreads, 100000, "b");
	for (int r = 0; r < rounds; r++) {
		int i = (int)(rand_r(&seed) % 3);
		ck_assert(tc_load_wait_acked(load, tc_load_count(load, TC_ACKED) + step, ACK_WAIT_MS));
		long long e0 = tc_epoch(&cl, i);
		tp_stop(&cl, i, SIGKILL);
		/* The two others keep taking writes meanwhile. */
		ck_assert(tc_load_wait_acked(load, tc_load_count(load, TC_ACKED) + step / 2,
		                             ACK_WAIT_MS));
		tp_restart(&cl, i);
		long long e1 = tc_epoch(&cl, i);
		ck_assert_msg(e1 > e0, "%s: boot epoch %lld then %lld", cl.peers[i].name, e0, e1);
		char what[64];
		snprintf(what, sizeof what, "round %d: %s killed and back (epoch %lld)", r + 1,
		         cl.peers[i].name, e1);
		print_load(what);
	}
	ck_assert(tc_load_wait_acked(load, tc_load_count(load, TC_ACKED) + step, ACK_WAIT_MS));
	tc_load_stop(load);
	print_load("load stopped");
	expect_no_rejects();

	tc_wait_identical(&cl, load, NULL, CONVERGE_MS);
	for (int i = 0; i < 3; i++)
		expect_all_acked_at(i);
}
END_TEST

/* The semantics table (docs/semantics.md), each row from x:1 on a cart of
 * its own: side A (peers 0 and 1) and side B (peer 2) write concurrently
 * across a cut.  a_view and b_view are the sides during the cut. */
static const struct sem_row {
	const char *cart, *a, *b, *a_view, *b_view, *merged;
} rows[] = {
	{ "sem-add-add", "add x 2", "add x 3", "x:3", "x:4", "x:6" },
	{ "sem-remove-add", "remove x", "add x 1", "", "x:2", "x:1" },
	{ "sem-set-set", "set x 3", "set x 5", "x:3", "x:5", "x:5" },
	{ "sem-set-add", "set x 5", "add x 1", "x:5", "x:2", "x:6" },
	{ "sem-remove-set", "remove x", "set x 4", "", "x:4", "x:4" },
	{ "sem-clear-add", "clear", "add y 1", "", "x:1,y:1", "y:1" },
};
#define NROWS (sizeof rows / sizeof rows[0])

#define NFT_TABLE "cartd_chaos"

/* Runs nft with args; returns its exit status, output in out. */
static int nft(char *out, size_t cap, const char *a1, const char *a2, const char *a3,
               const char *a4)
{
	const char *const argv[] = { "nft", a1, a2, a3, a4, NULL };
	return tc_run(argv, NULL, out, cap, 10000);
}

/* Drops UDP between peer 2's gossip port and those of peers 0 and 1. */
static void nft_cut_peer2(void)
{
	char path[300], out[1024];
	unsigned p0 = cl.peers[0].gossip_port, p1 = cl.peers[1].gossip_port,
	         p2 = cl.peers[2].gossip_port;
	snprintf(path, sizeof path, "%s/cut.nft", cl.base);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "table inet %s {\n"
	        "\tchain output {\n"
	        "\t\ttype filter hook output priority 0; policy accept;\n"
	        "\t\tip saddr 127.0.0.1 udp sport %u udp dport { %u, %u } counter drop\n"
	        "\t\tip saddr 127.0.0.1 udp sport { %u, %u } udp dport %u counter drop\n"
	        "\t}\n}\n", NFT_TABLE, p2, p0, p1, p0, p1, p2);
	ck_assert_int_eq(fclose(f), 0);
	int rc = nft(out, sizeof out, "-f", path, NULL, NULL);
	ck_assert_msg(rc == 0, "nft -f %s: exit %d: %s", path, rc, out);
}

/* Packets the table's rules dropped so far. */
static long long nft_dropped(void)
{
	char out[4096];
	long long sum = 0;
	int rc = nft(out, sizeof out, "list", "table", "inet", NFT_TABLE);
	ck_assert_msg(rc == 0, "nft list table: exit %d: %s", rc, out);
	for (const char *p = out; (p = strstr(p, "packets ")) != NULL; p += 8)
		sum += strtoll(p + 8, NULL, 10);
	return sum;
}

/* (c) */
START_TEST(test_nft_partition)
{
	char out[4096];
	const char *carts[NROWS + 1];
	tc_enter_netns();
	for (int i = 0; i < 3; i++)
		tp_add_peer(&cl, false, NULL);
	for (size_t r = 0; r < NROWS; r++) {
		carts[r] = rows[r].cart;
		op(0, rows[r].cart, "add x 1");
	}
	carts[NROWS] = NULL;
	for (size_t r = 0; r < NROWS; r++)
		for (int i = 0; i < 3; i++)
			expect_items(i, rows[r].cart, "x:1");

	nft_cut_peer2();
	for (size_t r = 0; r < NROWS; r++) {
		op(0, rows[r].cart, rows[r].a);
		op(2, rows[r].cart, rows[r].b);
	}
	for (size_t r = 0; r < NROWS; r++)
		expect_items(1, rows[r].cart, rows[r].a_view);
	/* Both sides have given up on each other: by then anti-entropy has
	 * tried many times, and the cut must have held. */
	tc_wait_member_state(&cl, 0, cl.peers[2].gossip_port, "dead", CONVERGE_MS);
	tc_wait_member_state(&cl, 2, cl.peers[0].gossip_port, "dead", CONVERGE_MS);
	for (size_t r = 0; r < NROWS; r++) {
		expect_now(1, rows[r].cart, rows[r].a_view, "side A during the cut");
		expect_now(2, rows[r].cart, rows[r].b_view, "side B during the cut");
	}
	long long dropped = nft_dropped();
	ck_assert_msg(dropped > 0, "the nft rules dropped nothing");
	fprintf(stderr, "chaos: nft dropped %lld datagrams during the cut\n", dropped);

	/* Heal: delete the table, and only it. */
	int rc = nft(out, sizeof out, "delete", "table", "inet", NFT_TABLE);
	ck_assert_msg(rc == 0, "nft delete table: exit %d: %s", rc, out);
	rc = nft(out, sizeof out, "list", "tables", NULL, NULL);
	ck_assert_msg(rc == 0 && strstr(out, NFT_TABLE) == NULL, "after heal: %s", out);
	for (size_t r = 0; r < NROWS; r++)
		for (int i = 0; i < 3; i++)
			expect_items(i, rows[r].cart, rows[r].merged);
	tc_wait_identical(&cl, NULL, carts, CONVERGE_MS);
}
END_TEST

/* The bench/ scripts take their settings from BENCH_* variables: --help
 * describes them, and an argument such as --runs is refused at once
 * rather than ignored by a run of several minutes. */
START_TEST(test_bench_script_args)
{
	static const char *const scripts[] = { "bench_http.sh", "bench_httplib.sh",
	                                       "bench_repl.sh" };
	char dir[600], script[700], out[8192];
	snprintf(dir, sizeof dir, "%s", tc_scripts_dir());
	char *slash = strrchr(dir, '/');
	snprintf(slash ? slash + 1 : dir, sizeof dir - (size_t)(slash ? slash + 1 - dir : 0),
	         "bench");
	for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
		snprintf(script, sizeof script, "%s/%s", dir, scripts[i]);
		const char *const help[] = { "bash", script, "--help", NULL };
		ck_assert_msg(tc_run(help, NULL, out, sizeof out, SCRIPT_MS) == 0, "%s --help: %s",
		              scripts[i], out);
		ck_assert_msg(strstr(out, scripts[i]) && strstr(out, "BENCH_"),
		              "%s --help does not describe its settings:\n%s", scripts[i], out);
		ck_assert_ptr_null(strstr(out, "== "));   /* no table header: nothing ran */
		const char *const bad[] = { "bash", script, "--runs", "3", NULL };
		ck_assert_msg(tc_run(bad, NULL, out, sizeof out, SCRIPT_MS) == 2, "%s --runs 3: %s",
		              scripts[i], out);
		ck_assert_msg(strstr(out, "no arguments taken: '--runs'") && !strstr(out, "== "),
		              "%s --runs 3 said:\n%s", scripts[i], out);
	}
}
END_TEST

/* Runs scripts/partition.sh with args against cl; returns its status. */
static int partition_sh(char *out, size_t cap, const char *a1, const char *a2, const char *a3,
                        const char *a4, const char *a5, const char *a6)
{
	char script[600], ctl[600], env_ctl[640];
	const char *cartd = tp_cartd();
	ck_assert_ptr_nonnull(cartd);
	snprintf(ctl, sizeof ctl, "%s", cartd);
	char *slash = strrchr(ctl, '/');
	ck_assert_ptr_nonnull(slash);
	snprintf(slash + 1, sizeof ctl - (size_t)(slash + 1 - ctl), "cartctl");
	snprintf(env_ctl, sizeof env_ctl, "CARTCTL=%s", ctl);
	snprintf(script, sizeof script, "%s/partition.sh", tc_scripts_dir());
	const char *const argv[] = { "bash", script, "--dir", cl.base, a1, a2, a3, a4, a5, a6, NULL };
	const char *const env[] = { env_ctl, NULL };
	int rc = tc_run(argv, env, out, cap, SCRIPT_MS);
	char line[256] = "";
	for (size_t k = 4; argv[k]; k++)
		snprintf(line + strlen(line), sizeof line - strlen(line), " %s", argv[k]);
	fprintf(stderr, "chaos: partition.sh%s -> %d\n", line, rc);
	return rc;
}

#define SH(out, ...) partition_sh(out, sizeof out, __VA_ARGS__)

/* Peer i's blocked list as "a,b" (as served). */
static void blocked_of(int i, char *buf, size_t cap)
{
	int status;
	json_t *v = tp_json(&cl, i, "GET", "/admin/faults", NULL, &status), *b;
	size_t k, o = 0;
	ck_assert_int_eq(status, 200);
	buf[0] = '\0';
	json_array_foreach(json_object_get(v, "blocked"), k, b) {
		int n = snprintf(buf + o, cap - o, "%s%s", k ? "," : "", json_string_value(b));
		if (n < 0 || (size_t)n >= cap - o)
			break;
		o += (size_t)n;
	}
	json_decref(v);
}

static void expect_blocked(int i, const char *want)
{
	char seen[256];
	blocked_of(i, seen, sizeof seen);
	ck_assert_msg(strcmp(seen, want) == 0, "%s blocks \"%s\", want \"%s\"", cl.peers[i].name,
	              seen, want);
}

/* (d) */
START_TEST(test_partition_script)
{
	char out[16384], g[3][32], two[80];
	for (int i = 0; i < 3; i++) {
		tp_add_peer(&cl, true, NULL);
		snprintf(g[i], sizeof g[i], "127.0.0.1:%u", cl.peers[i].gossip_port);
	}
	tc_write_cluster_env(&cl);
	op(0, "d1", "add apple 1");
	expect_items(2, "d1", "apple:1");

	int rc = SH(out, "--mode", "fault", "cut", "--isolate", "3", NULL);
	ck_assert_msg(rc == 0 && strstr(out, "cut (fault injection)"), "cut: %d: %s", rc, out);
	snprintf(two, sizeof two, "%s,%s", g[0], g[1]);
	expect_blocked(2, two);
	expect_blocked(0, g[2]);
	expect_blocked(1, g[2]);
	op(0, "d1", "add pear 2");
	expect_items(1, "d1", "apple:1,pear:2");
	tc_wait_member_state(&cl, 0, cl.peers[2].gossip_port, "dead", CONVERGE_MS);
	expect_now(2, "d1", "apple:1", "peer3 isolated by the script");

	rc = SH(out, "status", NULL, NULL, NULL, NULL, NULL);
	ck_assert_msg(rc == 0 && strstr(out, "dead") && strstr(out, g[2]), "status: %d: %s", rc,
	              out);

	/* A new cut replaces the previous one. */
	rc = SH(out, "cut", "--split", "1/2", NULL, NULL, NULL);
	ck_assert_msg(rc == 0, "cut --split 1/2: %d: %s", rc, out);
	expect_blocked(0, g[1]);
	expect_blocked(1, g[0]);
	expect_blocked(2, "");

	rc = SH(out, "heal", NULL, NULL, NULL, NULL, NULL);
	ck_assert_msg(rc == 0 && strstr(out, "healed"), "heal: %d: %s", rc, out);
	for (int i = 0; i < 3; i++)
		expect_blocked(i, "");
	for (int i = 0; i < 3; i++)
		expect_items(i, "d1", "apple:1,pear:2");
	rc = SH(out, "heal", NULL, NULL, NULL, NULL, NULL);
	ck_assert_msg(rc == 0 && strstr(out, "nothing was blocked"), "heal again: %d: %s", rc, out);

	/* Bad command lines: exit 2 and a message; nothing changed. */
	static const char *const bad[][3] = {
		{ "cut", "--isolate", "4" }, { "cut", "--split", "1/1" }, { "cut", "--split", "1,2" },
		{ "cut", NULL, NULL }, { "--mode", "bogus", "heal" }, { "chop", NULL, NULL },
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		rc = SH(out, bad[k][0], bad[k][1], bad[k][2], NULL, NULL, NULL);
		ck_assert_msg(rc == 2 && strstr(out, "partition.sh: "), "%s %s %s: %d: %s", bad[k][0],
		              bad[k][1] ? bad[k][1] : "", bad[k][2] ? bad[k][2] : "", rc, out);
	}
	for (int i = 0; i < 3; i++)
		expect_blocked(i, "");
}
END_TEST

/* (d), nft mode */
START_TEST(test_partition_script_nft)
{
	char out[16384];
	tc_enter_netns();
	for (int i = 0; i < 3; i++)
		tp_add_peer(&cl, false, NULL);
	tc_write_cluster_env(&cl);

	int rc = SH(out, "--mode", "nft", "--table", "cartd_chaos_script", "cut", "--split=1,2/3");
	ck_assert_msg(rc == 0, "cut: %d: %s", rc, out);
	rc = nft(out, sizeof out, "list", "table", "inet", "cartd_chaos_script");
	ck_assert_msg(rc == 0, "no table after the cut: %s", out);
	op(0, "n1", "add apple 1");
	expect_items(1, "n1", "apple:1");
	tc_wait_member_state(&cl, 0, cl.peers[2].gossip_port, "dead", CONVERGE_MS);
	expect_now(2, "n1", "", "peer3 cut by nft");

	rc = SH(out, "--mode", "nft", "--table", "cartd_chaos_script", "status", NULL);
	ck_assert_msg(rc == 0 && strstr(out, "table inet cartd_chaos_script is installed"),
	              "status: %d: %s", rc, out);
	rc = SH(out, "--mode", "nft", "--table", "cartd_chaos_script", "heal", NULL);
	ck_assert_msg(rc == 0, "heal: %d: %s", rc, out);
	rc = nft(out, sizeof out, "list", "tables", NULL, NULL);
	ck_assert_msg(rc == 0 && !strstr(out, "cartd_chaos_script"), "after heal: %s", out);
	for (int i = 0; i < 3; i++)
		expect_items(i, "n1", "apple:1");
	rc = SH(out, "--mode", "nft", "--table", "cartd_chaos_script", "heal", NULL);
	ck_assert_msg(rc == 0 && strstr(out, "nothing to do"), "heal again: %d: %s", rc, out);
}
END_TEST

Suite *chaos_suite(void);

Suite *chaos_suite(void)
{
	char reason[256];
	Suite *s = suite_create("chaos");
	TCase *b = tcase_create("bench_scripts");
	tcase_set_timeout(b, 60);
	tcase_add_test(b, test_bench_script_args);
	suite_add_tcase(s, b);
	TCase *t = tcase_create("processes");
	tcase_add_unchecked_fixture(t, dir_setup, dir_teardown);
	tcase_add_checked_fixture(t, cl_setup, cl_teardown);
	tcase_set_timeout(t, 120);
	tcase_add_test(t, test_kill_during_writes);
	tcase_add_test(t, test_kill_under_load);
	tcase_add_test(t, test_partition_script);
	if (tc_nft_usable(reason, sizeof reason)) {
		tcase_add_test(t, test_nft_partition);
		tcase_add_test(t, test_partition_script_nft);
	} else {
		fprintf(stderr, "SKIPPED: chaos: nft_partition and partition_script_nft not run: %s\n",
		        reason);
	}
	suite_add_tcase(s, t);
	return s;
}
