#!/usr/bin/env python3
"""Scrape targets for the dashboard test: engines of every variant in
docs/metrics.md that llm-d-inference-sim cannot play, and dcgm-exporter.

    dashboard_targets.py [--max-seconds 600] SPEC.json

    DASHBOARD_TARGET='{"name": ...}' dashboard_targets.py --pod [ENGINE ARGS...]

SPEC.json is a list of targets, each {"name": N, "mode": MODE, ...}; every
target gets its own port on 127.0.0.1 (a target is a base URL: /metrics,
/v1/models and the info endpoints share it). Once every port is bound the
server prints one line "NAME PORT" per target, then "ready", and flushes.

Engine modes (keys: model, and for the -pd modes role = prefill | decode):
  vllm-dp     vLLM >= 0.11 names, data parallel: every series twice, engine
              "0" and "1"; prefix_cache_*, kv_cache_max_concurrency
  vllm-0.9    vLLM V1 0.8-0.10: gpu_cache_usage_perc,
              time_per_output_token_seconds, gpu_prefix_cache_* (engine "0")
  vllm-v0     vLLM V0: model_name only, num_requests_swapped,
              gpu_prefix_cache_hit_rate gauge, no prefill/decode histograms
  vllm-pd     vLLM >= 0.11 with NIXL: vllm:nixl_xfer_time_seconds (decode),
              vllm:nixl_num_pending_sends (prefill)
  sglang      `sglang:` names, DP 2 x TP 2 (tp_rank, dp_rank, engine_type)
  sglang_     `sglang_` names of older releases: time_per_output_token_seconds,
              the num_retracted_reqs gauge
  sglang-pd   `sglang:` names with disaggregation queues, KV transfer
              latency/speed histograms and failure counters
  dcgm        dcgm-exporter: keys gpus = [{"namespace", "pod", "gpu"}]; a GPU
              with an empty pod is idle. Scraped with honor_labels true the
              pod labels stay pod/namespace; with false they arrive as
              exported_pod/exported_namespace (the test does both).

Counters and histograms grow with wall time at fixed rates, so rate() and
histogram_quantile() have something to show; gauges move slowly. Names,
labels and types follow docs/metrics.md. The process exits after --max-seconds,
on SIGTERM/SIGINT, and when its parent exits. Binds 127.0.0.1 only,
except with --pod: then one target (DASHBOARD_TARGET, JSON) is served on
every address of the pod at DASHBOARD_PORT (8000) until SIGTERM, and the
arguments after --pod, the engine's command line the controller reads from
the pod spec, are ignored. Python
standard library only.
"""

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

STOP = threading.Event()
T0 = time.monotonic()
CREATED = 1767225600.0

LAT_S = ["0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5",
         "0.75", "1.0", "2.5", "5.0", "7.5", "10.0", "20.0", "40.0", "80.0", "160.0",
         "640.0", "2560.0"]
REQ_S = ["0.3", "0.5", "0.8", "1.0", "1.5", "2.0", "2.5", "5.0", "10.0", "15.0", "20.0",
         "30.0", "40.0", "50.0", "60.0", "120.0", "240.0", "480.0", "960.0", "1920.0",
         "7680.0"]
TPOT_S = ["0.01", "0.025", "0.05", "0.075", "0.1", "0.15", "0.2", "0.3", "0.4", "0.5",
          "0.75", "1.0", "2.5", "5.0", "7.5", "10.0", "20.0", "40.0", "80.0"]
SGL_S = ["0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf"]
MS = ["1", "5", "10", "50", "100", "500", "1000", "5000"]


def len_buckets(max_len):
    """vLLM's 1-2-5 buckets up to max_model_len."""
    out, m = [], 1
    while True:
        for f in (1, 2, 5):
            if f * m > max_len:
                return out
            out.append(str(f * m))
        m *= 10


def now():
    return time.monotonic() - T0


def lab(labels):
    return "{" + ",".join('%s="%s"' % (k, v) for k, v in labels) + "}"


class Page:
    def __init__(self):
        self.lines = []

    def family(self, name, kind, help_text):
        self.lines.append("# HELP %s %s" % (name, help_text))
        self.lines.append("# TYPE %s %s" % (name, kind))

    def sample(self, name, labels, value):
        if isinstance(value, float):
            value = repr(value)
        self.lines.append("%s%s %s" % (name, lab(labels), value))

    def gauge(self, name, help_text, rows):
        self.family(name, "gauge", help_text)
        for labels, v in rows:
            self.sample(name, labels, v)

    def counter(self, name, help_text, rows):
        """name without _total; rows [(labels, per-second rate)]."""
        self.family(name + "_total", "counter", help_text)
        t = now()
        for labels, r in rows:
            self.sample(name + "_total", labels, int(1000 + r * t))
        self.family(name + "_created", "gauge", help_text)
        for labels, _ in rows:
            self.sample(name + "_created", labels, CREATED)

    def histogram(self, name, help_text, rows, buckets, center):
        """rows [(labels, observations per second)]; observations spread
        around bucket index `center` (deterministic shape)."""
        self.family(name, "histogram", help_text)
        t = now()
        finite = [b for b in buckets if b != "+Inf"]
        weights = [math.exp(-((i - center) ** 2) / 2.0) for i in range(len(finite))]
        total_w = sum(weights)
        mids = []
        prev = 0.0
        for b in finite:
            mids.append((prev + float(b)) / 2)
            prev = float(b)
        mean = sum(w * m for w, m in zip(weights, mids)) / total_w
        for labels, r in rows:
            count = int(20 + r * t)
            cum = 0.0
            for b, w in zip(finite, weights):
                cum += w
                self.sample(name + "_bucket", labels + [("le", b)], int(count * cum / total_w))
            self.sample(name + "_bucket", labels + [("le", "+Inf")], count)
            self.sample(name + "_sum", labels, round(count * mean, 6))
            self.sample(name + "_count", labels, count)

    def text(self):
        return "\n".join(self.lines) + "\n"


def wave(base, amp, period=60.0, phase=0.0):
    return round(base + amp * math.sin(2 * math.pi * now() / period + phase), 4)


# ---------------------------------------------------------------------------
# vLLM

VLLM_ERA = {
    # kv usage, TPOT histogram, prefix cache, engine label, phases, swapped
    "vllm-dp": dict(kv="vllm:kv_cache_usage_perc", tpot="vllm:inter_token_latency_seconds",
                    prefix="new", engines=["0", "1"], phases=True, swapped=False, kvconc=True),
    "vllm-pd": dict(kv="vllm:kv_cache_usage_perc", tpot="vllm:inter_token_latency_seconds",
                    prefix="new", engines=["0"], phases=True, swapped=False, kvconc=True),
    "vllm-0.9": dict(kv="vllm:gpu_cache_usage_perc", tpot="vllm:time_per_output_token_seconds",
                     prefix="old", engines=["0"], phases=True, swapped=False, kvconc=False),
    "vllm-v0": dict(kv="vllm:gpu_cache_usage_perc", tpot="vllm:time_per_output_token_seconds",
                    prefix="v0", engines=None, phases=False, swapped=True, kvconc=False),
}
VLLM_MAX_LEN = 8192
VLLM_BLOCKS, VLLM_BLOCK = 9000, 16


def vllm_page(t):
    era = VLLM_ERA[t["mode"]]
    model = t["model"]
    role = t.get("role", "")
    engines = era["engines"]
    ms = [[("model_name", model)] + ([("engine", e)] if e is not None else [])
          for e in (engines or [None])]
    p = Page()
    info = [("block_size", VLLM_BLOCK), ("cache_dtype", "auto"), ("enable_prefix_caching", "True"),
            ("gpu_memory_utilization", "0.9"), ("num_gpu_blocks", VLLM_BLOCKS)]
    if era["kvconc"]:
        info += [("kv_cache_max_concurrency", round(VLLM_BLOCKS * VLLM_BLOCK / VLLM_MAX_LEN, 4)),
                 ("kv_cache_size_tokens", VLLM_BLOCKS * VLLM_BLOCK)]
    p.gauge("vllm:cache_config_info", "Information of the LLMEngine CacheConfig.",
            [(sorted(info + ([("engine", e)] if e is not None else [])), 1.0)
             for e in (engines or [None])])
    p.gauge("vllm:num_requests_running", "Number of requests in model execution batches.",
            [(m, 6 + i) for i, m in enumerate(ms)])
    p.gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.",
            [(m, 2 + i) for i, m in enumerate(ms)])
    if era["swapped"]:
        p.gauge("vllm:num_requests_swapped", "Number of requests swapped to CPU.",
                [(m, 1) for m in ms])
    p.gauge(era["kv"], "KV-cache usage. 1 means 100 percent usage.",
            [(m, wave(0.35 + 0.1 * i, 0.05)) for i, m in enumerate(ms)])
    p.counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.",
              [(m, 0.05) for m in ms])
    if era["prefix"] == "new":
        p.counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.",
                  [(m, 4000.0) for m in ms])
        p.counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.",
                  [(m, 1100.0) for m in ms])
    elif era["prefix"] == "old":
        p.counter("vllm:gpu_prefix_cache_queries", "GPU prefix cache queries, in terms of number of queried blocks.",
                  [(m, 250.0) for m in ms])
        p.counter("vllm:gpu_prefix_cache_hits", "GPU prefix cache hits, in terms of number of cached blocks.",
                  [(m, 60.0) for m in ms])
    else:
        p.gauge("vllm:gpu_prefix_cache_hit_rate", "GPU prefix cache block hit rate.",
                [(m, wave(0.22, 0.02)) for m in ms])
    p.counter("vllm:prompt_tokens", "Number of prefill tokens processed.", [(m, 2400.0) for m in ms])
    p.counter("vllm:generation_tokens", "Number of generation tokens processed.", [(m, 900.0) for m in ms])
    p.counter("vllm:request_success", "Count of successfully processed requests.",
              [(m + [("finished_reason", r)], v) for m in ms
               for r, v in (("stop", 4.0), ("length", 0.8), ("abort", 0.1))])
    rps = [(m, 5.0) for m in ms]
    p.histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
                rps, LAT_S + ["+Inf"], 8)
    p.histogram(era["tpot"], "Histogram of time per output token in seconds.",
                [(m, 900.0) for m in ms], TPOT_S + ["+Inf"], 2)
    p.histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
                rps, REQ_S + ["+Inf"], 6)
    p.histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.",
                rps, REQ_S + ["+Inf"], 1)
    if era["phases"]:
        p.histogram("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.",
                    rps, REQ_S + ["+Inf"], 0)
        p.histogram("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.",
                    rps, REQ_S + ["+Inf"], 5)
        p.histogram("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.",
                    rps, REQ_S + ["+Inf"], 5)
    lens = len_buckets(VLLM_MAX_LEN) + ["+Inf"]
    p.histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", rps, lens, 7)
    p.histogram("vllm:request_generation_tokens", "Number of generation tokens processed.", rps, lens, 5)
    if t["mode"] == "vllm-pd":
        if role == "decode":
            p.histogram("vllm:nixl_xfer_time_seconds", "Histogram of transfer duration for NIXL KV Cache transfers.",
                        [(m, 5.0) for m in ms], LAT_S + ["+Inf"], 5)
        else:
            p.gauge("vllm:nixl_num_pending_sends", "Number of NIXL sends pending completion.",
                    [(m, 3) for m in ms])
    return p.text()


# ---------------------------------------------------------------------------
# SGLang

SGL_DP = [dict(running=20, queued=3, usage=0.31, used=30474), dict(running=24, queued=5, usage=0.42, used=41288)]
SGL_POOL = 98304
SGL_CONTEXT = 4096
SGL_PER_DP = 24


def sglang_ranks(t):
    dps = SGL_DP if t["mode"] != "sglang-pd" else SGL_DP[:1]
    etype = t.get("role") or "unified"
    for dp, st in enumerate(dps):
        for tp in (0, 1):
            yield [("model_name", t["model"]), ("engine_type", etype), ("tp_rank", str(tp)),
                   ("pp_rank", "0"), ("dp_rank", str(dp))], st


def sglang_page(t):
    mode = t["mode"]
    px = "sglang_" if mode == "sglang_" else "sglang:"
    old = mode == "sglang_"
    ranks = list(sglang_ranks(t))
    labs = [l for l, _ in ranks]
    p = Page()
    p.gauge(px + "num_running_reqs", "The number of running requests.", [(l, s["running"]) for l, s in ranks])
    p.gauge(px + "num_queue_reqs", "The number of requests in the waiting queue.", [(l, s["queued"]) for l, s in ranks])
    p.gauge(px + "num_used_tokens", "The number of used tokens.", [(l, s["used"]) for l, s in ranks])
    p.gauge(px + "token_usage", "The token usage.", [(l, wave(s["usage"], 0.03)) for l, s in ranks])
    p.gauge(px + "max_total_num_tokens", "Maximum total number of tokens in the KV cache pool.",
            [(l, SGL_POOL) for l in labs])
    p.gauge(px + "gen_throughput", "The generation throughput (token/s).", [(l, wave(1234.5, 50)) for l in labs])
    p.gauge(px + "cache_hit_rate", "The prefix cache hit rate.", [(l, wave(0.12, 0.01)) for l in labs])
    if old:
        p.gauge(px + "num_retracted_reqs", "The number of retracted requests.", [(l, 2) for l in labs])
    else:
        p.counter(px + "num_retracted_requests", "Total number of retracted requests.", [(l, 0.05) for l in labs])
    p.counter(px + "prompt_tokens", "Number of prefill tokens processed.", [(l, 3000.0) for l in labs])
    p.counter(px + "generation_tokens", "Number of generation tokens processed.", [(l, 1200.0) for l in labs])
    p.counter(px + "cached_tokens", "Number of cached prompt tokens.", [(l, 400.0) for l in labs])
    rps = [(l, 6.0) for l in labs]
    p.histogram(px + "time_to_first_token_seconds", "Histogram of time to first token in seconds.", rps, SGL_S, 2)
    tpot = "time_per_output_token_seconds" if old else "inter_token_latency_seconds"
    p.histogram(px + tpot, "Histogram of time per output token in seconds.", [(l, 1200.0) for l in labs],
                SGL_S, 0)
    p.histogram(px + "e2e_request_latency_seconds", "Histogram of End-to-end request latency in seconds",
                rps, SGL_S, 4)
    if mode == "sglang-pd":
        if t["role"] == "prefill":
            p.gauge(px + "num_prefill_bootstrap_queue_reqs", "Requests in the prefill bootstrap queue.",
                    [(l, 2) for l in labs])
            p.gauge(px + "num_prefill_inflight_queue_reqs", "Requests in the prefill inflight (transfer) queue.",
                    [(l, 4) for l in labs])
        else:
            p.gauge(px + "num_decode_prealloc_queue_reqs", "Requests in the decode prealloc queue.",
                    [(l, 1) for l in labs])
            p.gauge(px + "num_decode_transfer_queue_reqs", "Requests in the decode transfer queue.",
                    [(l, 3) for l in labs])
        p.histogram(px + "kv_transfer_latency_ms", "Histogram of KV transfer latency in milliseconds.",
                    rps, MS + ["+Inf"], 3)
        p.histogram(px + "kv_transfer_speed_gb_s", "Histogram of KV transfer speed in GB/s.",
                    rps, ["1", "5", "10", "25", "50", "100", "+Inf"], 3)
        p.counter(px + "num_bootstrap_failed_reqs", "Number of requests whose bootstrap failed.",
                  [(l, 0.02) for l in labs])
        p.counter(px + "num_transfer_failed_reqs", "Number of requests whose KV transfer failed.",
                  [(l, 0.01) for l in labs])
    return p.text()


def sglang_server_info(t):
    dps = SGL_DP if t["mode"] != "sglang-pd" else SGL_DP[:1]
    return {
        "model_path": "/models/" + t["model"], "served_model_name": t["model"],
        "tp_size": 2, "dp_size": len(dps), "pp_size": 1,
        "max_running_requests": None, "context_length": SGL_CONTEXT,
        "disaggregation_mode": t.get("role") or "null", "enable_metrics": True,
        "max_total_num_tokens": SGL_POOL, "max_req_input_len": SGL_CONTEXT - 1,
        "internal_states": [{"dp_rank": i, "effective_max_running_requests_per_dp": SGL_PER_DP,
                             "last_gen_throughput": 1234.5} for i in range(len(dps))],
        "version": "0.5.5",
    }


# ---------------------------------------------------------------------------
# dcgm-exporter

def dcgm_page(t):
    p = Page()
    rows = []
    for i, g in enumerate(t["gpus"]):
        labels = [("gpu", g["gpu"]), ("UUID", "GPU-%08x-0000-4000-8000-%012x" % (0x5eed0000 + i, i)),
                  ("device", "nvidia%s" % g["gpu"]), ("modelName", "NVIDIA H100 80GB HBM3"),
                  ("Hostname", t["name"]), ("DCGM_FI_DRIVER_VERSION", "570.124.06")]
        if g.get("pod"):
            labels += [("container", "engine"), ("namespace", g["namespace"]), ("pod", g["pod"])]
        rows.append((labels, i))
    spec = [
        ("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", lambda i: int(wave(88, 8, 40, i))),
        ("DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %).", lambda i: int(wave(35, 10, 50, i))),
        ("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", lambda i: 71000 + 100 * i),
        ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "Ratio of cycles the tensor (HMMA) pipe is active.",
         lambda i: wave(0.42, 0.1, 30, i)),
        ("DCGM_FI_PROF_SM_ACTIVE", "The ratio of cycles an SM has at least 1 warp assigned.",
         lambda i: wave(0.7, 0.1, 35, i)),
        ("DCGM_FI_PROF_DRAM_ACTIVE", "Ratio of cycles the device memory interface is active sending or receiving data.",
         lambda i: wave(0.5, 0.1, 45, i)),
    ]
    for name, help_text, value in spec:
        p.gauge(name, help_text, [(labels, value(i)) for labels, i in rows])
    return p.text()


# ---------------------------------------------------------------------------
# Serving

class Target:
    def __init__(self, spec):
        self.spec = spec
        self.mode = spec["mode"]

    def page(self, path):
        t, mode = self.spec, self.mode
        j = lambda o: (200, "application/json", json.dumps(o).encode())
        text = "text/plain; version=0.0.4; charset=utf-8"
        if path == "/metrics":
            if mode in VLLM_ERA:
                return 200, text, vllm_page(t).encode()
            if mode in ("sglang", "sglang_", "sglang-pd"):
                return 200, text, sglang_page(t).encode()
            if mode == "dcgm":
                return 200, text, dcgm_page(t).encode()
        if path == "/v1/models" and mode != "dcgm":
            max_len = SGL_CONTEXT if mode.startswith("sglang") else VLLM_MAX_LEN
            return j({"object": "list", "data": [{
                "id": t["model"], "object": "model", "created": int(CREATED),
                "owned_by": "sglang" if mode.startswith("sglang") else "vllm",
                "root": "/models/" + t["model"], "max_model_len": max_len}]})
        if path == "/get_server_info" and mode.startswith("sglang"):
            return j(sglang_server_info(t))
        return 404, "application/json", b'{"detail":"Not Found"}'


class Handler(BaseHTTPRequestHandler):
    server_version = "dashboard_targets.py"
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        status, ctype, body = self.server.target.page(urlsplit(self.path).path)
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


MODES = set(VLLM_ERA) | {"sglang", "sglang_", "sglang-pd", "dcgm"}


def pod_main():
    """--pod: one target, as a pod of the real node (hack/images/pages.Dockerfile)."""
    try:
        spec = json.loads(os.environ["DASHBOARD_TARGET"])
        port = int(os.environ.get("DASHBOARD_PORT", "8000"))
    except (KeyError, ValueError) as e:
        sys.exit("dashboard_targets.py --pod: DASHBOARD_TARGET must hold one target as JSON"
                 " and DASHBOARD_PORT a port: %s" % e)
    check_specs([spec])
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: STOP.set())
    srv = Server(("0.0.0.0", port), Handler)
    srv.target = Target(spec)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    print("%s %s serving on port %d" % (spec["name"], spec["mode"], port), flush=True)
    STOP.wait()
    os._exit(0)


def check_specs(specs):
    for s in specs:
        if s.get("mode") not in MODES:
            sys.exit("dashboard_targets.py: %s: unknown mode %r (%s)" % (
                s.get("name"), s.get("mode"), ", ".join(sorted(MODES))))
        if s["mode"] != "dcgm" and not s.get("model"):
            sys.exit("dashboard_targets.py: %s: no model" % s["name"])
        if s["mode"].endswith("-pd") and s.get("role") not in ("prefill", "decode"):
            sys.exit("dashboard_targets.py: %s: role must be prefill or decode" % s["name"])


def main():
    if sys.argv[1:2] == ["--pod"]:
        # the rest of the command line is the engine's, for the controller
        pod_main()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("spec")
    a = ap.parse_args()
    with open(a.spec, encoding="utf-8") as f:
        specs = json.load(f)
    check_specs(specs)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: STOP.set())
    parent = os.getppid()
    servers = []
    for s in specs:
        srv = Server(("127.0.0.1", 0), Handler)
        srv.target = Target(s)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        servers.append((s["name"], srv))
    for name, srv in servers:
        print(name, srv.server_address[1])
    print("ready", flush=True)
    deadline = time.monotonic() + a.max_seconds
    while not STOP.wait(0.5):
        if time.monotonic() >= deadline or os.getppid() != parent:
            break
    STOP.set()
    os._exit(0)


if __name__ == "__main__":
    main()
