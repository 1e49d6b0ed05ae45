#!/usr/bin/env bash
# The Grafana dashboard, dashboards/llm-inference.json (docs/dashboard.md):
# grafana's dashboard-linter; every query parsed by promtool; and end to end,
# a real Prometheus scraping llm-d-inference-sim engines, composed pages of
# every other engine variant and of dcgm-exporter
# (dashboard_targets.py), and the real controller (`infermon run` watching
# labelled pods and their InferenceWorkloads on the test API server), with
# the SLO recordings `infermon render` writes for those as rules, each panel
# query evaluated with the variables of every engine variant it claims.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DASH=$ROOT/test/dashboard
SCENARIO=$DASH/scenario.py
CHECK=$DASH/dashcheck.py
. "$(dirname "$0")/prom.sh"

# The rules that truly cannot apply are excluded, with reasons, in
# dashboards/.lint; everything else must pass --strict.
test_lint() {
	python3 "$ROOT/dashboards/generate.py" --check || fail "dashboards/llm-inference.json is not what dashboards/generate.py writes"
	python3 - "$ROOT/dashboards/llm-inference.json" <<'PY' || fail "dashboard structure"
import json, re, sys
d = json.load(open(sys.argv[1]))
assert d["schemaVersion"] >= 39, d["schemaVersion"]
kinds = {p["type"] for p in d["panels"]}
assert kinds <= {"row", "timeseries", "stat", "heatmap", "table"}, kinds
rows = [p["title"] for p in d["panels"] if p["type"] == "row"]
assert rows == ["Model level", "Pod level", "GPU per pod", "Service level objectives"], rows
v = {t["name"]: t for t in d["templating"]["list"]}
assert v["datasource"]["type"] == "datasource" and v["datasource"]["query"] == "prometheus"
for n in ("namespace", "workload_name", "model_name", "backend", "role", "pod"):
    assert v[n]["query"]["query"].startswith("label_values("), n
# every rate()/increase() call (not a name ending in rate, as
# infermon:slo_sli_error:ratio_rate5m) has a $__rate_interval range after it
call = re.compile(r"(?<![\w:])(i?rate|increase)\(")
for p in d["panels"]:
    for t in p.get("targets", []):
        e = t["expr"]
        for m in call.finditer(e):
            assert "[$__rate_interval]" in e[m.start():], (p["title"], e)
print("ok: %d panels, types %s" % (len(d["panels"]), ", ".join(sorted(kinds))))
PY
	"$ROOT/hack/tools/build.sh" linter
	local linter
	linter=$(infermon_cache)/bin/dashboard-linter
	[ -x "$linter" ] || fail "no dashboard-linter at $linter"
	(cd "$ROOT/dashboards" && "$linter" lint --strict llm-inference.json) >"$WORK/lint" 2>&1 ||
		fail "dashboard-linter: $(grep -v '^Checks that' "$WORK/lint")"
	echo "dashboard-linter --strict: no findings (exclusions: $(grep -c 'reason:' "$ROOT/dashboards/.lint") rules in dashboards/.lint)"
}

# Every query, each variable replaced by a concrete value of every engine
# variant and $__rate_interval by 1m, as one recording rule each.
test_queries_parse_in_promtool() {
	python3 "$SCENARIO" variables >"$WORK/variables.json"
	python3 "$CHECK" rules "$WORK/variables.json" "$WORK/rules.yml"
	# the dashboard's recording rules (a PrometheusRule: its spec is a rule file)
	python3 -c 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1]))["spec"], sys.stdout)' \
		"$ROOT/deploy/prometheus/dashboard_rules.yaml" >"$WORK/dashboard_rules.yml"
	# Debian's promtool, and the one hack/tools builds from the module proxy
	# when it is on PATH: both parsers must accept every query.
	local p seen=" " n=0
	for p in $(which -a promtool); do
		p=$(readlink -f "$p")
		[[ $seen == *" $p "* ]] && continue
		seen="$seen$p "
		n=$((n + 1))
		echo "$p: $(bin_version "$p")"
		"$p" check rules "$WORK/rules.yml" || fail "$p rejects a dashboard query"
		"$p" check rules "$WORK/dashboard_rules.yml" || fail "$p rejects deploy/prometheus/dashboard_rules.yaml"
	done
	[ $n -gt 0 ] || fail "no promtool on PATH (Debian package prometheus)"
}

# The GPU panels' join, as `promtool test rules`: dcgm-exporter series
# labelled pod/namespace and exported_pod/exported_namespace, an idle GPU,
# and a pod with two infermon_pod_info rows (two models), which a plain
# group_left refuses as many-to-many; tokens per GPU counts each GPU once.
test_gpu_join_in_promtool() {
	local p seen=" "
	python3 "$CHECK" jointest "$WORK" >/dev/null
	for p in $(which -a promtool); do
		p=$(readlink -f "$p")
		[[ $seen == *" $p "* ]] && continue
		seen="$seen$p "
		echo "$p: $(bin_version "$p")"
		"$p" test rules "$WORK/gpu-join.test.yml" || fail "$p: the GPU join"
	done
}

# ---- the end-to-end world ----

PROMS=()  # URL of every Prometheus started
INFERMON_PORT=

# start_targets: every composed engine and dcgm-exporter (dashboard_targets.py);
# appends "name": port pairs to $WORK/ports.txt.
start_targets() {
	python3 "$SCENARIO" targets >"$WORK/targets.json"
	python3 "$ROOT/test/integration/dashboard_targets.py" --max-seconds 600 "$WORK/targets.json" \
		>"$WORK/targets.out" 2>"$WORK/targets.err" &
	CLEANUP_PIDS="${CLEANUP_PIDS:-} $!"
	wait_for 30 grep -qx ready "$WORK/targets.out" || fail "dashboard_targets.py: $(cat "$WORK/targets.err")"
	grep -v '^ready$' "$WORK/targets.out" >>"$WORK/ports.txt"
}

# start_sims [POD...]: llm-d-inference-sim for each simulator pod of the
# scenario (all without arguments), with the pod's model and max-num-seqs.
start_sims() {
	local pod model seqs flags port
	while read -r pod model seqs flags; do
		if [ $# -gt 0 ] && [[ " $* " != *" $pod "* ]]; then continue; fi
		port=$(free_port)
		# shellcheck disable=SC2086 # flags: words without spaces
		start_sim "$port" "$model" --max-num-seqs "$seqs" $flags
		echo "$pod $port" >>"$WORK/ports.txt"
		echo "$pod ${CLEANUP_PIDS##* }" >>"$WORK/sim-pids.txt"
	done < <(python3 "$SCENARIO" sims)
}

ports_json() {
	python3 -c 'import json,sys; print(json.dumps({l.split()[0]: int(l.split()[1]) for l in open(sys.argv[1]) if l.strip()}))' \
		"$WORK/ports.txt" >"$WORK/ports.json"
}

port_of() { awk -v n="$1" '$1 == n {print $2}' "$WORK/ports.txt"; }

# create_pods [POD...]: the labelled pods, Running and Ready at 127.0.0.1,
# and every workload's InferenceWorkload with its SLO objectives.
create_pods() {
	local ns name
	for ns in $(python3 "$SCENARIO" pod-names | awk '{print $1}' | sort -u); do
		kubectl delete ns "$ns" --ignore-not-found --wait=true >/dev/null
		kubectl create ns "$ns" >/dev/null
	done
	python3 "$SCENARIO" crs >"$WORK/crs.yaml"
	kubectl apply -f "$WORK/crs.yaml" >/dev/null
	python3 "$SCENARIO" pods "$WORK/ports.json" "$@" | kubectl apply -f - >/dev/null
	while read -r ns name; do
		[ -n "$(port_of "$name")" ] || continue
		ready_pod "$ns" "$name"
	done < <(python3 "$SCENARIO" pod-names)
}

ready_pod() {
	kubectl -n "$1" patch pod "$2" --subresource=status --type=merge -p \
		'{"status":{"phase":"Running","podIP":"127.0.0.1","podIPs":[{"ip":"127.0.0.1"}],"conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null
}

start_controller() {
	local ns args=()
	for ns in $(python3 "$SCENARIO" pod-names | awk '{print $1}' | sort -u); do args+=(--namespace "$ns"); done
	start_infermon "$WORK/infermon.log" run "${args[@]}" --metrics-bind-address 127.0.0.1:0 \
		--scrape-interval 1s --log-format json --no-events
	CLEANUP_PIDS="${CLEANUP_PIDS:-} $INFERMON_PID"
	wait_for 30 grep -q '"msg":"serving /metrics' "$WORK/infermon.log" || fail "controller: $(cat "$WORK/infermon.log")"
	INFERMON_PORT=$(grep -o '"msg":"serving /metrics, /healthz, /readyz","address":"[^"]*","port":"[0-9]*"' "$WORK/infermon.log" |
		grep -o '[0-9]*"$' | tr -d '"')
}

# controller_job: the scrape job prometheus-operator would make of the
# shipped ServiceMonitor (deploy/prometheus/service_monitor.yaml, through
# the Service beside it) for the controller at 127.0.0.1:$INFERMON_PORT, in
# $WORK/controller-job.json. Only its interval is shortened (1 s, as the
# other jobs); honor_labels, path, scheme and relabeling are the
# manifest's. How it reaches the target is this Prometheus' own, as the
# operator's Prometheus has its own ServiceAccount token and skips the
# self-signed certificate's check: a /metrics reader's token, and
# insecure_skip_verify.
controller_job() {
	python3 "$ROOT/test/integration/servicemonitor.py" job "$ROOT/deploy/prometheus/service_monitor.yaml" \
		"$ROOT/deploy/prometheus/service.yaml" "127.0.0.1:$INFERMON_PORT" infermon-7d9f8b6c4-x2x8q infermon \
		--interval 1s >"$WORK/controller-job.raw.json" || fail "cannot translate the shipped ServiceMonitor"
	metrics_reader_token > "$WORK/reader.token" || fail "no /metrics reader token"
	jq --arg t "$WORK/reader.token" '. + {tls_config: {insecure_skip_verify: true},
		authorization: {credentials_file: $t}}' "$WORK/controller-job.raw.json" > "$WORK/controller-job.json"
	echo "controller scraped by job $(jq -r .job_name "$WORK/controller-job.json"):" \
		"honor_labels $(jq -r .honor_labels "$WORK/controller-job.json"), path $(jq -r .metrics_path "$WORK/controller-job.json")," \
		"scheme $(jq -r .scheme "$WORK/controller-job.json")"
}

# start_prometheus: every distinct `prometheus` on PATH (Debian's 2.x, and
# the 3.x hack/tools/build.sh builds from the module proxy when present),
# each on its own loopback port and tmp storage, scraping the same targets
# with the relabeling labels as static target labels, and the controller
# through the shipped ServiceMonitor (controller_job); evaluating the rule
# groups of the PrometheusRules `infermon render` writes for the
# InferenceWorkloads of create_pods (the SLO recordings), as the operator's
# Prometheus would once its ruleSelector picks them up.
start_prometheus() {
	local bin port seen=" " i=0 ncrs ngroups
	controller_job
	"$INFERMON_BIN" render -f "$WORK/crs.yaml" >"$WORK/rendered.yaml" || fail "infermon render of the InferenceWorkloads"
	python3 "$ROOT/test/integration/alerts_test.py" rules "$WORK/rendered.yaml" "$WORK/rules.slo.yml"
	ncrs=$(grep -c '"kind": "InferenceWorkload"' "$WORK/crs.yaml")
	ngroups=$(grep -c '^- name: infermon-slo\.' "$WORK/rules.slo.yml" || true)
	[ "$ngroups" -eq "$ncrs" ] || fail "want an SLO rule group per InferenceWorkload ($ncrs), got $ngroups"
	echo "rule file: $ngroups SLO groups ($(grep -c '^  - record:' "$WORK/rules.slo.yml") recordings), one per InferenceWorkload"
	python3 "$SCENARIO" prometheus "$WORK/ports.json" "$WORK/controller-job.json" "$WORK/rules.slo.yml" >"$WORK/prometheus.yml"
	for bin in $(which -a prometheus); do
		bin=$(readlink -f "$bin")
		[[ $seen == *" $bin "* ]] && continue
		seen="$seen$bin "
		i=$((i + 1))
		port=$(free_port)
		"$bin" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb-$i" \
			--storage.tsdb.retention.time=1h --web.listen-address="127.0.0.1:$port" \
			--log.level=warn >"$WORK/prometheus-$i.log" 2>&1 &
		CLEANUP_PIDS="${CLEANUP_PIDS:-} $!"
		wait_for 60 curl -sf "http://127.0.0.1:$port/-/ready" || fail "$bin: $(cat "$WORK/prometheus-$i.log")"
		PROMS+=("http://127.0.0.1:$port")
		echo "prometheus $i: $bin ($(bin_version "$bin")) on 127.0.0.1:$port"
	done
	[ $i -gt 0 ] || fail "no prometheus on PATH (Debian package prometheus)"
}

# bin_version BIN: a Prometheus binary's version; for builds without version
# ldflags (hack/tools), the Go module version it was built from.
bin_version() {
	local v
	v=$("$1" --version 2>&1 | head -1)
	if [[ $v == *"version  ("* ]] && command -v go >/dev/null; then
		v="module $(go version -m "$1" 2>/dev/null | awk '$1 == "mod" {print $2, $3; exit}')"
	fi
	echo "$v"
}

# Every panel query returns data for every engine variant it claims, in
# every Prometheus.
test_panels_show_every_engine() {
	local pod model seqs n url sims='vllm:e2e_request_latency_seconds_count{namespace="dash-llm",workload_name=~"chat|code"}'
	: >"$WORK/ports.txt"
	start_sims
	start_targets
	ports_json
	create_pods
	start_controller
	start_prometheus
	# code-0 (max-num-seqs 2) gets more clients than it admits: requests
	# queue (llm-d-inference-sim observes queue time only for those)
	while read -r pod model seqs _; do
		drive "$(port_of "$pod")" "$model" $((seqs < 4 ? 2 * seqs : 2))
	done < <(python3 "$SCENARIO" sims)
	n=$(python3 "$SCENARIO" pod-names | wc -l)
	python3 "$SCENARIO" variables >"$WORK/variables.json"
	for url in "${PROMS[@]}"; do
		echo "== $url"
		wait_for 60 all_up "$url" || fail "scrape targets down: $(prom_down "$url")"
		wait_for 120 prom_equals "$url" 'count(count by (namespace, pod) (infermon_pod_info))' "$n" ||
			fail "no infermon_pod_info for the $n pods: $(tail -5 "$WORK/infermon.log")"
		wait_for 120 prom_equals "$url" "count(rate($sims[1m]) > 0)" 3 ||
			fail "the simulators finish no requests: $(curl -s "http://127.0.0.1:$(port_of chat-0)/metrics" | grep e2e_request_latency_seconds_count)"
		echo "$(prom_value "$url" 'count(up == 1)') scrape targets up, infermon_pod_info for $n pods," \
			"$(prom_value "$url" "sum($sims)") requests finished on the simulators"
		echo "-- template variables, chained (label_values), per engine variant"
		python3 "$CHECK" variables "$url" "$WORK/variables.json" || fail "a template variable misses a variant's values"
		echo "-- panel queries"
		python3 "$CHECK" eval "$url" "$WORK/variables.json" --wait 180 ||
			fail "a panel has no data for an engine it claims ($url)"
	done
	stop_infermon
}

# The live-limit panels follow the engine: restart it with another
# --max-num-seqs (and the pod with the matching args), edit nothing else.
test_max_num_seqs_panel_follows_the_engine() {
	local port sum0 url
	local panel="Running vs live max-num-seqs" legend="{{pod}} max-num-seqs ({{source}})"
	local ratio_panel="KV usage vs capacity" ratio_legend="{{pod}} max-num-seqs / KV-derived concurrency"
	: >"$WORK/ports.txt"
	sum0=$(sha256sum "$ROOT/dashboards/llm-inference.json" | cut -d' ' -f1)
	start_sims code-0
	ports_json
	create_pods code-0
	start_controller
	start_prometheus
	python3 "$SCENARIO" variables >"$WORK/variables.json"
	q() { python3 "$CHECK" query "$1" "$WORK/variables.json" vllm-sim "$2" "$3"; }
	shows() { q "$1" "$panel" "$legend" | grep -qx "{namespace=\"dash-llm\",pod=\"code-0\",source=\"pod_args\"} $2"; }
	for url in "${PROMS[@]}"; do
		wait_for 60 shows "$url" 2 || fail "$url: max-num-seqs panel before: $(q "$url" "$panel" "$legend")"
		echo "before ($url): $panel: $(q "$url" "$panel" "$legend")"
		echo "        $ratio_panel, max-num-seqs / KV-derived concurrency: $(q "$url" "$ratio_panel" "$ratio_legend")"
	done

	# the engine restarts with --max-num-seqs 6, the pod with matching args
	port=$(port_of code-0)
	kill "$(awk '$1 == "code-0" {print $2}' "$WORK/sim-pids.txt")"
	wait_for 30 bash -c "! curl -s http://127.0.0.1:$port/v1/models" || fail "simulator did not stop"
	start_sim "$port" coder-7b --max-num-seqs 6
	kubectl -n dash-llm delete pod code-0 --wait=true >/dev/null
	python3 "$SCENARIO" pods --max-num-seqs 6 "$WORK/ports.json" code-0 | kubectl apply -f - >/dev/null
	ready_pod dash-llm code-0
	for url in "${PROMS[@]}"; do
		wait_for 60 shows "$url" 6 || fail "$url: max-num-seqs panel never showed 6: $(q "$url" "$panel" "$legend")"
		echo "after  ($url): $panel: $(q "$url" "$panel" "$legend")"
		echo "        $ratio_panel, max-num-seqs / KV-derived concurrency: $(q "$url" "$ratio_panel" "$ratio_legend")"
	done
	[ "$(sha256sum "$ROOT/dashboards/llm-inference.json" | cut -d' ' -f1)" = "$sum0" ] || fail "the dashboard changed"
	echo "dashboards/llm-inference.json unchanged (sha256 ${sum0:0:16}…)"
	stop_infermon
}

run_test "$1"
