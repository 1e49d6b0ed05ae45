#!/usr/bin/env python3
"""Test engines: composed SGLang and vLLM endpoints, and bad ones.

Where no real engine can run here (SGLang, vLLM builds of other eras, forks),
infermon's tests scrape pages composed from docs/metrics.md by this
server. Each MODE named on the command line gets its own port on 127.0.0.1
(a scrape target is a base URL: /metrics, /v1/models and the info endpoint
live on the same port). Once every port is bound the server prints one line
"MODE PORT" per mode, then "ready", and flushes.

    engines.py [--max-seconds 300] [--big-mb 80] MODE...

Engine modes (each also serves /v1/models, and GET /_requests: JSON counts of
the paths asked on that port, so a test can see what was fetched):
  sglang             `sglang:` names; dp_size 2 with tp ranks 0 and 1 in each
                     DP rank; /get_server_info with max_running_requests null
                     and effective_max_running_requests_per_dp 24 per rank
  sglang-underscore  the same engine under the `sglang_` prefix, with the
                     older retraction gauge and TPOT histogram names
  vllm-old           vLLM 0.8-era names (gpu_cache_usage_perc,
                     time_per_output_token_seconds, ...); /server_info 404
  vllm-fork          current names plus a fork's vllm:vllm_config_info
                     (scheduler_config_max_num_seqs="48"); /server_info
                     answers as in VLLM_SERVER_DEV_MODE=1
  vllm-fork-nodev    the same fork without dev mode: /server_info is 404
  vllm-tls           the vllm-fork page over HTTPS, with the self-signed
                     certificate for 127.0.0.1 in test/data/tls
  sluggish           the vllm-fork page, each /metrics answered after 1 s
  once               the vllm-fork page for the first /metrics; then the port
                     closes (an engine that dies while it is being checked)
Bad endpoints:
  slow       answers 200 and then one byte every half second, never ending
  hang       accepts connections and never reads or answers
  dead       a bound port that does not listen: connections are refused
  garbage    200 text/plain of random bytes
  html       200 text/html: a login page where metrics should be
  oversized  a valid page of --big-mb megabytes (more than the test's cap)
  hugelabel  a fork's page whose vllm_config_info sample carries a 5 MB
             label value, followed by normal samples

The process exits by itself after --max-seconds, on SIGTERM or SIGINT, and
when its parent exits. It binds 127.0.0.1 only. Python standard library only.
"""

import argparse
import json
import os
import random
import signal
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

MODEL = "qwen3-26b"
STOP = threading.Event()

# --------------------------------------------------------------------------
# Exposition text. Written from docs/metrics.md: names, labels and types only.

LATENCY_BUCKETS = ["0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf"]


def labels_text(labels):
    return "{" + ",".join('%s="%s"' % (k, v) for k, v in labels) + "}"


def histogram(out, name, help_text, labels, count, total):
    """A histogram family with cumulative buckets over LATENCY_BUCKETS."""
    out.append("# HELP %s %s" % (name, help_text))
    out.append("# TYPE %s histogram" % name)
    for lab in labels:
        for i, le in enumerate(LATENCY_BUCKETS):
            n = count if le == "+Inf" else count * (i + 1) // len(LATENCY_BUCKETS)
            out.append("%s_bucket%s %d" % (name, labels_text(lab + [("le", le)]), n))
        out.append("%s_sum%s %s" % (name, labels_text(lab), repr(total)))
        out.append("%s_count%s %d" % (name, labels_text(lab), count))


def family(out, name, kind, help_text, rows, created=None):
    """rows: [(labels, value)]. Counters are written as prometheus_client
    writes text 0.0.4: the family named with _total, and `created` (a Unix
    time) adds the _created samples that may follow."""
    if kind == "counter":
        name += "_total"
    out.append("# HELP %s %s" % (name, help_text))
    out.append("# TYPE %s %s" % (name, kind))
    for lab, value in rows:
        out.append("%s%s %s" % (name, labels_text(lab), value))
    if kind == "counter" and created is not None:
        base = name[:-len("_total")]
        out.append("# HELP %s_created %s" % (base, help_text))
        out.append("# TYPE %s_created gauge" % base)
        for lab, _ in rows:
            out.append("%s_created%s %s" % (base, labels_text(lab), repr(float(created))))


# SGLang, dp_size 2, tp_size 2. Every TP rank of a DP rank reports the same
# scheduler state (infermon must read tp_rank 0 only and sum over dp_rank).
SGLANG_DP = [
    # running, queued, token_usage, used tokens, pool, retracted
    dict(running=20, queued=3, usage=0.31, used=30474, pool=98304, retracted=2),
    dict(running=24, queued=5, usage=0.42, used=41288, pool=98304, retracted=1),
]
SGLANG_CONTEXT_LENGTH = 4096
SGLANG_PER_DP = 24


def sglang_page(prefix, old_names):
    out = []
    p = prefix

    def ranks():
        for dp, st in enumerate(SGLANG_DP):
            for tp in (0, 1):
                lab = [("model_name", MODEL), ("engine_type", "unified"),
                       ("tp_rank", str(tp)), ("pp_rank", "0"), ("dp_rank", str(dp))]
                yield lab, st

    def gauge(name, help_text, key):
        family(out, p + name, "gauge", help_text,
               [(lab, st[key]) for lab, st in ranks()])

    gauge("num_running_reqs", "The number of running requests.", "running")
    gauge("num_queue_reqs", "The number of requests in the waiting queue.", "queued")
    gauge("num_used_tokens", "The number of used tokens.", "used")
    gauge("token_usage", "The token usage.", "usage")
    gauge("max_total_num_tokens", "Maximum total number of tokens in the KV cache pool.",
          "pool")
    family(out, p + "gen_throughput", "gauge", "The generation throughput (token/s).",
           [(lab, 1234.5) for lab, _ in ranks()])
    family(out, p + "cache_hit_rate", "gauge", "The prefix cache hit rate.",
           [(lab, 0.12) for lab, _ in ranks()])
    if old_names:
        gauge("num_retracted_reqs", "The number of retracted requests.", "retracted")
    else:
        family(out, p + "num_retracted_requests", "counter",
               "Total number of retracted requests.",
               [(lab, st["retracted"]) for lab, st in ranks()])
    family(out, p + "prompt_tokens", "counter", "Number of prefill tokens processed.",
           [(lab, 912345) for lab, _ in ranks()])
    family(out, p + "generation_tokens", "counter", "Number of generation tokens processed.",
           [(lab, 456789) for lab, _ in ranks()])
    family(out, p + "cached_tokens", "counter", "Number of cached prompt tokens.",
           [(lab, 111111) for lab, _ in ranks()])
    labs = [lab for lab, _ in ranks()]
    histogram(out, p + "time_to_first_token_seconds", "Histogram of time to first token.",
              labs, 400, 88.5)
    tpot = "time_per_output_token_seconds" if old_names else "inter_token_latency_seconds"
    histogram(out, p + tpot, "Histogram of time per output token.", labs, 40000, 1200.0)
    histogram(out, p + "e2e_request_latency_seconds", "Histogram of end-to-end latency.",
              labs, 400, 2100.0)
    return "\n".join(out) + "\n"


def sglang_server_info():
    """Shaped as SGLang serves it (test/data/server_info/README.md): the
    server arguments at the top level, then the scheduler's state per DP
    rank in internal_states, each a copy of the arguments with the
    automatic ones resolved plus the rank's own figures (no rank number)."""
    args = {
        "model_path": "/models/" + MODEL,
        "served_model_name": MODEL,
        "tp_size": 2,
        "dp_size": 2,
        "pp_size": 1,
        "enable_dp_attention": False,
        "max_running_requests": None,
        "context_length": SGLANG_CONTEXT_LENGTH,
        "chunked_prefill_size": 8192,
        "mem_fraction_static": 0.88,
        "schedule_policy": "fcfs",
        "disaggregation_mode": "null",
        "enable_metrics": True,
    }
    per_rank = []
    for st in SGLANG_DP:
        state = dict(args)
        state.update({
            "max_running_requests": SGLANG_PER_DP * len(SGLANG_DP),
            "max_total_tokens": st["pool"],
            "last_gen_throughput": 1234.5,
            "memory_usage": {"weight": 26.1, "kvcache": 18.0, "token_capacity": st["pool"],
                             "graph": 1.2},
            "effective_max_running_requests_per_dp": SGLANG_PER_DP,
        })
        per_rank.append(state)
    return dict(args, **{
        "status": "ready",
        # One DP rank's pool: SGLang reports its first scheduler's.
        "max_total_num_tokens": SGLANG_DP[0]["pool"],
        "max_req_input_len": SGLANG_CONTEXT_LENGTH - 1,
        "internal_states": per_rank,
        "version": "0.5.5",
    })


# vLLM. Old: a 0.8-era V0 engine, model_name only. Fork: a current V1 build
# of a fork that flattens its config into vllm_config_info.
VLLM_OLD = dict(running=5, waiting=2, usage=0.37, blocks=4096, block_size=16, max_len=8192)
VLLM_FORK = dict(running=30, waiting=0, usage=0.55, blocks=20000, block_size=16,
                 kv_tokens=320000, kv_max_conc=45.5, max_len=8192, max_num_seqs=48)


def vllm_old_page():
    out = []
    m = [("model_name", MODEL)]
    o = VLLM_OLD
    family(out, "vllm:cache_config_info", "gauge", "Information of the LLMEngine CacheConfig.",
           [([("block_size", o["block_size"]), ("cache_dtype", "auto"),
              ("enable_prefix_caching", "False"), ("gpu_memory_utilization", "0.9"),
              ("num_cpu_blocks", "2048"), ("num_gpu_blocks", o["blocks"]),
              ("swap_space_bytes", "4294967296")], 1.0)])
    family(out, "vllm:num_requests_running", "gauge",
           "Number of requests currently running on GPU.", [(m, o["running"])])
    family(out, "vllm:num_requests_swapped", "gauge",
           "Number of requests swapped to CPU.", [(m, 0)])
    family(out, "vllm:num_requests_waiting", "gauge",
           "Number of requests waiting to be processed.", [(m, o["waiting"])])
    family(out, "vllm:gpu_cache_usage_perc", "gauge",
           "GPU KV-cache usage. 1 means 100 percent usage.", [(m, o["usage"])])
    family(out, "vllm:cpu_cache_usage_perc", "gauge",
           "CPU KV-cache usage. 1 means 100 percent usage.", [(m, 0.0)])
    family(out, "vllm:gpu_prefix_cache_hit_rate", "gauge",
           "GPU prefix cache block hit rate.", [(m, 0.08)])
    family(out, "vllm:num_preemptions", "counter",
           "Cumulative number of preemption from the engine.", [(m, 7)], created=1767225600)
    family(out, "vllm:prompt_tokens", "counter", "Number of prefill tokens processed.",
           [(m, 1200345)], created=1767225600)
    family(out, "vllm:generation_tokens", "counter", "Number of generation tokens processed.",
           [(m, 845003)], created=1767225600)
    family(out, "vllm:request_success", "counter", "Count of successfully processed requests.",
           [(m + [("finished_reason", r)], n) for r, n in (("stop", 900), ("length", 80))])
    histogram(out, "vllm:time_to_first_token_seconds", "Histogram of time to first token.",
              [m], 980, 210.0)
    histogram(out, "vllm:time_per_output_token_seconds",
              "Histogram of time per output token.", [m], 84000, 4200.0)
    histogram(out, "vllm:e2e_request_latency_seconds", "Histogram of end to end latency.",
              [m], 980, 4800.0)
    return "\n".join(out) + "\n"


def vllm_config_info_labels(extra=()):
    f = VLLM_FORK
    return [("engine", "0"), ("model_config_model", "/models/" + MODEL),
            ("model_config_max_model_len", f["max_len"]),
            ("scheduler_config_max_num_seqs", f["max_num_seqs"]),
            ("scheduler_config_max_num_batched_tokens", "8192"),
            ("cache_config_block_size", f["block_size"]),
            ("parallel_config_tensor_parallel_size", "1")] + list(extra)


def vllm_fork_page(config_info_extra=(), config_info_at=0):
    """The fork's page; vllm_config_info is placed after `config_info_at`
    families (0: first)."""
    f = VLLM_FORK
    m = [("model_name", MODEL), ("engine", "0")]
    parts = []

    def add(fn):
        out = []
        fn(out)
        parts.append("\n".join(out))

    add(lambda out: family(out, "vllm:cache_config_info", "gauge",
                           "Information of the LLMEngine CacheConfig.",
                           [([("block_size", f["block_size"]), ("cache_dtype", "auto"),
                              ("enable_prefix_caching", "True"), ("engine", "0"),
                              ("gpu_memory_utilization", "0.9"),
                              ("kv_cache_max_concurrency", f["kv_max_conc"]),
                              ("kv_cache_size_tokens", f["kv_tokens"]),
                              ("num_gpu_blocks", f["blocks"])], 1.0)]))
    add(lambda out: family(out, "vllm:num_requests_running", "gauge",
                           "Number of requests in model execution batches.",
                           [(m, f["running"])]))
    add(lambda out: family(out, "vllm:num_requests_waiting", "gauge",
                           "Number of requests waiting to be processed.",
                           [(m, f["waiting"])]))
    add(lambda out: family(out, "vllm:kv_cache_usage_perc", "gauge",
                           "KV-cache usage. 1 means 100 percent usage.", [(m, f["usage"])]))
    add(lambda out: family(out, "vllm:num_preemptions", "counter",
                           "Cumulative number of preemption from the engine.", [(m, 0)]))
    add(lambda out: family(out, "vllm:prefix_cache_queries", "counter",
                           "Prefix cache queries, in terms of number of queried tokens.",
                           [(m, 500000)]))
    add(lambda out: family(out, "vllm:prefix_cache_hits", "counter",
                           "Prefix cache hits, in terms of number of cached tokens.",
                           [(m, 120000)]))
    add(lambda out: family(out, "vllm:prompt_tokens", "counter",
                           "Number of prefill tokens processed.", [(m, 3000000)]))
    add(lambda out: family(out, "vllm:generation_tokens", "counter",
                           "Number of generation tokens processed.", [(m, 2000000)]))
    add(lambda out: family(out, "vllm:request_success", "counter",
                           "Count of successfully processed requests.",
                           [(m + [("finished_reason", "stop")], 3000)]))
    add(lambda out: histogram(out, "vllm:time_to_first_token_seconds",
                              "Histogram of time to first token in seconds.", [m], 3000, 900.0))
    add(lambda out: histogram(out, "vllm:inter_token_latency_seconds",
                              "Histogram of inter-token latency in seconds.", [m], 300000,
                              9000.0))
    add(lambda out: histogram(out, "vllm:e2e_request_latency_seconds",
                              "Histogram of e2e request latency in seconds.", [m], 3000, 9500.0))
    add(lambda out: histogram(out, "vllm:request_queue_time_seconds",
                              "Histogram of time spent in WAITING phase for request.", [m],
                              3000, 12.0))
    cfg = "\n".join([
        "# HELP vllm:vllm_config_info The whole vLLM config, flattened into labels.",
        "# TYPE vllm:vllm_config_info gauge",
        "vllm:vllm_config_info%s 1" % labels_text(vllm_config_info_labels(config_info_extra)),
    ])
    parts.insert(config_info_at, cfg)
    return "\n".join(parts) + "\n"


def vllm_models(max_len):
    return {"object": "list", "data": [{
        "id": MODEL, "object": "model", "created": 1767225600, "owned_by": "vllm",
        "root": "/models/" + MODEL, "parent": None, "max_model_len": max_len,
        "permission": []}]}


def sglang_models():
    return {"object": "list", "data": [{
        "id": MODEL, "object": "model", "created": 1767225600, "owned_by": "sglang",
        "root": MODEL, "max_model_len": SGLANG_CONTEXT_LENGTH}]}


def vllm_fork_config():
    f = VLLM_FORK
    return {
        "model_config": {"model": "/models/" + MODEL, "max_model_len": f["max_len"],
                         "dtype": "bfloat16"},
        "scheduler_config": {"max_num_seqs": f["max_num_seqs"],
                             "max_num_batched_tokens": 8192},
        "cache_config": {"block_size": f["block_size"], "gpu_memory_utilization": 0.9,
                         "num_gpu_blocks": f["blocks"]},
        "parallel_config": {"tensor_parallel_size": 1, "data_parallel_size": 1},
    }


# --------------------------------------------------------------------------
# Serving.

class Engine:
    """What one port serves: path -> (status, content type, body bytes)."""

    def __init__(self, mode, big_mb):
        self.mode = mode
        self.big_mb = big_mb
        self.counts = {}
        self.lock = threading.Lock()
        self.pages = {}
        j = lambda o: json.dumps(o).encode()
        text = "text/plain; version=0.0.4; charset=utf-8"
        if mode in ("sglang", "sglang-underscore"):
            prefix = "sglang:" if mode == "sglang" else "sglang_"
            self.pages["/metrics"] = (200, text, sglang_page(prefix, mode != "sglang").encode())
            self.pages["/v1/models"] = (200, "application/json", j(sglang_models()))
            self.pages["/get_server_info"] = (200, "application/json", j(sglang_server_info()))
        elif mode == "vllm-old":
            self.pages["/metrics"] = (200, text, vllm_old_page().encode())
            self.pages["/v1/models"] = (200, "application/json",
                                        j(vllm_models(VLLM_OLD["max_len"])))
        elif mode in ("vllm-fork", "vllm-fork-nodev", "sluggish", "once", "vllm-tls"):
            self.pages["/metrics"] = (200, text, vllm_fork_page().encode())
            self.pages["/v1/models"] = (200, "application/json",
                                        j(vllm_models(VLLM_FORK["max_len"])))
        elif mode == "hugelabel":
            huge = ("flattened_config_dump", "x" * (5 * 1000 * 1000))
            self.pages["/metrics"] = (200, text,
                                      vllm_fork_page((huge,), config_info_at=1).encode())
            self.pages["/v1/models"] = (200, "application/json",
                                        j(vllm_models(VLLM_FORK["max_len"])))
        elif mode == "garbage":
            body = random.Random(20260101).randbytes(64 * 1024)
            for path in ("/metrics", "/v1/models", "/server_info", "/get_server_info"):
                self.pages[path] = (200, "text/plain", body)
        elif mode == "html":
            body = ("<!DOCTYPE html>\n<html>\n<head><title>Sign in</title></head>\n"
                    "<body>\n<form method=\"post\" action=\"/login\">\n"
                    "<input name=\"user\">\n<input name=\"password\" type=\"password\">\n"
                    "</form>\n</body>\n</html>\n").encode()
            for path in ("/metrics", "/v1/models", "/server_info", "/get_server_info"):
                self.pages[path] = (200, "text/html; charset=utf-8", body)

    def count(self, path):
        with self.lock:
            self.counts[path] = self.counts.get(path, 0) + 1

    def server_info(self, query):
        """vLLM's /server_info: JSON config only with config_format=json,
        and only in dev mode."""
        if self.mode != "vllm-fork":
            return None
        cfg = vllm_fork_config()
        if parse_qs(query).get("config_format") == ["json"]:
            return {"vllm_config": cfg}
        return {"vllm_config": str(cfg)}


class Handler(BaseHTTPRequestHandler):
    server_version = "engines.py"
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def send_body(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        eng = self.server.engine
        url = urlsplit(self.path)
        eng.count(url.path)
        try:
            if url.path == "/_requests":
                with eng.lock:
                    body = json.dumps(eng.counts, sort_keys=True).encode()
                return self.send_body(200, "application/json", body)
            if eng.mode == "slow":
                return self.slow()
            if eng.mode == "oversized":
                return self.oversized(eng.big_mb)
            if eng.mode == "sluggish" and url.path == "/metrics" and STOP.wait(1.0):
                return
            if url.path == "/server_info":
                info = eng.server_info(url.query)
                if info is not None:
                    return self.send_body(200, "application/json", json.dumps(info).encode())
            page = eng.pages.get(url.path)
            if page is None:
                return self.send_body(404, "application/json", b'{"detail":"Not Found"}')
            self.send_body(*page)
            if eng.mode == "once" and url.path == "/metrics":
                threading.Thread(target=self.close_server, daemon=True).start()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the scraper gave up on us: that is the point of some modes

    def close_server(self):
        self.server.shutdown()
        self.server.server_close()  # from now on, connections are refused

    def slow(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(b"# slow")
        self.wfile.flush()
        while not STOP.wait(0.5):
            self.wfile.write(b".")
            self.wfile.flush()

    def oversized(self, big_mb):
        line = "vllm:request_success_total{model_name=\"%s\",finished_reason=\"stop\",engine=\"%d\"} %d\n"
        block = "".join(line % (MODEL, i % 64, i) for i in range(12000)).encode()
        total = big_mb * 1000 * 1000
        n = total // len(block) + 1
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(n * len(block)))
        self.end_headers()
        for _ in range(n):
            if STOP.is_set():
                return
            self.wfile.write(block)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def hang(sock):
    """Accepts and holds connections without reading or answering."""
    held = []
    sock.settimeout(0.5)
    while not STOP.is_set():
        try:
            conn, _ = sock.accept()
        except socket.timeout:
            continue
        except OSError:
            return
        held.append(conn)
        if len(held) > 256:
            held.pop(0).close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--big-mb", type=int, default=80)
    ap.add_argument("modes", nargs="+")
    a = ap.parse_args()

    known = {"sglang", "sglang-underscore", "vllm-old", "vllm-fork", "vllm-fork-nodev", "vllm-tls",
             "sluggish", "once", "slow", "hang", "dead", "garbage", "html", "oversized", "hugelabel"}
    for m in a.modes:
        if m not in known:
            sys.exit("engines.py: unknown mode %r (%s)" % (m, ", ".join(sorted(known))))

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: STOP.set())
    parent = os.getppid()
    ports, keep = [], []
    for m in a.modes:
        if m in ("dead", "hang"):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            if m == "hang":
                s.listen(64)
                threading.Thread(target=hang, args=(s,), daemon=True).start()
            keep.append(s)  # dead: bound, never listening: connections are refused
            ports.append((m, s.getsockname()[1]))
            continue
        srv = Server(("127.0.0.1", 0), Handler)
        if m == "vllm-tls":
            tls = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "tls")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(os.path.join(tls, "engine.crt"), os.path.join(tls, "engine.key"))
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        srv.engine = Engine(m, a.big_mb)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()
        keep.append(srv)
        ports.append((m, srv.server_address[1]))
    for m, p in ports:
        print(m, p)
    print("ready", flush=True)

    deadline = time.monotonic() + a.max_seconds
    while not STOP.wait(0.5):
        if time.monotonic() >= deadline or os.getppid() != parent:
            break
    STOP.set()
    os._exit(0)  # handler threads may be blocked in writes; do not wait for them


if __name__ == "__main__":
    main()
