-- wrk script: POSTs the PDF in $BODY as a new document each time (a counter written over the
-- 20-character placeholder of its comment line, so every body is distinct and stays a valid
-- PDF), spread over $DOSSIERS dossiers, $THREADS being wrk's -t. $TOKEN is the portal token;
-- $RUN numbers the run, so that runs against the same server (scripts/bench-load's rounds)
-- send distinct bodies too.
local body = io.open(os.getenv("BODY"), "rb"):read("*a")
local at = body:find("%GUICHETBENCH0000000000", 1, true)
local prefix, suffix = body:sub(1, at + 1), body:sub(at + 22)
local dossiers = tonumber(os.getenv("DOSSIERS") or "1000")
local token = os.getenv("TOKEN")
local run = tonumber(os.getenv("RUN") or "0")
-- How many threads wrk runs (its -t), for the threads to take turns over the dossiers.
local thread_count = tonumber(os.getenv("THREADS") or "1")
local threads = 0
local counter = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function request()
  counter = counter + 1
  local id = string.format("%04d%04d%012d", run % 10000, thread_id or 0, counter)
  -- The threads take turns over the dossiers (thread 1 the first, thread 2 the second, ...):
  -- their counters move together, and two threads on the same dossier at once would make
  -- their uploads conflict (each read the dossier's version before the other's commit), as
  -- an office's uploads, spread over its candidates, seldom do.
  local n = counter * thread_count + (thread_id or 1) - 1
  local path = string.format("/api/v1/dossiers/B-%d/pieces/scan/documents", n % dossiers)
  local headers = {
    ["Authorization"] = "Bearer " .. (token or ""),
    ["Content-Disposition"] = 'attachment; filename="scan.pdf"',
    ["Content-Type"] = "application/pdf",
  }
  return wrk.format("POST", path, headers, prefix .. id .. suffix)
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d elapsed=%.2f non2xx=%d errors=%d p50_ms=%.1f p99_ms=%.1f\n",
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
