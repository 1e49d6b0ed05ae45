// promparse-peer measures Prometheus' own Go exposition-text parsers on one
// page, with the same protocol as test/bench/bench_promtext.c, so that
// hack/bench.sh can print ratios measured in the same run:
//
//	promparse-peer [-runs 5] [-budget 0.2] FILE
//
// Each parser parses the page once untimed (warm-up, and to count samples
// and the longest label value it read), then `runs` times parses it over
// and over until `budget` seconds have passed (at least once); the median of
// the runs is reported. MB is 10^6 bytes. One line per parser:
//
//	<parser> bytes=N samples=N longest_label=N mb_s=X samples_s=X iters=N [error="..."]
//
// Parsers:
//   - expfmt: github.com/prometheus/common/expfmt TextParser, page read
//     through an io.Reader into MetricFamily protos (client-side, promtool,
//     federation);
//   - textparse: github.com/prometheus/prometheus/model/textparse
//     PromParser, as the scrape loop uses it, with Series() and Labels() for
//     every sample and one symbol table reused across parses;
//   - textparse-nolabels: the same without Labels(), the scrape loop's path
//     for a series already in its cache (a lower bound on its work).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

type result struct {
	samples int
	longest int
}

// parseFunc parses the page once; inspect asks it to also measure the
// longest label value (untimed passes only).
type parseFunc func(page []byte, inspect bool) (result, error)

func expfmtParse(page []byte, inspect bool) (result, error) {
	var r result
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(page))
	if err != nil {
		return r, err
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				r.samples += len(h.GetBucket())
				if h.SampleSum != nil {
					r.samples++
				}
				if h.SampleCount != nil {
					r.samples++
				}
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				r.samples += len(s.GetQuantile())
				if s.SampleSum != nil {
					r.samples++
				}
				if s.SampleCount != nil {
					r.samples++
				}
			default:
				r.samples++
			}
			if inspect {
				for _, l := range m.GetLabel() {
					if n := len(l.GetValue()); n > r.longest {
						r.longest = n
					}
				}
			}
		}
	}
	return r, nil
}

func textparseParse(st *labels.SymbolTable, withLabels bool) parseFunc {
	var lset labels.Labels
	return func(page []byte, inspect bool) (result, error) {
		var r result
		p := textparse.NewPromParser(page, st, false)
		for {
			e, err := p.Next()
			if errors.Is(err, io.EOF) {
				return r, nil
			}
			if err != nil {
				return r, err
			}
			if e != textparse.EntrySeries {
				continue
			}
			p.Series()
			r.samples++
			if withLabels || inspect {
				p.Labels(&lset)
			}
			if inspect {
				lset.Range(func(l labels.Label) {
					if l.Name != labels.MetricName && len(l.Value) > r.longest {
						r.longest = len(l.Value)
					}
				})
			}
		}
	}
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func measure(name string, page []byte, runs int, budget time.Duration, parse parseFunc) {
	r, err := parse(page, true)
	if err != nil {
		fmt.Printf("%s bytes=%d samples=0 longest_label=0 mb_s=0 samples_s=0 iters=0 error=%q\n",
			name, len(page), err.Error())
		return
	}
	mbs := make([]float64, 0, runs)
	sps := make([]float64, 0, runs)
	total := 0
	for i := 0; i < runs; i++ {
		n := 0
		start := time.Now()
		var elapsed time.Duration
		for {
			if _, err := parse(page, false); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
				os.Exit(1)
			}
			n++
			if elapsed = time.Since(start); elapsed >= budget {
				break
			}
		}
		s := elapsed.Seconds()
		mbs = append(mbs, float64(n)*float64(len(page))/s/1e6)
		sps = append(sps, float64(n)*float64(r.samples)/s)
		total += n
	}
	fmt.Printf("%s bytes=%d samples=%d longest_label=%d mb_s=%.2f samples_s=%.0f iters=%d\n",
		name, len(page), r.samples, r.longest, median(mbs), median(sps), total)
}

func main() {
	runs := flag.Int("runs", 5, "timed runs; the median is reported")
	budget := flag.Float64("budget", 0.2, "seconds each run keeps parsing (at least one parse)")
	flag.Parse()
	if flag.NArg() != 1 || *runs < 1 || *budget <= 0 {
		fmt.Fprintln(os.Stderr, "usage: promparse-peer [-runs N] [-budget SECONDS] FILE")
		os.Exit(2)
	}
	page, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b := time.Duration(*budget * float64(time.Second))
	measure("expfmt", page, *runs, b, expfmtParse)
	measure("textparse", page, *runs, b, textparseParse(labels.NewSymbolTable(), true))
	measure("textparse-nolabels", page, *runs, b, textparseParse(labels.NewSymbolTable(), false))
}
