// ref_w1.cc - W1 and shuffled joins on the delta-enabled-crdts reference
// (github.com/CBaquero/delta-enabled-crdts, delta-crdts.cc), the C++
// baseline that bench_crdtref runs beside the store when it is built:
//
//   g++ -O2 -std=c++17 -I REF_DIR bench/ref/ref_w1.cc -o build/bench/ref_w1
//
// REF_DIR holds delta-crdts.cc.  The workload is bench_crdtref's: 100k
// carts (aworset<string> replicas), 1M adds of random skus in shuffled
// order, each returning its delta; then the deltas joined, in another
// shuffled order, into a second set of replicas.  Prints one line:
//   REF adds_per_s=X joins_per_s=Y
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "delta-crdts.cc"

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static double now()
{
	return std::chrono::duration<double>(
		std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char **argv)
{
	const uint32_t carts = 100000, skus = 100000, adds = 1000000;
	uint64_t rng = argc > 1 ? std::stoull(argv[1]) : 0x5DEECE66DULL;
	std::vector<std::string> sku(skus);
	char buf[16];
	for (uint32_t i = 0; i < skus; i++) {
		snprintf(buf, sizeof buf, "sku-%07u", i);
		sku[i] = buf;
	}
	std::vector<uint32_t> cart(adds), what(adds), order(adds);
	for (uint32_t i = 0; i < adds; i++) {
		cart[i] = i % carts;
		what[i] = (uint32_t)(rnd(&rng) % skus);
		order[i] = i;
	}
	for (uint32_t i = adds - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(rnd(&rng) % (i + 1));
		std::swap(cart[i], cart[j]);
		std::swap(what[i], what[j]);
	}
	for (uint32_t i = adds - 1; i > 0; i--)
		std::swap(order[i], order[(uint32_t)(rnd(&rng) % (i + 1))]);

	// Built in place: a copied dotkernel would share its original's context.
	std::vector<aworset<std::string>> a, b;
	a.reserve(carts);
	b.reserve(carts);
	for (uint32_t c = 0; c < carts; c++) {
		a.emplace_back("a");
		b.emplace_back("b");
	}
	std::vector<aworset<std::string>> delta(adds);
	double t0 = now();
	for (uint32_t i = 0; i < adds; i++)
		delta[i] = a[cart[i]].add(sku[what[i]]);
	double t1 = now();
	for (uint32_t k = 0; k < adds; k++)
		b[cart[order[k]]].join(delta[order[k]]);
	double t2 = now();
	for (uint32_t c = 0; c < carts; c++)
		if (a[c].read() != b[c].read()) {
			fprintf(stderr, "ref_w1: replica %u differs after the joins\n", c);
			return 1;
		}
	printf("REF adds_per_s=%.0f joins_per_s=%.0f\n", adds / (t1 - t0), adds / (t2 - t1));
	return 0;
}
