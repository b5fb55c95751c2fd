-- get.lua - wrk script: reads a random cart, as fast as wrk goes.
--
--   wrk -t1 -c64 -d2s -s bench/lua/get.lua http://127.0.0.1:8080 -- [CARTS]
--
-- Each request is GET /carts/cart-<k> with k uniform in 0..CARTS-1 (default
-- 100000), the ids add.lua writes.  Prints the same RESULT line as add.lua.
local carts = 100000

function setup(thread)
  thread:set("seed", math.random(1, 2^30))
end

function init(args)
  carts = tonumber(args[1]) or carts
  math.randomseed(os.time() + (seed or 0))
end

function request()
  return wrk.format("GET", string.format("/carts/cart-%d", math.random(0, carts - 1)))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f non2xx=%d errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
