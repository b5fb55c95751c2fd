-- add.lua - wrk script: adds one item to a random cart, as fast as wrk goes.
--
--   wrk -t1 -c64 -d2s -s bench/lua/add.lua http://127.0.0.1:8080 -- [CARTS [SKUS [LIMIT [PREFER]]]]
--
-- Each request is POST /carts/cart-<k>/items {"sku":"sku-<s>","qty":1} with k
-- uniform in 0..CARTS-1 (default 100000) and s in 1..SKUS (default 1: every
-- add hits sku-1, as redis-benchmark's HINCRBY cart:<k> sku 1 does).  With
-- LIMIT > 0 a thread stops sending after LIMIT answers: a bound on the count
-- beside wrk's -d bound on the time.  PREFER "minimal" sends
-- Prefer: return=minimal (answers are 204 without the cart).  At the end one line for scripts:
--   RESULT requests=N rps=X p50_ms=X p99_ms=X non2xx=N errors=N
-- (non2xx: answers other than 2xx/3xx; errors: connect, read, write, timeout)
local carts, skus, limit, seen = 100000, 1, 0, 0
local headers = { ["Content-Type"] = "application/json" }

local function count(status, hdrs, body)
  seen = seen + 1
  if seen >= limit then
    wrk.thread:stop()
  end
end

function setup(thread)
  thread:set("seed", math.random(1, 2^30))
end

function init(args)
  carts = tonumber(args[1]) or carts
  skus = tonumber(args[2]) or skus
  limit = tonumber(args[3]) or limit
  if args[4] == "minimal" then
    headers["Prefer"] = "return=minimal"
  end
  math.randomseed(os.time() + (seed or 0))
  -- wrk parses answers for Lua only when response() exists: define it
  -- only when a limit needs it, so the plain run pays nothing for it.
  if limit > 0 then
    response = count
  end
end

function request()
  local path = string.format("/carts/cart-%d/items", math.random(0, carts - 1))
  local body = string.format('{"sku":"sku-%d","qty":1}', math.random(1, skus))
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f non2xx=%d errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
