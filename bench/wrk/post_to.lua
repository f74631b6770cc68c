-- POST the body in $BENCH_BODY to $BENCH_PATH ("Authorization: Bearer $BENCH_TOKEN" when set).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH")
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/fhir+json"
wrk.headers["Accept"] = "application/fhir+json"
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

done = bench_done
