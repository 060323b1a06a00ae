package bench

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// key names one measurement: a workload at a concurrency.
type key struct {
	workload string
	c        int
}

// index maps a system's label, then workload and C, to its result.
func index(results []Result) map[string]map[key]Result {
	m := map[string]map[key]Result{}
	for _, r := range results {
		if r.Error != "" {
			continue
		}
		l := r.Label()
		if m[l] == nil {
			m[l] = map[key]Result{}
		}
		m[l][key{r.Workload, r.C}] = r
	}
	return m
}

// Ratio is crowd's rate (with the given fsync variant) divided by the rate
// of r, at the same workload and C; false when either is missing or r is
// crowd itself or a steady state (whose rate is the offered one).
func Ratio(results []Result, crowdVariant string, r Result) (float64, bool) {
	if r.System == "crowd" || r.Workload == Steady || r.Error != "" || r.Rate <= 0 {
		return 0, false
	}
	for _, c := range results {
		if c.System == "crowd" && c.Variant == crowdVariant && c.Workload == r.Workload && c.C == r.C && c.Error == "" {
			return c.Rate / r.Rate, true
		}
	}
	return 0, false
}

// systemOrder is the order systems are shown in: crowd first, then the
// ceiling, then the peers in the order they first appear.
func systemOrder(results []Result) []string {
	rank := func(r Result) int {
		switch r.System {
		case "crowd":
			return 0
		case "fasthttp ceiling":
			return 1
		}
		return 2
	}
	seen := map[string]bool{}
	type sys struct {
		label string
		rank  int
		first int
	}
	var list []sys
	for i, r := range results {
		if !seen[r.Label()] {
			seen[r.Label()] = true
			list = append(list, sys{r.Label(), rank(r), i})
		}
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].rank != list[j].rank {
			return list[i].rank < list[j].rank
		}
		return list[i].first < list[j].first
	})
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.label
	}
	return out
}

func workloadRank(w string) int {
	for i, x := range Workloads {
		if x == w {
			return i
		}
	}
	return len(Workloads)
}

// sorted orders results by workload, C, then system.
func sorted(results []Result) []Result {
	order := map[string]int{}
	for i, l := range systemOrder(results) {
		order[l] = i
	}
	out := append([]Result(nil), results...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if wa, wb := workloadRank(a.Workload), workloadRank(b.Workload); wa != wb {
			return wa < wb
		}
		if a.C != b.C {
			return a.C < b.C
		}
		return order[a.Label()] < order[b.Label()]
	})
	return out
}

// WriteMarkdown writes the report as Markdown: the results table with
// crowd's ratio to each system, the durability of each system, the issue's
// targets, and what was skipped.
func (rep *Report) WriteMarkdown(w io.Writer) error {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# crowd bench: %s run\n\n", rep.Mode)
	m := rep.Machine
	p("Started %s, %.0f s. Machine: %s/%s, %d CPUs", rep.Started.Format("2006-01-02 15:04 MST"), rep.Seconds, m.OS, m.Arch, m.CPUs)
	if m.CPU != "" {
		p(", %s", m.CPU)
	}
	if m.Kernel != "" {
		p(", kernel %s", m.Kernel)
	}
	p(", %s.\n\n", m.Go)
	if rep.Mode == "quick" {
		p("> Quick mode: small counts and a short steady state, with every system's client and server sharing the machine's cores. Indicative only: `crowd bench --full` gives the figures to quote.\n\n")
	}
	if len(rep.Settings) > 0 {
		keys := make([]string, 0, len(rep.Settings))
		for k := range rep.Settings {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p("- %s: %s\n", k, rep.Settings[k])
		}
		p("\n")
	}

	p("## Results\n\n")
	p("Rates are jobs/s for submission and units/s otherwise; latencies in ms; RSS is the server's peak (process tree). `crowd ÷` is crowd's rate divided by the row's, at the same workload and C (group / interval).\n\n")
	p("| system | workload | C | rate | units/s | p50 | p99 | p99.9 | peak RSS MiB | crowd ÷ (group / interval) | notes |\n")
	p("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, r := range sorted(rep.Results) {
		if r.Error != "" {
			p("| %s | %s | %d | — | — | — | — | — | — | — | error: %s |\n", md(r.Label()), r.Workload, r.C, md(r.Error))
			continue
		}
		lat := [3]string{"—", "—", "—"}
		if r.Latency != nil {
			lat = [3]string{num(r.Latency.P50), num(r.Latency.P99), num(r.Latency.P999)}
		}
		rss := "—"
		if r.PeakRSSKB > 0 {
			rss = strconv.FormatFloat(float64(r.PeakRSSKB)/1024, 'f', 0, 64)
		}
		ratio := "—"
		g, okG := Ratio(rep.Results, "group", r)
		i, okI := Ratio(rep.Results, "interval", r)
		if okG || okI {
			ratio = ratioText(g, okG) + " / " + ratioText(i, okI)
		}
		var notes []string
		if r.Workload == Steady {
			notes = append(notes, fmt.Sprintf("offered %.0f/s, end-to-end latency", r.Offered))
		}
		if r.Capped {
			notes = append(notes, "time cap reached")
		}
		if r.Errors > 0 {
			notes = append(notes, fmt.Sprintf("%d errors", r.Errors))
		}
		if r.Note != "" {
			notes = append(notes, r.Note)
		}
		p("| %s | %s | %d | %s %s | %s | %s | %s | %s | %s | %s | %s |\n", md(r.Label()), r.Workload, r.C,
			thousands(r.Rate), r.RateUnit, thousands(r.UnitsRate), lat[0], lat[1], lat[2], rss, ratio, md(strings.Join(notes, "; ")))
	}

	p("\n## Durability\n\n| system | what an acknowledged submission survives |\n|---|---|\n")
	seen := map[string]bool{}
	for _, l := range systemOrder(rep.Results) {
		for _, r := range rep.Results {
			if r.Label() == l && !seen[l] {
				seen[l] = true
				p("| %s | %s |\n", md(l), md(r.Durability))
			}
		}
	}

	p("\n## Targets (issue 6)\n\n| target | measured | needed | met |\n|---|--:|--:|---|\n")
	for _, t := range Targets(rep.Results) {
		met := "no"
		switch {
		case !t.Measured:
			met = "not measured"
		case t.Met:
			met = "yes"
		}
		val := "—"
		if t.Measured {
			val = t.ValueText
		}
		p("| %s | %s | %s | %s |\n", md(t.Name), val, t.NeedText, met)
	}

	if len(rep.Skipped) > 0 {
		p("\n## Skipped\n\n")
		for _, s := range rep.Skipped {
			p("- %s\n", md(s))
		}
	}
	if len(rep.Versions) > 0 {
		p("\n## Versions\n\n")
		keys := make([]string, 0, len(rep.Versions))
		for k := range rep.Versions {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p("- %s: %s\n", k, md(rep.Versions[k]))
		}
	}
	return nil
}

func ratioText(v float64, ok bool) string {
	if !ok {
		return "—"
	}
	return "×" + strconv.FormatFloat(v, 'f', 2, 64)
}

// md makes text safe in a table cell.
func md(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func num(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// thousands formats a rate with thousands separators, no decimals.
func thousands(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Target is one of the targets, checked against a run.
type Target struct {
	Name      string
	Measured  bool
	Value     float64
	ValueText string
	NeedText  string
	Met       bool
}

// Targets checks the targets: crowd's burn-down at C=64 against
// each peer and the ceiling, PUT /work's p99, and 100-input submission
// against beanstalkd's pipelined puts.
func Targets(results []Result) []Target {
	ix := index(results)
	get := func(label, workload string, c int) (Result, bool) {
		r, ok := ix[label][key{workload, c}]
		return r, ok
	}
	var out []Target
	ratio := func(name, crowd, peer, workload string, c int, need float64, units bool) {
		t := Target{Name: name, NeedText: "≥ ×" + strconv.FormatFloat(need, 'f', 1, 64)}
		a, okA := get(crowd, workload, c)
		b, okB := get(peer, workload, c)
		if okA && okB {
			va, vb := a.Rate, b.Rate
			if units {
				va, vb = a.UnitsRate, b.UnitsRate
			}
			if vb > 0 {
				t.Measured, t.Value = true, va/vb
				t.ValueText = "×" + strconv.FormatFloat(t.Value, 'f', 2, 64)
				t.Met = t.Value >= need
			}
		}
		out = append(out, t)
	}
	ratio("burn-down C=64, crowd group ÷ beanstalkd -f 50", "crowd (group)", "beanstalkd (-f 50)", BurnDown, 64, 1.5, false)
	ratio("burn-down C=64, crowd group ÷ asynq AOF everysec", "crowd (group)", "asynq (AOF everysec)", BurnDown, 64, 4, false)
	ratio("burn-down C=64, crowd group ÷ Faktory", "crowd (group)", "faktory", BurnDown, 64, 8, false)
	ratio("burn-down C=64, crowd group ÷ River", "crowd (group)", "river", BurnDown, 64, 4, false)
	ratio("burn-down C=64, crowd interval ÷ fasthttp ceiling", "crowd (interval)", "fasthttp ceiling", BurnDown, 64, 0.7, false)
	for _, v := range []string{"group", "interval"} {
		t := Target{Name: "PUT /work p99 at C=64 (burn-down), crowd " + v, NeedText: "≤ 10 ms"}
		if r, ok := get("crowd ("+v+")", BurnDown, 64); ok && r.Latency != nil {
			t.Measured, t.Value = true, r.Latency.P99
			t.ValueText = num(r.Latency.P99) + " ms"
			t.Met = t.Value <= 10
		}
		out = append(out, t)
	}
	ratio("submit-100 C=64 units/s, crowd group ÷ beanstalkd -f 50 pipelined puts", "crowd (group)", "beanstalkd (-f 50)", Submit100, 64, 3, true)
	return out
}
