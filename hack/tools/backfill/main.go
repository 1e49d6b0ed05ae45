// Command fleet-backfill writes Prometheus TSDB blocks of a synthetic LLM
// inference fleet for hack/dashboard-bench.sh: every series the dashboard
// (dashboards/llm-inference.json) reads, with the labels Prometheus stores
// after infermon's relabeling, for -pods engine pods over -hours hours at one
// sample per -step.
//
//	fleet-backfill -out DIR [-pods 5000] [-hours 6] [-step 30s] [-end UNIXSEC]
//	fleet-backfill -openmetrics FILE [same options]
//
// -openmetrics writes the same samples as OpenMetrics text instead, for
// `promtool tsdb create-blocks-from openmetrics` (to compare the two routes).
//
// The fleet: 10 namespaces, one workload per 10 pods, one model per workload
// (25 model names). Workload w is vLLM >= 0.11 (engine label "0") unless
// w%10 == 8 (vllm-pd: prefill/decode pods, NIXL series) or w%10 == 9
// (sglang-pd: `sglang:` names, TP 2 so every series twice, tp_rank 0 and 1).
// Each pod also has infermon's own series (job infermon) and one GPU of
// dcgm-exporter (honor_labels, pod/namespace labels).
//
// Counters and histograms grow at per-pod rates that wave slowly (always
// increasing); gauges wave. Blocks are cut at 2 h boundaries, as Prometheus
// does; the head's chunk files go to $TMPDIR.
//
// Why not promtool tsdb create-blocks-from openmetrics: at 5,000 pods the
// text is ~1M series x 721 samples of ~225 bytes a line, ~160 GB to write
// and parse (docs/dashboard.md has the measurement). Appending to
// tsdb.BlockWriter needs no text at all.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

var (
	latS   = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560}
	reqS   = []float64{0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680}
	itlS   = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80}
	lenB   = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}
	sglS   = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	msB    = []float64{1, 5, 10, 50, 100, 500, 1000, 5000}
	checks = []string{"LimitDrift", "AdmissionBound", "Saturated", "KVCachePressure", "Preempting", "MetricsMissing", "ScrapeFailed"}
	dcgm   = []string{"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_FB_USED",
		"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_PROF_DRAM_ACTIVE"}
)

// value returns a series' sample at t seconds since the fleet started.
type value func(t float64) float64

type series struct {
	lset labels.Labels
	v    value
	ref  storage.SeriesRef
}

type fleet struct {
	s []*series
}

func (f *fleet) add(v value, kv ...string) {
	f.s = append(f.s, &series{lset: labels.FromStrings(kv...), v: v})
}

// counter grows at r per second on average, waving by 30% over period p.
func counter(r, p float64) value {
	return func(t float64) float64 {
		return math.Floor(r * (t + 0.3*p/(2*math.Pi)*math.Sin(2*math.Pi*t/p)))
	}
}

func wave(base, amp, p, phase float64) value {
	return func(t float64) float64 { return base + amp*math.Sin(2*math.Pi*t/p+phase) }
}

func constant(c float64) value { return func(float64) float64 { return c } }

// histogram adds name's _bucket/_sum/_count series: r observations per
// second, spread over the bounds around index center.
func (f *fleet) histogram(name string, bounds []float64, r, p, center float64, base []string) {
	w := make([]float64, len(bounds))
	tot, mean, prev := 0.0, 0.0, 0.0
	for i, b := range bounds {
		w[i] = math.Exp(-(float64(i) - center) * (float64(i) - center) / 2)
		tot += w[i]
		mean += w[i] * (prev + b) / 2
		prev = b
	}
	mean /= tot
	count := counter(r, p)
	cum := 0.0
	for i, b := range bounds {
		cum += w[i]
		share := cum / tot
		f.add(func(t float64) float64 { return math.Floor(count(t) * share) },
			append(append([]string{}, base...), "__name__", name+"_bucket", "le", strconv.FormatFloat(b, 'f', -1, 64))...)
	}
	f.add(count, append(append([]string{}, base...), "__name__", name+"_bucket", "le", "+Inf")...)
	f.add(func(t float64) float64 { return count(t) * mean }, append(append([]string{}, base...), "__name__", name+"_sum")...)
	f.add(count, append(append([]string{}, base...), "__name__", name+"_count")...)
}

func with(base []string, kv ...string) []string {
	return append(append([]string{}, base...), kv...)
}

func hash(s string) float64 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return float64(h.Sum32()%1000) / 1000
}

func build(pods int) *fleet {
	f := &fleet{}
	for i := 0; i < pods; i++ {
		wl := i / 10
		ns := fmt.Sprintf("llm-%02d", wl%10)
		wname := fmt.Sprintf("wl-%04d", wl)
		pod := fmt.Sprintf("%s-%d", wname, i%10)
		model := fmt.Sprintf("model-%02d", wl%25)
		kind := "vllm"
		role := ""
		switch wl % 10 {
		case 8:
			kind = "vllm-pd"
		case 9:
			kind = "sglang-pd"
		}
		if kind != "vllm" {
			role = "decode"
			if i%2 == 0 {
				role = "prefill"
			}
		}
		x := hash(pod)        // per-pod scale 0..1
		rps := 1 + 2*x        // requests per second
		p := 600 + 1200*x     // wave period, s
		ph := 2 * math.Pi * x // wave phase
		tgt := []string{"namespace", ns, "pod", pod, "workload_name", wname, "backend", kind,
			"job", "infermon/" + ns + "/" + wname, "instance", fmt.Sprintf("10.%d.%d.%d:8000", i/65536, i/256%256, i%256)}
		if role != "" {
			tgt = with(tgt, "role", role)
		}
		if kind == "sglang-pd" {
			for _, tp := range []string{"0", "1"} {
				e := with(tgt, "model_name", model, "engine_type", role, "tp_rank", tp, "pp_rank", "0", "dp_rank", "0")
				g := func(name string, v value) { f.add(v, with(e, "__name__", "sglang:"+name)...) }
				g("num_running_reqs", wave(20*rps, 5, p, ph))
				g("num_queue_reqs", wave(3*rps, 2, p, ph))
				g("token_usage", wave(0.3+0.4*x, 0.1, p, ph))
				g("cache_hit_rate", wave(0.2, 0.05, p, ph))
				g("num_retracted_requests_total", counter(0.01*rps, p))
				g("prompt_tokens_total", counter(1500*rps, p))
				g("generation_tokens_total", counter(400*rps, p))
				g("num_bootstrap_failed_reqs_total", counter(0.002*rps, p))
				g("num_transfer_failed_reqs_total", counter(0.001*rps, p))
				if role == "prefill" {
					g("num_prefill_bootstrap_queue_reqs", wave(2, 1, p, ph))
					g("num_prefill_inflight_queue_reqs", wave(4, 2, p, ph))
				} else {
					g("num_decode_prealloc_queue_reqs", wave(1, 1, p, ph))
					g("num_decode_transfer_queue_reqs", wave(3, 2, p, ph))
				}
				f.histogram("sglang:time_to_first_token_seconds", sglS, rps, p, 2+x, e)
				f.histogram("sglang:inter_token_latency_seconds", sglS, 400*rps, p, x, e)
				f.histogram("sglang:e2e_request_latency_seconds", sglS, rps, p, 4+x, e)
				f.histogram("sglang:kv_transfer_latency_ms", msB, rps, p, 3+x, e)
			}
		} else {
			e := with(tgt, "model_name", model, "engine", "0")
			g := func(name string, v value) { f.add(v, with(e, "__name__", "vllm:"+name)...) }
			g("num_requests_running", wave(20*rps, 5, p, ph))
			g("num_requests_waiting", wave(3*rps, 2, p, ph))
			g("kv_cache_usage_perc", wave(0.3+0.4*x, 0.1, p, ph))
			g("num_preemptions_total", counter(0.01*rps, p))
			g("prefix_cache_queries_total", counter(1500*rps, p))
			g("prefix_cache_hits_total", counter(400*rps, p))
			g("prompt_tokens_total", counter(1500*rps, p))
			g("generation_tokens_total", counter(400*rps, p))
			for _, r := range []struct {
				reason string
				share  float64
			}{{"stop", 0.8}, {"length", 0.17}, {"abort", 0.03}} {
				f.add(counter(rps*r.share, p), with(e, "__name__", "vllm:request_success_total", "finished_reason", r.reason)...)
			}
			f.histogram("vllm:time_to_first_token_seconds", latS, rps, p, 8+2*x, e)
			f.histogram("vllm:inter_token_latency_seconds", itlS, 400*rps, p, 2+x, e)
			f.histogram("vllm:e2e_request_latency_seconds", reqS, rps, p, 6+2*x, e)
			f.histogram("vllm:request_queue_time_seconds", reqS, rps, p, 1+x, e)
			f.histogram("vllm:request_prefill_time_seconds", reqS, rps, p, x, e)
			f.histogram("vllm:request_decode_time_seconds", reqS, rps, p, 5+x, e)
			f.histogram("vllm:request_prompt_tokens", lenB, rps, p, 7+x, e)
			f.histogram("vllm:request_generation_tokens", lenB, rps, p, 5+x, e)
			if kind == "vllm-pd" {
				if role == "decode" {
					f.histogram("vllm:nixl_xfer_time_seconds", latS, rps, p, 5+x, e)
				} else {
					g("nixl_num_pending_sends", wave(3, 2, p, ph))
				}
			}
		}
		// infermon's own series: the controller's job, honor_labels.
		c := []string{"namespace", ns, "pod", pod, "workload_name", wname, "job", "infermon", "instance", "10.96.0.10:8443"}
		info := with(c, "__name__", "infermon_pod_info", "backend", kind, "model_name", model)
		if role != "" {
			info = with(info, "role", role)
		}
		f.add(constant(1), info...)
		mns := math.Round(64 + 192*x)
		kvc := math.Round(100 + 200*x)
		f.add(constant(mns), with(c, "__name__", "infermon_engine_max_num_seqs", "backend", kind, "source", "pod_args")...)
		f.add(constant(kvc), with(c, "__name__", "infermon_engine_kv_max_concurrency", "source", "vllm_config_info")...)
		f.add(constant(8192), with(c, "__name__", "infermon_engine_max_model_len", "source", "server_info")...)
		f.add(wave(20*rps/mns, 5/mns, p, ph), with(c, "__name__", "infermon_engine_saturation_ratio")...)
		f.add(constant((mns-kvc)/kvc), with(c, "__name__", "infermon_engine_limit_drift_ratio")...)
		for k, chk := range checks {
			f.add(constant(float64((i+k)%7/6)), with(c, "__name__", "infermon_check_active", "check", chk)...)
		}
		// one GPU per pod, dcgm-exporter scraped with honor_labels
		gl := []string{"namespace", ns, "pod", pod, "container", "engine", "gpu", "0", "device", "nvidia0",
			"UUID", fmt.Sprintf("GPU-%08x", i), "modelName", "NVIDIA H100 80GB HBM3",
			"Hostname", fmt.Sprintf("node-%04d", i/8), "job", "dcgm-exporter", "instance", fmt.Sprintf("node-%04d:9400", i/8)}
		for k, m := range dcgm {
			v := wave(0.5, 0.3, p, ph+float64(k))
			if m == "DCGM_FI_DEV_GPU_UTIL" || m == "DCGM_FI_DEV_MEM_COPY_UTIL" {
				v = wave(70, 20, p, ph+float64(k))
			} else if m == "DCGM_FI_DEV_FB_USED" {
				v = constant(71000 + math.Round(1000*x))
			}
			f.add(v, with(gl, "__name__", m)...)
		}
	}
	return f
}

func main() {
	out := flag.String("out", "", "TSDB directory to write blocks into")
	om := flag.String("openmetrics", "", "write OpenMetrics text to this file instead")
	pods := flag.Int("pods", 5000, "engine pods")
	hours := flag.Float64("hours", 6, "hours of data, ending at -end")
	step := flag.Duration("step", 30*time.Second, "sample interval (the scrape interval)")
	end := flag.Int64("end", 0, "last sample time, Unix seconds (default now)")
	flag.Parse()
	if *om != "" {
		if err := openMetrics(*om, *pods, *hours, *step, *end); err != nil {
			fmt.Fprintln(os.Stderr, "fleet-backfill:", err)
			os.Exit(1)
		}
		return
	}
	if *out == "" || *pods <= 0 || *hours <= 0 || *step <= 0 {
		fmt.Fprintln(os.Stderr, "usage: fleet-backfill -out DIR [-pods N] [-hours H] [-step 30s] [-end UNIXSEC]")
		os.Exit(2)
	}
	if err := run(*out, *pods, *hours, *step, *end); err != nil {
		fmt.Fprintln(os.Stderr, "fleet-backfill:", err)
		os.Exit(1)
	}
}

// span returns the first and last sample time (ms), on the step grid.
func span(hours float64, step time.Duration, endSec int64) (int64, int64, int64) {
	if endSec == 0 {
		endSec = time.Now().Unix()
	}
	stepMs := step.Milliseconds()
	endMs := endSec * 1000 / stepMs * stepMs
	return endMs - int64(hours*3600*1000)/stepMs*stepMs, endMs, stepMs
}

// openMetrics writes every series' samples as OpenMetrics text: families
// (metric names) not interleaved, each series in time order.
func openMetrics(path string, pods int, hours float64, step time.Duration, endSec int64) error {
	startMs, endMs, stepMs := span(hours, step, endSec)
	f := build(pods)
	sort.SliceStable(f.s, func(i, j int) bool {
		return f.s[i].lset.Get("__name__") < f.s[j].lset.Get("__name__")
	})
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(file, 1<<20)
	for _, s := range f.s {
		name := s.lset.Get("__name__")
		var b []byte
		s.lset.DropMetricName().Range(func(l labels.Label) {
			if len(b) > 0 {
				b = append(b, ',')
			}
			b = append(b, l.Name...)
			b = append(b, '=')
			b = strconv.AppendQuote(b, l.Value)
		})
		lbl := "{" + string(b) + "}"
		for t := startMs; t <= endMs; t += stepMs {
			fmt.Fprintf(w, "%s%s %s %s\n", name, lbl,
				strconv.FormatFloat(s.v(float64(t-startMs)/1000), 'g', -1, 64),
				strconv.FormatFloat(float64(t)/1000, 'f', -1, 64))
		}
	}
	fmt.Fprintln(w, "# EOF")
	if err := w.Flush(); err != nil {
		return err
	}
	return file.Close()
}

func run(out string, pods int, hours float64, step time.Duration, endSec int64) error {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	startMs, endMs, stepMs := span(hours, step, endSec)
	f := build(pods)
	fmt.Fprintf(os.Stderr, "fleet-backfill: %d pods, %d series, %s step, %d samples each\n",
		pods, len(f.s), step, (endMs-startMs)/stepMs+1)
	const blockMs = int64(2 * time.Hour / time.Millisecond)
	var total int64
	for bStart := startMs / blockMs * blockMs; bStart <= endMs; bStart += blockMs {
		w, err := tsdb.NewBlockWriter(logger, out, blockMs)
		if err != nil {
			return err
		}
		for _, s := range f.s {
			s.ref = 0
		}
		n := int64(0)
		for t := max(bStart, startMs); t < bStart+blockMs && t <= endMs; t += stepMs {
			app := w.Appender(ctx)
			sec := float64(t-startMs) / 1000
			for _, s := range f.s {
				ref, err := app.Append(s.ref, s.lset, t, s.v(sec))
				if err != nil {
					return fmt.Errorf("append %s at %d: %w", s.lset, t, err)
				}
				s.ref = ref
			}
			if err := app.Commit(); err != nil {
				return err
			}
			n += int64(len(f.s))
		}
		if n > 0 {
			id, err := w.Flush(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "fleet-backfill: block %s from %s: %d samples\n",
				id, time.UnixMilli(max(bStart, startMs)).UTC().Format(time.RFC3339), n)
		}
		if err := w.Close(); err != nil {
			return err
		}
		total += n
	}
	fmt.Fprintf(os.Stderr, "fleet-backfill: %d samples written to %s\n", total, out)
	return nil
}
