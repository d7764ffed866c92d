-- wrk's done hook: prints every request's latency as the histogram wrk kept
-- ("HIST microseconds:count,…"), so scripts/bench.mjs can pool the rounds
-- of a contender and read its percentiles over all of their requests.
done = function(summary, latency, requests)
  local parts = {}
  local i = 1
  while true do
    local value, count = latency(i)
    -- Past the last recorded latency wrk answers 0 (no request takes 0 µs).
    if value == nil or value == 0 then break end
    parts[#parts + 1] = value .. ":" .. count
    i = i + 1
  end
  io.write("HIST " .. table.concat(parts, ",") .. "\n")
end
