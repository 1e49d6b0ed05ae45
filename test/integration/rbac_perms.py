#!/usr/bin/env python3
"""RBAC permissions of deploy/ for it_rbac.sh, one (role, rule, resource, verb) at a time.

  rbac_perms.py list RBAC.json
      one line per permission: ID TAB ROLE TAB GROUP TAB RESOURCE TAB VERB TAB NAMES
      (GROUP "core" for the core group: shells collapse empty tab fields)
      ID is ROLE:RESOURCE[.GROUP]:VERB, ROLE is ClusterRole/NAME or Role/NS/NAME,
      NAMES the rule's resourceNames joined with "," ("-" when none)
  rbac_perms.py without RBAC.json ID
      the Role or ClusterRole of ID as JSON, with only that verb of that
      resource removed (its rule split so every other grant stays)
  rbac_perms.py role RBAC.json ROLE
      the Role or ClusterRole ROLE as deployed, as JSON
  rbac_perms.py requested LOG
      RESOURCE[.GROUP]:VERB for every request in the controller's request log
      (msg="api request" lines, --log-level debug). A server-side apply PATCH
      counts as patch and create: the API server authorises an apply that
      creates the object as create.

RBAC.json is a JSON List (kubectl create --dry-run=client -o json) of the
objects `kubectl kustomize deploy/` renders.
"""
import json
import re
import sys
from urllib.parse import urlsplit, parse_qs


def roles(path):
    with open(path) as f:
        doc = json.load(f)
    items = doc.get("items", [doc]) if doc.get("kind") == "List" else [doc]
    return [o for o in items if o.get("kind") in ("Role", "ClusterRole")]


def role_id(o):
    md = o["metadata"]
    if o["kind"] == "ClusterRole":
        return "ClusterRole/" + md["name"]
    return "Role/%s/%s" % (md["namespace"], md["name"])


def qualified(resource, group):
    return resource + ("." + group if group else "")


def perms(objs):
    for o in objs:
        for ri, rule in enumerate(o.get("rules", [])):
            for g in rule.get("apiGroups", [""]):
                for res in rule.get("resources", []):
                    for verb in rule.get("verbs", []):
                        pid = "%s:%s:%s" % (role_id(o), qualified(res, g), verb)
                        yield pid, o, ri, g, res, verb, rule.get("resourceNames") or []


def cmd_list(path):
    for pid, o, _, g, res, verb, names in perms(roles(path)):
        print("\t".join([pid, role_id(o), g or "core", res, verb, ",".join(names) or "-"]))


def bare(o, rules):
    out = dict(o, rules=rules)
    out["metadata"] = {k: v for k, v in o["metadata"].items() if k in ("name", "namespace", "labels")}
    return out


def cmd_role(path, want):
    for o in roles(path):
        if role_id(o) == want:
            json.dump(bare(o, o["rules"]), sys.stdout)
            return
    sys.exit("no role %s" % want)


def cmd_without(path, want):
    for pid, o, ri, g, res, verb, _ in perms(roles(path)):
        if pid != want:
            continue
        rules = []
        for i, rule in enumerate(o["rules"]):
            if i != ri:
                rules.append(rule)
                continue
            # every (group, resource) pair of the rule keeps its verbs,
            # except (g, res), which loses verb
            others = dict(rule)
            others["apiGroups"] = [x for x in rule.get("apiGroups", [""]) if x != g]
            if others["apiGroups"]:
                rules.append(others)
            rest = dict(rule, apiGroups=[g])
            rest["resources"] = [x for x in rule["resources"] if x != res]
            if rest["resources"]:
                rules.append(rest)
            verbs = [v for v in rule["verbs"] if v != verb]
            if verbs:
                rules.append(dict(rule, apiGroups=[g], resources=[res], verbs=verbs))
        json.dump(bare(o, rules), sys.stdout)
        return
    sys.exit("no permission %s" % want)


REQ = re.compile(r'msg="api request" method=(\S+) path="?([^"\s]+)')


def cmd_requested(path):
    seen = set()
    with open(path, errors="replace") as f:
        for line in f:
            m = REQ.search(line)
            if not m:
                continue
            method, url = m.group(1), m.group(2)
            u = urlsplit(url)
            segs = [s for s in u.path.split("/") if s]
            if segs[:2] == ["api", "v1"]:
                group, segs = "", segs[2:]
            elif segs[:1] == ["apis"] and len(segs) >= 3:
                group, segs = segs[1], segs[3:]
            else:
                continue
            if not segs:
                continue  # discovery
            if segs[0] == "namespaces" and len(segs) >= 3:
                segs = segs[2:]
            res, name, sub = segs[0], segs[1] if len(segs) > 1 else None, segs[2] if len(segs) > 2 else None
            if sub:
                res += "/" + sub
            q = parse_qs(u.query)
            verbs = {
                "POST": ["create"],
                "PUT": ["update"],
                "PATCH": ["patch", "create"],
                "DELETE": ["delete"],
            }.get(method)
            if verbs is None:
                verbs = ["watch"] if q.get("watch") in (["1"], ["true"]) else (["get"] if name else ["list"])
            for v in verbs:
                seen.add("%s:%s" % (qualified(res, group), v))
    for s in sorted(seen):
        print(s)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "list":
        cmd_list(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "without":
        cmd_without(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "role":
        cmd_role(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "requested":
        cmd_requested(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
