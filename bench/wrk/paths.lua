-- GET each path of $BENCH_PATHS in turn (one path with its query per line).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
  paths[#paths + 1] = line
end
local counter = 0

function init(args)
  counter = math.random(#paths)
end

function request()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter], {["Accept"] = "application/fhir+json"})
end

done = bench_done
