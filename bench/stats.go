package bench

import (
	"math"
	"slices"
	"time"
)

// Latency summarises latency samples, in milliseconds.
type Latency struct {
	Of    string  `json:"of"`    // what one sample measures
	Count int     `json:"count"` // samples
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// Percentile is the nearest-rank percentile p (0..100) of sorted samples:
// the smallest sample that at least p% of the samples are at or below.
// It is 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	if p >= 100 {
		return sorted[n-1]
	}
	rank := int(math.Ceil(p*float64(n)/100 - 1e-9)) // 1e-9: 99.9% of 1000 is 999, not 999.0000000000001
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// Summarize sorts samples in place and summarises them; nil when there are
// none.
func Summarize(samples []time.Duration, of string) *Latency {
	if len(samples) == 0 {
		return nil
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return &Latency{
		Of:    of,
		Count: len(samples),
		P50:   ms(Percentile(samples, 50)),
		P90:   ms(Percentile(samples, 90)),
		P99:   ms(Percentile(samples, 99)),
		P999:  ms(Percentile(samples, 99.9)),
		Max:   ms(samples[len(samples)-1]),
		Mean:  ms(sum / time.Duration(len(samples))),
	}
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3 // milliseconds, to the microsecond
}

// samples gathers latencies from many goroutines: each appends to its own
// slice, and merge joins them once the goroutines are done.
type samples struct {
	per [][]time.Duration
}

func newSamples(goroutines, hint int) *samples {
	s := &samples{per: make([][]time.Duration, goroutines)}
	for i := range s.per {
		s.per[i] = make([]time.Duration, 0, hint)
	}
	return s
}

func (s *samples) add(g int, d time.Duration) { s.per[g] = append(s.per[g], d) }

func (s *samples) merge() []time.Duration {
	n := 0
	for _, p := range s.per {
		n += len(p)
	}
	all := make([]time.Duration, 0, n)
	for _, p := range s.per {
		all = append(all, p...)
	}
	return all
}
