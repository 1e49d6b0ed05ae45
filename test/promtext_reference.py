#!/usr/bin/env python3
"""Independent reference for lib/promtext.c: Debian's python3-prometheus-client.

    promtext_reference.py FILE                  print FILE's samples canonically
    promtext_reference.py --check DUMP DIR      compare DUMP (test/promtext_dump)
                                                with this script over DIR/*.txt

The canonical form is the one test/promtext_dump.c prints, one sample a line,
in page order:

    name{a="x",b="y"} value[ @timestamp_ms]

labels sorted by name, label values escaped as \\\\ \\" \\n and other bytes
outside printable ASCII as \\xNN (of their UTF-8 encoding), values as %.17g
or NaN / +Inf / -Inf. Files ending in .om.txt are OpenMetrics and go through
prometheus_client.openmetrics.parser; the others through
prometheus_client.parser (text format 0.0.4).

What is normalised, and why (prometheus_client quirks, not format rules):
  * 0.0.4 counters: for "# TYPE foo counter" (a family name without _total)
    the parser renames each sample "foo" to "foo_total", turning the page
    into its internal OpenMetrics shape. We undo that rename, using the
    counter TYPE lines of the page to tell it apart from a family declared
    as "foo_total" (whose samples it leaves alone).
  * 0.0.4 timestamps: the parser returns milliseconds / 1000 as a float; we
    print round(ts * 1000). OpenMetrics timestamps come as Timestamp(sec,
    nsec); we print sec * 1000 + round(nsec / 1e6).
  * Values: the OpenMetrics parser returns some values as int; we print
    float(value).
  * Exemplars are dropped (promtext skips them by design).
Nothing else is changed: names, label sets, values, order and which lines
count as samples must match exactly. Family types are not compared here (the
0.0.4 parser files samples outside their TYPE group as untyped singletons in
ways promtext need not copy); test/test_promtext.c checks types directly.
"""
import math
import os
import re
import subprocess
import sys

try:
    import prometheus_client  # noqa: F401
except ImportError:  # a Python other than Debian's is first on PATH
    sys.path.append('/usr/lib/python3/dist-packages')
from prometheus_client.parser import text_string_to_metric_families as parse_004
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om

COUNTER_TYPE = re.compile(r'^\s*#\s*TYPE\s+(\S+)\s+counter\s*$')


def escape(s):
    out = []
    for b in s.encode('utf-8'):
        c = chr(b)
        if c == '\\':
            out.append('\\\\')
        elif c == '"':
            out.append('\\"')
        elif c == '\n':
            out.append('\\n')
        elif b < 0x20 or b >= 0x7f:
            out.append('\\x%02x' % b)
        else:
            out.append(c)
    return ''.join(out)


def fmt_value(v):
    v = float(v)
    if math.isnan(v):
        return 'NaN'
    if math.isinf(v):
        return '+Inf' if v > 0 else '-Inf'
    return '%.17g' % v


def fmt_timestamp(ts, openmetrics):
    if ts is None:
        return ''
    if hasattr(ts, 'sec'):
        ms = ts.sec * 1000 + round(ts.nsec / 1e6)
    else:
        ms = round(float(ts) * 1000)
    return ' @%d' % ms


def canonical(text, openmetrics):
    lines = []
    counters = set()
    if openmetrics:
        families = parse_om(text)
    else:
        for line in text.splitlines():
            m = COUNTER_TYPE.match(line)
            if m:
                counters.add(m.group(1))
        families = parse_004(text)
    for fam in families:
        renamed = (not openmetrics and fam.type == 'counter' and fam.name in counters
                   and fam.name + '_total' not in counters)
        for s in fam.samples:
            name = s.name
            if renamed and name == fam.name + '_total':
                name = fam.name
            labels = ','.join('%s="%s"' % (k, escape(v)) for k, v in sorted(s.labels.items()))
            lines.append('%s%s %s%s' % (name, '{%s}' % labels if labels else '',
                                        fmt_value(s.value), fmt_timestamp(s.timestamp, openmetrics)))
    return ''.join(l + '\n' for l in lines)


def read(path):
    with open(path, encoding='utf-8', newline='') as f:
        return f.read()


def check(dump, directory):
    import difflib
    failed = 0
    files = sorted(f for f in os.listdir(directory) if f.endswith('.txt'))
    if not files:
        print('no fixtures in %s' % directory)
        return 1
    for name in files:
        path = os.path.join(directory, name)
        om = name.endswith('.om.txt')
        want = canonical(read(path), om)
        run = subprocess.run([dump, '--strict', path], capture_output=True, text=True)
        got = run.stdout
        count = want.count('\n')
        if run.returncode != 0 or got != want or count == 0:
            failed += 1
            print('FAIL %s (promtext_dump exit %d)' % (name, run.returncode))
            sys.stdout.write(run.stderr)
            sys.stdout.writelines(difflib.unified_diff(
                want.splitlines(True), got.splitlines(True), 'prometheus_client', 'promtext', n=1))
        else:
            print('ok   %s: %d samples agree' % (name, count))
    print('%d fixtures, %d failed' % (len(files), failed))
    return 1 if failed else 0


def main(argv):
    if len(argv) == 4 and argv[1] == '--check':
        return check(argv[2], argv[3])
    if len(argv) == 2:
        sys.stdout.write(canonical(read(argv[1]), argv[1].endswith('.om.txt')))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
