-- POST /oauth/token, client_credentials with HTTP Basic (RFC 6749 §2.3.1, §4.4).
-- BENCH_BASIC holds base64(client_id:client_secret); BENCH_CLOSE=1 asks for a new
-- connection per request (the server answers Connection: close and wrk reconnects).
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("BENCH_BASIC")
if os.getenv("BENCH_CLOSE") == "1" then
  wrk.headers["Connection"] = "close"
end
done = report
