-- GET /Patient/<id>, cycling through the ids in $BENCH_IDS (one per line).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
  ids[#ids + 1] = line
end
local counter = 0
-- bench/xml_bench.py asks for XML; everything else for JSON.
local accept = os.getenv("BENCH_ACCEPT") or "application/fhir+json"

function init(args)
  -- Each wrk thread starts at a different offset so threads do not read in lockstep.
  counter = math.random(#ids)
end

function request()
  counter = counter % #ids + 1
  return wrk.format("GET", "/Patient/" .. ids[counter], {["Accept"] = accept})
end

done = bench_done
