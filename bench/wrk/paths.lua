-- GET each path of $BENCH_PATHS in turn (one path with its query per line), with
-- "Authorization: Bearer $BENCH_TOKEN" when that is set.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
  paths[#paths + 1] = line
end
local counter = 0

function init(args)
  counter = math.random(#paths)
end

local headers = {["Accept"] = "application/fhir+json"}
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  headers["Authorization"] = "Bearer " .. token
end

function request()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter], headers)
end

done = bench_done
