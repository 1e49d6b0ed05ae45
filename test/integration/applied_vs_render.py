#!/usr/bin/env python3
"""What the controller applied against what `infermon render` printed, field
for field (it_render.sh).

  applied_vs_render.py RENDERED.yaml LIVE.json NAMESPACE

RENDERED.yaml is render's output; LIVE.json the live copies of the same
objects (a kubectl List; objects render printed that are missing from it
count as differences). "What the controller applied" is each live object cut
down to the fields its field manager `infermon` owns (metadata.managedFields,
operation Apply): that leaves out every field the API server defaulted or set
(a Service's clusterIPs, metadata.uid, resourceVersion, creationTimestamp,
generation, annotations, status) and keeps every field infermon sent, so a
field render adds, drops or changes shows up. ownerReferences are left out on
both sides (render reads CRs without a uid).

The scrape Secret and its jobs are shared by every namespace in the cluster:
both sides are cut down to NAMESPACE's workloads first (the job's namespaces
and the alternatives of its membership regex), and the controller's base64
`data` is compared with render's `stringData`.

Exit 0 when every object matches; else 1 with each difference on stdout
(kind/name: path: applied vs rendered).
"""
import base64
import json
import sys

import yaml

MANAGER = "infermon"


def project(live, fields):
    """live cut down to the fields of a managedFields fieldsV1 set."""
    if not fields or not isinstance(fields, dict) or set(fields) <= {"."}:
        return live
    if isinstance(live, dict):
        out = {}
        for k, sub in fields.items():
            if k.startswith("f:") and k[2:] in live:
                out[k[2:]] = project(live[k[2:]], sub)
        return out
    if isinstance(live, list):
        out = []
        for item in live:
            for k, sub in fields.items():
                if k.startswith("k:"):
                    key = json.loads(k[2:])
                    if isinstance(item, dict) and all(item.get(a) == b for a, b in key.items()):
                        out.append(project(item, sub))
                        break
                elif k.startswith("v:") and json.loads(k[2:]) == item:
                    out.append(item)
                    break
        return out
    return live


def applied(obj):
    fields = {}
    for mf in obj.get("metadata", {}).get("managedFields", []):
        if mf.get("manager") == MANAGER and mf.get("operation") == "Apply":
            fields = mf.get("fieldsV1", {})
    out = project(obj, fields)
    md = out.setdefault("metadata", {})
    md["name"] = obj["metadata"]["name"]
    if "namespace" in obj["metadata"]:
        md["namespace"] = obj["metadata"]["namespace"]
    out["apiVersion"] = obj["apiVersion"]
    out["kind"] = obj["kind"]
    return out


def drop_owner(obj):
    obj.get("metadata", {}).pop("ownerReferences", None)
    return obj


def jobs_of(text, ns):
    """The scrape jobs cut down to namespace ns (None: no jobs there)."""
    out = []
    for job in yaml.safe_load(text) or []:
        mine = False
        for sd in job.get("kubernetes_sd_configs", []):
            names = sd.get("namespaces", {}).get("names", [])
            sd["namespaces"]["names"] = [n for n in names if n == ns]
        for rc in job.get("relabel_configs", []):
            if len(rc.get("source_labels", [])) == 3:
                alts = [a for a in rc["regex"].split("|") if a.startswith(ns + ";")]
                mine = mine or bool(alts)
                rc["regex"] = "|".join(alts)
        if mine:
            out.append(job)
    return out


def secret_jobs(obj, ns):
    if "stringData" in obj:
        texts = obj.pop("stringData")
    else:
        texts = {k: base64.b64decode(v).decode() for k, v in obj.pop("data", {}).items()}
    obj["jobs"] = {k: jobs_of(v, ns) for k, v in texts.items()}
    return obj


def diff(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append("%s.%s: not applied, rendered %s" % (path, k, json.dumps(b[k])[:200]))
            elif k not in b:
                out.append("%s.%s: applied %s, not rendered" % (path, k, json.dumps(a[k])[:200]))
            else:
                diff(a[k], b[k], "%s.%s" % (path, k), out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, "%s[%d]" % (path, i), out)
    elif a != b:
        out.append("%s: applied %s, rendered %s" % (path, json.dumps(a)[:200], json.dumps(b)[:200]))


def main():
    rendered = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
    live = json.load(open(sys.argv[2]))["items"]
    ns = sys.argv[3]
    by_id = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in live}
    problems, kinds = [], {}
    for want in rendered:
        md = want["metadata"]
        ident = (want["kind"], md.get("namespace"), md["name"])
        name = "%s %s/%s" % ident
        kinds[want["kind"]] = kinds.get(want["kind"], 0) + 1
        if ident not in by_id:
            problems.append("%s: rendered, not applied" % name)
            continue
        have = drop_owner(applied(by_id[ident]))
        want = drop_owner(want)
        if want["kind"] == "Secret":
            have, want = secret_jobs(have, ns), secret_jobs(want, ns)
        diff(have, want, name, problems)
    print("compared: %s" % ", ".join("%d %s" % (n, k) for k, n in sorted(kinds.items())))
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
