-- wrk_common.lua: loaded by the bench/*.lua endpoint scripts. Prints one machine-readable
-- RESULT line (latencies in microseconds, completed requests only, as wrk records them).
-- If the endpoint script defines count_statuses = true, every response status is counted
-- per thread and reported as statuses=200:N,401:N,503:N,... (costs a Lua call per response,
-- so the GET scripts leave it off; wrk's own err_status counts non-2xx/3xx there).
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local counts = {}
  for _, t in ipairs(threads) do
    local s = t:get("status_counts")
    if type(s) == "table" then
      for k, v in pairs(s) do counts[tonumber(k)] = (counts[tonumber(k)] or 0) + v end
    end
  end
  local keys = {}
  for k in pairs(counts) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = string.format("%d:%d", k, counts[k]) end
  io.write(string.format(
    "RESULT requests=%d duration_s=%.3f rps=%.2f p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d statuses=%s\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout, #parts > 0 and table.concat(parts, ",") or "-"))
end
