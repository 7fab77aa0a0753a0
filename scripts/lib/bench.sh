# Shared by the benchmark scripts: sourced, never run. Needs $threads, $connections, $seconds.

# measure URL [wrk options...]: prints "req/s p99_ms requests" for one wrk run, after checking
# wrk saw no errors (a non-2xx answer or a socket error ends the benchmark).
measure() {
    local url="$1" out
    shift
    out=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency "$@" "$url")
    if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
        echo "wrk reported errors for $url:" >&2
        echo "$out" >&2
        exit 1
    fi
    awk '/^Requests\/sec:/ { rps = $2 }
         / requests in / { requests = $1 }
         $1 == "99%" { v = $2; ms = v + 0;
                       if (v ~ /us$/) ms /= 1000; else if (v ~ /[^m]s$/) ms *= 1000 }
         END { printf "%d %.2f %d", rps, ms, requests }' <<<"$out"
}

# rps URL [wrk options...]: requests per second alone.
rps() { measure "$@" | cut -d' ' -f1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# of VALUES...: their median.
of() { printf '%s\n' "$@" | median; }

# start_bare_hello: builds examples/bare_hello (a bare actix-web server from the same dependency
# versions) and starts it on a free port with $workers workers; sets BARE_URL, adds it to pids.
start_bare_hello() {
    cargo build --release --example bare_hello >&2
    local port
    port=$(free_port)
    target/release/examples/bare_hello "$port" "$workers" >/dev/null 2>&1 &
    pids+=($!)
    BARE_URL="http://127.0.0.1:$port/"
    for _ in $(seq 100); do
        curl -sf "$BARE_URL" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "bare_hello did not start" >&2
    return 1
}
