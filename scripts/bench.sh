#!/usr/bin/env bash
# End-to-end benchmarks: `synthtel generate` throughput per dialect and format on one core, and
# the daemon's readiness time and idle memory on the default configuration.
#
#   scripts/bench.sh            # prints a Markdown report on stdout
#   LINES=2000000 scripts/bench.sh
#
# Throughput is measured pinned to one core (taskset -c 0) with output to /dev/null, at a
# virtual rate of RATE lines per second (so each 100 ms bucket holds RATE/10 lines).
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-1000000}
RATE=${RATE:-50000}
RUNS=${RUNS:-3}
BIN=${CARGO_TARGET_DIR:-target}/release/synthtel

cargo build --release --quiet
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (/usr/bin/time)" >&2; exit 1; }

best_seconds() {
  # Runs the command RUNS times and prints the fastest wall time in seconds.
  local best=""
  for _ in $(seq "$RUNS"); do
    local t
    t=$( { /usr/bin/time -f "%e" "$@" >/dev/null; } 2>&1 | tail -1 )
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
  done
  echo "$best"
}

echo "## synthtel generate, one core ($(date -u +%Y-%m-%d))"
echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')."
echo "Command: \`taskset -c 0 synthtel generate --signal logs --dialect D --format F --count $LINES --rate $RATE --output /dev/null\`, best of $RUNS."
echo
echo "| dialect | format | lines/s | MB/s |"
echo "| --- | --- | ---: | ---: |"
for spec in apache_combined:lines json:lines apache_common:lines nginx:lines logfmt:lines \
            syslog_rfc3164:lines syslog_rfc5424:lines cri:lines java_stacktrace:lines \
            json:ndjson apache_combined:loki-protobuf json:loki-protobuf apache_combined:loki-json; do
  dialect=${spec%%:*}; format=${spec#*:}
  if ! "$BIN" generate --signal logs --dialect "$dialect" --format "$format" --count 10 \
      --output /dev/null 2>/dev/null; then
    echo "| $dialect | $format | unsupported | |"
    continue
  fi
  bytes=$("$BIN" generate --signal logs --dialect "$dialect" --format "$format" --count "$LINES" \
      --rate "$RATE" --output - | wc -c)
  seconds=$(best_seconds taskset -c 0 "$BIN" generate --signal logs --dialect "$dialect" \
      --format "$format" --count "$LINES" --rate "$RATE" --output /dev/null)
  awk -v d="$dialect" -v f="$format" -v n="$LINES" -v s="$seconds" -v b="$bytes" \
    'BEGIN { if (s <= 0) s = 0.001; printf "| %s | %s | %.0f | %.0f |\n", d, f, n / s, b / s / 1e6 }'
done

echo
echo "## synthtel generate, metrics and traces, one core"
echo
echo "| signal | format | command | records/s | MB/s |"
echo "| --- | --- | --- | ---: | ---: |"
for spec in "metrics:prometheus:--from 2025-06-01T00:00:00Z --to 2025-06-01T02:00:00Z" \
            "metrics:remote-write-protobuf:--from 2025-06-01T00:00:00Z --to 2025-06-01T02:00:00Z" \
            "traces:otlp-protobuf:--count 500000 --rate 2000" \
            "traces:otlp-json:--count 200000 --rate 2000"; do
  signal=${spec%%:*}; rest=${spec#*:}; format=${rest%%:*}; range=${rest#*:}
  # shellcheck disable=SC2086
  bytes=$("$BIN" generate --signal "$signal" --format "$format" $range --output - | wc -c)
  # shellcheck disable=SC2086
  seconds=$(best_seconds taskset -c 0 "$BIN" generate --signal "$signal" --format "$format" \
      $range --output /dev/null)
  # shellcheck disable=SC2086
  count=$(RUST_LOG=info "$BIN" generate --signal "$signal" --format "$format" $range \
      --output /dev/null --log-format json 2>&1 | sed -n 's/.*"records":\([0-9]*\).*/\1/p' | tail -1)
  awk -v s="$signal" -v f="$format" -v r="$range" -v n="${count:-0}" -v t="$seconds" -v b="$bytes" \
    'BEGIN { if (t <= 0) t = 0.001; printf "| %s | %s | `%s` | %.0f | %.0f |\n", s, f, r, n / t, b / t / 1e6 }'
done

# Pure span volume from a `traces` source (the simulation above also simulates requests).
volume=$(mktemp)
printf '[tenants.acme]\n[sources.volume]\ntype = "traces"\ntraces_per_second = 20000\n' > "$volume"
seconds=$(best_seconds taskset -c 0 "$BIN" generate --signal traces --format otlp-protobuf \
    --config "$volume" --source volume --count 1000000 --output /dev/null)
bytes=$("$BIN" generate --signal traces --format otlp-protobuf --config "$volume" --source volume \
    --count 1000000 --output - | wc -c)
rm -f "$volume"
awk -v t="$seconds" -v b="$bytes" 'BEGIN { if (t <= 0) t = 0.001;
  printf "| traces (traces source) | otlp-protobuf | `--count 1000000` | %.0f | %.0f |\n", 1000000 / t, b / t / 1e6 }'

echo
echo "## Daemon on the default configuration"
echo
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start=$(date +%s%N)
scrape=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SYNTHTEL_ADMIN_LISTEN=127.0.0.1:$port SYNTHTEL_SCRAPE_LISTEN=127.0.0.1:$scrape "$BIN" run >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.002; done
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
sleep 10
rss_kb=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
# Bursts: milliseconds from acceptance to the first batch offered to an exporter.
latencies=""
for _ in 1 2 3 4 5; do
  id=$(curl -fsS -X POST "http://127.0.0.1:$port/api/v1/bursts" \
        -d '{"tenant":"acme","count":2000,"rate":{"from":20000},"dialect":"json"}' |
       python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  sleep 0.5
  ms=$(curl -fsS "http://127.0.0.1:$port/api/v1/bursts/$id" |
       python3 -c 'import json,sys; print(round(json.load(sys.stdin).get("first_batch_ms", -1), 1))')
  latencies="$latencies $ms"
done
kill -TERM "$pid"; wait "$pid" || true
trap - EXIT
echo "| measure | value |"
echo "| --- | ---: |"
echo "| time from exec to \`/readyz\` 200 | ${ready_ms} ms |"
echo "| resident memory after 10 s idle | $((rss_kb / 1024)) MB ($rss_kb kB) |"
echo "| burst: acceptance to first batch at the exporter, 5 bursts (ms) |$latencies |"

echo
echo "## Scrape targets holding 1,000,000 series"
echo
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
scrape=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$dir/million.toml" <<CONFIG
[admin]
listen = "127.0.0.1:$port"
[tenants.acme]
[sources.load]
type = "metrics"
presets = ["custom"]
[sources.load.custom]
targets = 10
families = 100
series_per_family = 1000
[exporters.targets]
type = "prometheus_scrape"
listen = "127.0.0.1:$scrape"
[pipelines.metrics]
sources = ["load"]
exporters = ["targets"]
CONFIG
"$BIN" run --config "$dir/million.toml" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.01; done
paths=$(curl -fsS "http://127.0.0.1:$scrape/sd" | python3 -c '
import json, sys
for group in json.load(sys.stdin):
    print(group["labels"]["__metrics_path__"])')
series=0
start=$(date +%s%N)
for path in $paths; do
  n=$(curl -fsS "http://127.0.0.1:$scrape$path" | grep -vc '^#' || true)
  series=$((series + n))
done
scrape_ms=$(( ($(date +%s%N) - start) / 1000000 ))
rss_kb=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
kill -TERM "$pid"; wait "$pid" || true
trap - EXIT
rm -rf "$dir"
echo "| measure | value |"
echo "| --- | ---: |"
echo "| series served (text 0.0.4 lines) | $series |"
echo "| one scrape of every target, sequential, with curl | ${scrape_ms} ms |"
echo "| daemon resident memory after the scrape | $((rss_kb / 1024)) MB |"
