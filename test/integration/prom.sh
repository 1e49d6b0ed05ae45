# Queries of a real Prometheus and load for the engines it scrapes, for the
# dashboard tests (it_dashboard.sh on loopback, it_node_dashboard.sh on the
# real node). Sourced after lib.sh.

# prom_value URL EXPR: the first sample's value of an instant query ("" if none).
prom_value() {
	curl -sf -G "$1/api/v1/query" --data-urlencode "query=$2" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}

# prom_down URL: the scrape targets that Prometheus finds down, with the error.
prom_down() {
	curl -sf "$1/api/v1/targets?state=active" | python3 -c '
import json, sys
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    if t["health"] != "up":
        print("  down: %s %s %s: %s" % (t["labels"].get("job"), t["labels"].get("pod", ""), t["scrapeUrl"], t["lastError"]))'
}

all_up() { [ -z "$(prom_down "$1")" ] && [ -n "$(prom_value "$1" 'count(up)')" ]; }
prom_equals() { [ "$(prom_value "$1" "$2")" = "$3" ]; }

# drive PORT MODEL N: N clients of the engine at 127.0.0.1:PORT, each a
# bounded loop of 240 chat requests of varied prompt and generation lengths
# (killed when the test exits); drive_at HOST PORT MODEL N, of HOST:PORT.
drive() { drive_at 127.0.0.1 "$@"; }
drive_at() {
	local host=$1 port=$2 model=$3 n=$4 i
	for i in $(seq 1 "$n"); do
		(for k in $(seq 1 240); do
			words=$(((k * 37 + i * 11) % 90 + 1))
			prompt=$(printf 'tell me more about item %s. ' $(seq 1 "$words"))
			maxt=$(((k * 13 + i * 7) % 40 + 4))
			curl -s -m 30 "http://$host:$port/v1/chat/completions" -H 'Content-Type: application/json' \
				-d "{\"model\":\"$model\",\"max_tokens\":$maxt,\"messages\":[{\"role\":\"user\",\"content\":\"$prompt\"}]}" \
				>/dev/null || sleep 0.2
		done) &
		CLEANUP_PIDS="${CLEANUP_PIDS:-} $!"
	done
}
