package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/documentcloud/crowd/wire"
)

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	var hundred []time.Duration
	for i := 100; i >= 1; i-- { // unsorted: Summarize sorts
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	l := Summarize(hundred, "x")
	if l.P50 != 50 || l.P90 != 90 || l.P99 != 99 || l.P999 != 100 || l.Max != 100 || l.Count != 100 || l.Mean != 50.5 {
		t.Fatalf("1..100 ms: %+v", l)
	}
	cases := []struct {
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{nil, 50, 0},
		{durations(7), 0, 7 * time.Millisecond},
		{durations(7), 99.9, 7 * time.Millisecond},
		{durations(1, 2), 50, time.Millisecond},
		{durations(1, 2), 50.1, 2 * time.Millisecond},
		{durations(1, 2, 3, 4), 75, 3 * time.Millisecond},
		{durations(1, 2, 3, 4), 100, 4 * time.Millisecond},
		{durations(1, 2, 3, 4), 150, 4 * time.Millisecond},
	}
	for _, c := range cases {
		if got := Percentile(c.samples, c.p); got != c.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", c.samples, c.p, got, c.want)
		}
	}
	// 1,000 samples: p99.9 is the 999th, not the largest.
	var thousand []time.Duration
	for i := 1; i <= 1000; i++ {
		thousand = append(thousand, time.Duration(i)*time.Microsecond)
	}
	if got := Percentile(thousand, 99.9); got != 999*time.Microsecond {
		t.Errorf("p99.9 of 1..1000 µs = %v", got)
	}
	if Summarize(nil, "x") != nil {
		t.Error("Summarize(nil) is not nil")
	}
}

func sampleResults() []Result {
	lat := &Latency{Of: "x", Count: 10, P50: 1, P99: 8, P999: 12}
	return []Result{
		{System: "crowd", Variant: "group", Workload: BurnDown, C: 64, Rate: 30000, UnitsRate: 30000, RateUnit: "units/s", Latency: lat, Durability: "fsync"},
		{System: "crowd", Variant: "interval", Workload: BurnDown, C: 64, Rate: 40000, UnitsRate: 40000, RateUnit: "units/s", Latency: lat},
		{System: "crowd", Variant: "group", Workload: Submit100, C: 64, Rate: 2000, UnitsRate: 200000, RateUnit: "jobs/s"},
		{System: "crowd", Variant: "group", Workload: Steady, C: 64, Rate: 1000, UnitsRate: 1000, RateUnit: "units/s", Offered: 1000},
		{System: "beanstalkd", Variant: "-f 50", Workload: BurnDown, C: 64, Rate: 15000, UnitsRate: 15000, RateUnit: "units/s", Durability: "binlog | 50 ms"},
		{System: "beanstalkd", Variant: "-f 50", Workload: Submit100, C: 64, Rate: 1000, UnitsRate: 100000, RateUnit: "jobs/s"},
		{System: "beanstalkd", Variant: "-f 50", Workload: Steady, C: 64, Rate: 1000, UnitsRate: 1000, RateUnit: "units/s", Offered: 1000},
		{System: "faktory", Workload: BurnDown, C: 64, Rate: 2500, UnitsRate: 2500, RateUnit: "units/s"},
		{System: "fasthttp ceiling", Workload: BurnDown, C: 64, Rate: 50000, UnitsRate: 50000, RateUnit: "units/s"},
		{System: "river", Workload: BurnDown, C: 64, Error: "start: boom"},
	}
}

func TestRatioTable(t *testing.T) {
	rs := sampleResults()
	find := func(label, workload string) Result {
		for _, r := range rs {
			if r.Label() == label && r.Workload == workload {
				return r
			}
		}
		t.Fatalf("no %s %s", label, workload)
		return Result{}
	}
	bean := find("beanstalkd (-f 50)", BurnDown)
	if g, ok := Ratio(rs, "group", bean); !ok || g != 2 {
		t.Errorf("group ÷ beanstalkd = %v %v, want 2", g, ok)
	}
	if i, ok := Ratio(rs, "interval", bean); !ok || i != 40000.0/15000 {
		t.Errorf("interval ÷ beanstalkd = %v %v", i, ok)
	}
	for _, r := range []Result{find("crowd (group)", BurnDown), find("beanstalkd (-f 50)", Steady), find("river", BurnDown)} {
		if _, ok := Ratio(rs, "group", r); ok {
			t.Errorf("a ratio for %s %s", r.Label(), r.Workload)
		}
	}
	// No crowd interval result for submit-100: no interval ratio.
	if _, ok := Ratio(rs, "interval", find("beanstalkd (-f 50)", Submit100)); ok {
		t.Error("a ratio without a crowd result")
	}

	var b bytes.Buffer
	rep := &Report{Mode: "quick", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Machine: Machine{OS: "linux", Arch: "amd64", CPUs: 2, Go: "go1.26"},
		Results: rs, Skipped: []string{"skipped: asynq not installed (apt-get install redis-server)"}}
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"| beanstalkd (-f 50) | burn-down | 64 | 15,000 units/s | 15,000 | — | — | — | — | ×2.00 / ×2.67 |",
		"| faktory | burn-down | 64 | 2,500 units/s | 2,500 | — | — | — | — | ×12.00 / ×16.00 |",
		"| fasthttp ceiling | burn-down | 64 | 50,000 units/s | 50,000 | — | — | — | — | ×0.60 / ×0.80 |",
		"| crowd (group) | burn-down | 64 | 30,000 units/s | 30,000 | 1.00 | 8.00 | 12.0 | — | — |",
		"| river | burn-down | 64 | — | — | — | — | — | — | — | error: start: boom |",
		"| beanstalkd (-f 50) | binlog \\| 50 ms |",
		"| burn-down C=64, crowd group ÷ beanstalkd -f 50 | ×2.00 | ≥ ×1.5 | yes |",
		"| burn-down C=64, crowd group ÷ Faktory | ×12.00 | ≥ ×8.0 | yes |",
		"| burn-down C=64, crowd group ÷ River | — | ≥ ×4.0 | not measured |",
		"| burn-down C=64, crowd interval ÷ fasthttp ceiling | ×0.80 | ≥ ×0.7 | yes |",
		"| PUT /work p99 at C=64 (burn-down), crowd group | 8.00 ms | ≤ 10 ms | yes |",
		"| submit-100 C=64 units/s, crowd group ÷ beanstalkd -f 50 pipelined puts | ×2.00 | ≥ ×3.0 | no |",
		"- skipped: asynq not installed (apt-get install redis-server)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, md)
		}
	}
	// crowd's rows come before the peers' within a workload and C.
	if strings.Index(md, "| crowd (group) | burn-down") > strings.Index(md, "| beanstalkd (-f 50) | burn-down") {
		t.Error("crowd is not listed first")
	}
}

func TestChartIsXMLWithOnePolylinePerSystem(t *testing.T) {
	rs := []Result{}
	for _, sys := range []struct{ name, variant string }{{"crowd", "group"}, {"crowd", "interval"}, {"beanstalkd", "-f 50"}, {"a&b <c>", ""}} {
		for i, c := range []int{16, 64, 256} {
			rs = append(rs, Result{System: sys.name, Variant: sys.variant, Workload: BurnDown, C: c, Rate: float64(1000 * (i + 1))})
		}
	}
	rs = append(rs, Result{System: "river", Workload: BurnDown, C: 16, Error: "failed"}) // no line
	series := ChartSeries(rs, BurnDown)
	if len(series) != 4 {
		t.Fatalf("%d series, want 4: %+v", len(series), series)
	}
	var b bytes.Buffer
	if err := WriteChart(&b, "Burn-down & more", "units/s", series); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&b)
	polylines, root := 0, ""
	var texts []string
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not valid XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = e.Name.Local
			}
			if e.Name.Local == "polyline" {
				polylines++
				for _, a := range e.Attr {
					if a.Name.Local == "points" && len(strings.Fields(a.Value)) != 3 {
						t.Errorf("polyline with points %q, want 3", a.Value)
					}
				}
			}
			inText = e.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, string(e))
			}
		case xml.EndElement:
			inText = false
		}
	}
	if root != "svg" {
		t.Errorf("root element %q", root)
	}
	if polylines != 4 {
		t.Errorf("%d polylines, want 4", polylines)
	}
	joined := strings.Join(texts, "|")
	for _, want := range []string{"crowd (group)", "beanstalkd (-f 50)", "a&b <c>", "Burn-down & more", "16", "256", "3k"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no text %q in %q", want, joined)
		}
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	rep := &Report{
		Mode:     "full",
		Started:  time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC),
		Seconds:  12.5,
		Machine:  ThisMachine(),
		Versions: map[string]string{"crowd": "0.1.0"},
		Settings: QuickPlan().Settings(),
		Results:  sampleResults(),
		Skipped:  []string{"skipped: faktory not installed (…)"},
	}
	rep.Results[0].RSS = []RSSPoint{{T: 0, KB: 1000}, {T: 0.5, KB: 2000}}
	rep.Results[0].PeakRSSKB = 2000
	rep.Results[0].SubmitLatency = &Latency{Of: "y", Count: 1, P50: 0.5}
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b.Bytes()) {
		t.Fatal("invalid JSON")
	}
	got, err := ReadReport(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rep) {
		t.Errorf("round trip changed the report:\n got %+v\nwant %+v", got, rep)
	}
	if _, err := ReadReport(strings.NewReader("{")); err == nil {
		t.Error("a truncated report was read")
	}
	// The plan goes to bench/peers as JSON too.
	p := FullPlan()
	pb, _ := json.Marshal(p)
	var p2 Plan
	if err := json.Unmarshal(pb, &p2); err != nil || !reflect.DeepEqual(p, p2) {
		t.Errorf("plan round trip: %v %+v", err, p2)
	}
}

func TestInputsAndUnits(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	in := MakeInput(at, 42)
	if len(in) != InputSize {
		t.Fatalf("input %q is %d bytes", in, len(in))
	}
	if got, ok := InputStamp(in); !ok || !got.Equal(at) {
		t.Errorf("InputStamp = %v %v", got, ok)
	}
	if _, ok := InputStamp("nope"); ok {
		t.Error("a stamp from nothing")
	}
	job := AppendJobJSON(nil, []string{in, MakeInput(at, 43)})
	var doc struct {
		Action string   `json:"action"`
		Inputs []string `json:"inputs"`
	}
	if err := json.Unmarshal(job, &doc); err != nil || doc.Action != Action || len(doc.Inputs) != 2 || doc.Inputs[0] != in {
		t.Errorf("job %s: %v %+v", job, err, doc)
	}
	if got, ok := scanInputs(job); !ok || !reflect.DeepEqual(got, doc.Inputs) {
		t.Errorf("scanInputs = %v %v", got, ok)
	}

	// A unit as the coordinator writes it.
	u := wire.WorkUnit{ID: 1234, JobID: 5, Input: in, Action: Action, Status: 1}
	id, input, err := parseUnit(u.AppendJSON(nil))
	if err != nil || id != 1234 || input != in {
		t.Errorf("parseUnit = %d %q %v", id, input, err)
	}
	u.Input = `needs "escaping"`
	if id, input, err = parseUnit(u.AppendJSON(nil)); err != nil || id != 1234 || input != u.Input {
		t.Errorf("parseUnit with escapes = %d %q %v", id, input, err)
	}
	if _, _, err := parseUnit([]byte("<html>")); err == nil {
		t.Error("parseUnit took HTML")
	}
}

func TestMemoryParsing(t *testing.T) {
	m, err := parseMemStatus(strings.NewReader("Name:\tx\nVmRSS:\t  2048 kB\nRssAnon:\t1000 kB\nRssFile:\t  900 kB\nRssShmem:\t148 kB\n"))
	if err != nil || m != (memStatus{VmRSS: 2048, RssAnon: 1000, RssFile: 900, RssShmem: 148}) {
		t.Errorf("parseMemStatus = %+v %v", m, err)
	}
	if _, err := parseMemStatus(strings.NewReader("Name:\tkthread\n")); err == nil {
		t.Error("no VmRSS line, no error")
	}
	if kb, err := parsePss([]byte("Rss: 10 kB\nPss:  7 kB\n")); err != nil || kb != 7 {
		t.Errorf("parsePss = %d %v", kb, err)
	}
	if kb, err := TreeRSS(os.Getpid()); err != nil || kb <= 0 {
		t.Errorf("TreeRSS(self) = %d %v", kb, err)
	}
}

// buildCrowd builds the crowd program for the smoke tests.
func buildCrowd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "crowd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/crowd")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// A short burn-down of crowd (group commit), of a crowd cluster of three
// nodes and of the ceiling at C=16.
func TestSmokeBurnDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the coordinator")
	}
	bin := buildCrowd(t)
	p := QuickPlan()
	p.BurnUnits = 300
	p.MaxRun, p.MaxPrequeue = time.Minute, time.Minute
	for _, sys := range []System{&Crowd{Bin: bin, Fsync: "group", Dir: t.TempDir()}, &Crowd{Bin: bin, Nodes: 3, Dir: t.TempDir()}, &Ceiling{Bin: bin}} {
		t.Run(sys.Name(), func(t *testing.T) {
			ctx := context.Background()
			if err := sys.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer sys.Stop()
			r := runBurnDown(ctx, sys, p, 16)
			if r.Error != "" || r.Errors != 0 {
				t.Fatalf("burn-down: %+v", r)
			}
			// Each worker's last call finds the queue empty: its time is
			// the run's tail, not a unit's, and is left out.
			if r.Units != 300 || r.Latency == nil || r.Latency.Count < 300-16 || r.Latency.Count > 300 || r.Rate <= 0 || r.Capped {
				t.Errorf("burn-down: %d units, latency %+v, rate %v, capped %v", r.Units, r.Latency, r.Rate, r.Capped)
			}
			if r.PeakRSSKB <= 0 {
				t.Errorf("no RSS sampled")
			}
			t.Logf("%s: %.0f units/s, p99 %.2f ms", Label(sys), r.Rate, r.Latency.P99)
		})
	}
}
