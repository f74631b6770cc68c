-- POST /Patient with the body in $BENCH_BODY.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.path = "/Patient"
wrk.body = f:read("*a")
f:close()
-- bench/xml_bench.py sends and asks for XML; everything else JSON.
wrk.headers["Content-Type"] = os.getenv("BENCH_CTYPE") or "application/fhir+json"
wrk.headers["Accept"] = os.getenv("BENCH_ACCEPT") or "application/fhir+json"

done = bench_done
