#!/usr/bin/env bash
# /metrics as `infermon run` serves it by default (--metrics-secure): HTTPS,
# and the page only for a bearer token the real API server accepts
# (TokenReview) whose user may get the non-resource URL /metrics
# (SubjectAccessReview; deploy/rbac/metrics_reader_role.yaml). The tokens
# are real: ServiceAccount tokens from the TokenRequest API, and tokens
# signed with the cluster's service-account key (expired, or valid, to show
# that the expired one is refused for its expiry).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ROOT=$(infermon_root)
NS=it-metrics-auth

# code TOKEN [CURL ARGS...]: the status of GET /metrics with that bearer
# token ("" sends no Authorization header); the body is in $WORK/body.
code() {
	local t=$1
	shift
	curl -sk -m 20 -o "$WORK/body" -w '%{http_code}' ${t:+-H "Authorization: Bearer $t"} "$@" \
		"https://127.0.0.1:$(metrics_port)/metrics" || true
}

expect() { # expect WANT WHAT TOKEN [CURL ARGS...]
	local want=$1 what=$2 got
	shift 2
	got=$(code "$@")
	[ "$got" = "$want" ] || fail "$what: HTTP $got, want $want: $(head -c 300 "$WORK/body")"
	echo "$what: $got $(head -c 120 "$WORK/body" | head -n 1)"
}

setup() {
	kubectl delete ns $NS --ignore-not-found --wait=true >/dev/null
	kubectl create ns $NS >/dev/null
	kubectl apply --server-side --force-conflicts -f "$ROOT/deploy/rbac/metrics_reader_role.yaml" >/dev/null
	kubectl -n $NS create sa reader >/dev/null
	kubectl -n $NS create sa nobody >/dev/null
	kubectl -n $NS create sa gone >/dev/null
	kubectl create clusterrolebinding $NS-reader --clusterrole=infermon-metrics-reader \
		--serviceaccount=$NS:reader --dry-run=client -o yaml | kubectl apply -f - >/dev/null
	start_infermon "$WORK/log" run --namespace $NS --metrics-bind-address 127.0.0.1:0 \
		--leader-elect=false --log-level debug
	wait_for 30 metrics_port_known || fail "the controller did not start: $(cat "$WORK/log")"
}

metrics_port_known() { [ -n "$(metrics_port)" ]; }

# the objects setup made (the controller is stopped by the test, or by
# run_test's exit trap when it fails)
teardown() {
	kubectl delete clusterrolebinding $NS-reader $NS-late --ignore-not-found >/dev/null
	kubectl delete ns $NS --wait=false >/dev/null
}

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# resigned TOKEN EXP: TOKEN's claims with exp set to EXP (and iat, nbf an
# hour before it), signed again with the cluster's service-account key.
resigned() {
	local head body now
	head=$(cut -d. -f1 <<< "$1")
	body=$(cut -d. -f2 <<< "$1" | tr '_-' '/+')
	while [ $((${#body} % 4)) -ne 0 ]; do body+="="; done
	body=$(base64 -d <<< "$body" | jq -c --argjson e "$2" '.exp = $e | .iat = ($e - 3600) | .nbf = ($e - 3600)' | b64url)
	printf '%s.%s.%s' "$head" "$body" \
		"$(printf '%s.%s' "$head" "$body" | openssl dgst -sha256 -sign "$(infermon_cluster_dir)/pki/sa.key" | b64url)"
}

test_metrics_answers_by_the_api_servers_review() {
	local reader nobody gone now huge
	at_exit teardown
	setup
	reader=$(kubectl -n $NS create token reader)
	nobody=$(kubectl -n $NS create token nobody)
	gone=$(kubectl -n $NS create token gone)
	kubectl -n $NS delete sa gone >/dev/null

	expect 401 "no token" ""
	grep -q 'no bearer token' "$WORK/body" || fail "401 body: $(cat "$WORK/body")"
	expect 200 "reader's token" "$reader"
	grep -q '^infermon_build_info{' "$WORK/body" || fail "the page lacks infermon_build_info"
	expect 403 "nobody's token" "$nobody"
	grep -q "user \"system:serviceaccount:$NS:nobody\" may not get /metrics" "$WORK/body" ||
		fail "403 body: $(cat "$WORK/body")"
	expect 401 "garbage token" "garbage.token.here"
	expect 401 "token of a deleted ServiceAccount" "$gone"
	now=$(date +%s)
	# re-signed with the cluster's key: accepted while valid, refused once expired
	expect 200 "re-signed, valid" "$(resigned "$reader" $((now + 600)))"
	expect 401 "re-signed, expired an hour ago" "$(resigned "$reader" $((now - 3600)))"
	expect 401 "malformed Authorization header" "" -H "Authorization: Basic cmVhZGVyOng="
	grep -q 'malformed Authorization header' "$WORK/body" || fail "body: $(cat "$WORK/body")"
	# a header past the server's limit is refused or dropped, and the
	# server serves on
	huge=$(head -c 6000 /dev/zero | tr '\0' a)
	got=$(code "$huge")
	case $got in 4*|000) echo "6000-byte token: $got" ;; *) fail "a 6000-byte token: HTTP $got" ;; esac
	expect 200 "reader's token after the huge header" "$reader"
	# the kubelet's probes carry no token
	probe_ok healthz || fail "/healthz"
	wait_for 30 probe_ok readyz || fail "/readyz: $(curl -sk "https://127.0.0.1:$(metrics_port)/readyz")"
	# plain HTTP on the HTTPS port gets no page
	[ "$(curl -s -m 5 -o "$WORK/body" -w '%{http_code}' "http://127.0.0.1:$(metrics_port)/metrics" || true)" != 200 ] ||
		fail "plain HTTP served /metrics"
	# a new binding counts once the forbidden verdict's 30 s are up
	kubectl create clusterrolebinding $NS-late --clusterrole=infermon-metrics-reader \
		--serviceaccount=$NS:nobody >/dev/null
	wait_for 60 nobody_allowed "$nobody" || fail "nobody still refused a minute after its binding"
	echo "nobody allowed after its binding"
	grep -q 'msg="reviewed a /metrics client" user=system:serviceaccount:'$NS':reader verdict=allowed' "$WORK/log" ||
		fail "no review logged: $(grep -m3 review "$WORK/log")"
	stop_infermon
}

probe_ok() { [ "$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$(metrics_port)/$1")" = 200 ]; }
nobody_allowed() { [ "$(code "$1")" = 200 ]; }

# apiserver_reviews: the API server's own count of TokenReviews and
# SubjectAccessReviews created so far, "TR SAR"
apiserver_reviews() {
	kubectl get --raw /metrics > "$WORK/apiserver"
	awk '/^apiserver_request_total\{/ && /verb="POST"|verb="CREATE"|verb="create"/ {
		if ($0 ~ /resource="tokenreviews"/) tr += $NF
		if ($0 ~ /resource="subjectaccessreviews"/) sar += $NF
	} END { printf "%d %d\n", tr, sar }' "$WORK/apiserver"
}

self_reviews() {
	curl -sk -H "Authorization: Bearer $1" "https://127.0.0.1:$(metrics_port)/metrics" |
		awk '$1 == "infermon_metrics_auth_reviews_total{kind=\"TokenReview\"}" { tr = $2 }
		     $1 == "infermon_metrics_auth_reviews_total{kind=\"SubjectAccessReview\"}" { sar = $2 }
		     END { printf "%d %d\n", tr, sar }'
}

test_a_thousand_scrapes_cost_a_handful_of_reviews() {
	local reader before after self t0 t1 n cold warm
	at_exit teardown
	setup
	reader=$(kubectl -n $NS create token reader)
	read -r -a before <<< "$(apiserver_reviews)"
	# the first scrape waits for both reviews; the next ones do not
	cold=$(curl -sk -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $reader" "https://127.0.0.1:$(metrics_port)/metrics")
	warm=$(curl -sk -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $reader" "https://127.0.0.1:$(metrics_port)/metrics")
	# 1,000 scrapes by one client over one kept-alive connection
	: > "$WORK/urls"
	for _ in $(seq 1000); do echo "url = \"https://127.0.0.1:$(metrics_port)/metrics\""; done > "$WORK/urls"
	t0=$(date +%s.%N)
	curl -sk -H "Authorization: Bearer $reader" -K "$WORK/urls" -o /dev/null -w '%{http_code}\n' > "$WORK/codes"
	t1=$(date +%s.%N)
	n=$(grep -cx 200 "$WORK/codes" || true)
	[ "$n" = 1000 ] || fail "$n of 1000 scrapes got 200: $(sort "$WORK/codes" | uniq -c)"
	read -r -a after <<< "$(apiserver_reviews)"
	read -r -a self <<< "$(self_reviews "$reader")"
	echo "1000 scrapes in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s; reviews by the controller: ${self[0]} TokenReview, ${self[1]} SubjectAccessReview;" \
		"the API server counted $((after[0] - before[0])) and $((after[1] - before[1])); first scrape ${cold} s (cold), second ${warm} s (warm)"
	# 1,002 scrapes within a minute: the verdict is kept for 60 s, so one
	# review each, two if the minute turned over
	[ "${self[0]}" -ge 1 ] && [ "${self[0]}" -le 2 ] && [ "${self[1]}" -ge 1 ] && [ "${self[1]}" -le 2 ] ||
		fail "the controller made ${self[0]} TokenReviews and ${self[1]} SubjectAccessReviews for 1002 scrapes"
	# the API server's count includes any other client's reviews meanwhile, never fewer
	[ $((after[0] - before[0])) -ge "${self[0]}" ] && [ $((after[1] - before[1])) -ge "${self[1]}" ] ||
		fail "the API server counted fewer reviews than the controller says it made"
	[ $((after[0] - before[0])) -le 4 ] || fail "the API server counted $((after[0] - before[0])) TokenReviews"
	stop_infermon
}

# --metrics-cert-dir: a mounted kubernetes.io/tls pair is what the endpoint
# serves (a client that trusts only it connects); a missing or mismatched
# pair stops start-up with the file named; the flag's bad values exit 2.
test_mounted_certificate_is_served_and_checked() {
	local d=$WORK/certs rc
	mkdir -p "$d" "$WORK/other"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=it \
		-addext "subjectAltName=IP:127.0.0.1" -keyout "$d/tls.key" -out "$d/tls.crt" 2>/dev/null
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=other \
		-keyout "$WORK/other/tls.key" -out "$WORK/other/tls.crt" 2>/dev/null
	start_infermon "$WORK/log" run --namespace $NS --metrics-bind-address 127.0.0.1:0 --leader-elect=false \
		--metrics-cert-dir "$d"
	wait_for 30 metrics_port_known || fail "the controller did not start: $(cat "$WORK/log")"
	# verified against the mounted certificate alone (no -k)
	[ "$(curl -s --cacert "$d/tls.crt" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$(metrics_port)/healthz")" = 200 ] ||
		fail "the mounted certificate is not what is served: $(curl -sv --cacert "$d/tls.crt" "https://127.0.0.1:$(metrics_port)/healthz" 2>&1 | tail -5)"
	grep -q "certificate=$d" "$WORK/log" || fail "the log does not name the certificate's directory"
	stop_infermon
	# the other pair's key with this certificate
	cp "$WORK/other/tls.key" "$d/tls.key"
	rc=0
	"$INFERMON_BIN" run --namespace $NS --metrics-bind-address 127.0.0.1:0 --leader-elect=false \
		--metrics-cert-dir "$d" > "$WORK/err" 2>&1 || rc=$?
	[ $rc = 1 ] || fail "a mismatched key: exit $rc"
	grep -q "cannot use $d/tls.key: the key does not match the certificate in $d/tls.crt" "$WORK/err" ||
		fail "mismatched key not named: $(cat "$WORK/err")"
	rc=0
	"$INFERMON_BIN" run --metrics-cert-dir "$WORK/none" > "$WORK/err" 2>&1 || rc=$?
	[ $rc = 1 ] && grep -q "$WORK/none/tls.crt" "$WORK/err" || fail "a missing directory: exit $rc: $(cat "$WORK/err")"
	rc=0
	"$INFERMON_BIN" run --metrics-secure=maybe > "$WORK/err" 2>&1 || rc=$?
	[ $rc = 2 ] && grep -q 'invalid --metrics-secure "maybe" (true or false)' "$WORK/err" ||
		fail "--metrics-secure=maybe: exit $rc: $(cat "$WORK/err")"
	rc=0
	"$INFERMON_BIN" run --metrics-secure=false --metrics-cert-dir "$d" > "$WORK/err" 2>&1 || rc=$?
	[ $rc = 2 ] && grep -q 'needs --metrics-secure' "$WORK/err" || fail "cert dir without TLS: exit $rc: $(cat "$WORK/err")"
}

run_test "$1"
