#!/usr/bin/env python3
"""Bulk writes of labelled engine pods for hack/scale.sh.

  scale_pods.py create STATE SPEC   pods from SPEC (one "ns name workload port"
                                    per line): create, then status Running/Ready
                                    at 127.0.0.1
  scale_pods.py delete STATE SPEC   delete them (grace period 0)
  scale_pods.py yaml SPEC           the same pods as one YAML List on stdout
                                    (for `infermon render -f`)

STATE is a hack/local-cluster.sh state directory (cluster.env, pki/). Writes
go over 16 client threads, each with its own keep-alive connection, as a
controller's client would; prints "writes=N seconds=S" on stdout.
"""
import http.client
import json
import os
import queue
import ssl
import sys
import threading
import time

THREADS = 16
LABEL_WL = "alibabacloud.com/inference-workload"
LABEL_BE = "alibabacloud.com/inference-backend"


def read_spec(path):
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def pod(ns, name, wl, port):
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns,
                     "labels": {LABEL_WL: wl, LABEL_BE: "vllm"}},
        "spec": {"containers": [{
            "name": "engine", "image": "vllm/vllm-openai:test",
            "args": ["--max-num-seqs", "8"],
            "ports": [{"name": "http", "containerPort": int(port)}]}]},
    }


STATUS = json.dumps({"status": {
    "phase": "Running", "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}],
    "conditions": [{"type": "Ready", "status": "True"}]}})


class Client:
    def __init__(self, state):
        env = {}
        with open(os.path.join(state, "cluster.env")) as f:
            for line in f:
                if "=" in line and not line.startswith("#"):
                    k, v = line.strip().split("=", 1)
                    env[k] = v
        pki = os.path.join(state, "pki")
        self.port = int(env["APISERVER_PORT"])
        self.ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.crt"))
        self.ctx.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
        self.conn = None

    def call(self, method, path, body=None, ctype="application/json"):
        for attempt in range(5):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=60)
            try:
                hdr = {"Content-Type": ctype} if body is not None else {}
                self.conn.request(method, path, body=body, headers=hdr)
                r = self.conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                time.sleep(0.2 * (attempt + 1))
                continue
            if r.status == 429 or r.status >= 500:
                time.sleep(0.2 * (attempt + 1))
                continue
            return r.status, data
        raise SystemExit("%s %s: no answer after 5 tries" % (method, path))


def run(state, jobs):
    """jobs: list of (method, path, body, ctype, ok_statuses)"""
    q = queue.Queue()
    for j in jobs:
        q.put(j)
    errors = []
    count = [0]
    lock = threading.Lock()

    def worker():
        c = Client(state)
        n = 0
        while True:
            try:
                method, path, body, ctype, ok = q.get_nowait()
            except queue.Empty:
                break
            status, data = c.call(method, path, body, ctype)
            if status not in ok:
                with lock:
                    errors.append("%s %s: HTTP %d %s" % (method, path, status, data[:300]))
            n += 1
        with lock:
            count[0] += n

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    secs = time.monotonic() - t0
    if errors:
        sys.stderr.write("\n".join(errors[:10]) + "\n")
        raise SystemExit("%d of %d writes failed" % (len(errors), len(jobs)))
    return count[0], secs


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "yaml":
        items = [pod(*r) for r in read_spec(sys.argv[2])]
        for p in items:
            p["status"] = json.loads(STATUS)["status"]
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout)
        return
    if len(sys.argv) != 4 or sys.argv[1] not in ("create", "delete"):
        raise SystemExit(__doc__)
    state, spec = sys.argv[2], read_spec(sys.argv[3])
    total, secs = 0, 0.0
    if sys.argv[1] == "create":
        for phase in ("create", "status"):
            jobs = []
            for ns, name, wl, port in spec:
                if phase == "create":
                    jobs.append(("POST", "/api/v1/namespaces/%s/pods" % ns,
                                 json.dumps(pod(ns, name, wl, port)), "application/json", (201, 409)))
                else:
                    jobs.append(("PATCH", "/api/v1/namespaces/%s/pods/%s/status" % (ns, name),
                                 STATUS, "application/merge-patch+json", (200,)))
            n, s = run(state, jobs)
            total += n
            secs += s
    else:
        jobs = [("DELETE", "/api/v1/namespaces/%s/pods/%s" % (ns, name),
                 '{"gracePeriodSeconds":0}', "application/json", (200, 202, 404))
                for ns, name, _, _ in spec]
        total, secs = run(state, jobs)
    print("writes=%d seconds=%.2f" % (total, secs))


if __name__ == "__main__":
    main()
