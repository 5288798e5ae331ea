-- wrk script for bench/run.sh: every request carries the URL in BENCH_URL.
-- Through a forward proxy that is an absolute-form URL (RFC 9112 section
-- 3.2.2), e.g. http://127.0.0.1:PORT/1k; for the direct reference it is the
-- origin-form path /1k. Keep-alive is wrk's default.
wrk.path = os.getenv("BENCH_URL")
wrk.headers["Host"] = os.getenv("BENCH_HOST")
