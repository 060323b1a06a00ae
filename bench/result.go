package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// Workloads, in the order they run and are shown.
const (
	Submit1   = "submit-1"   // POST /jobs with one input (or one put/push/insert)
	Submit100 = "submit-100" // one job of 100 inputs (or 100 messages, pipelined or batched)
	BurnDown  = "burn-down"  // N units queued, C workers take and acknowledge them
	Steady    = "steady"     // submission and work at a fixed offered rate
)

// Workloads lists the workloads in order.
var Workloads = []string{Submit1, Submit100, BurnDown, Steady}

// Result is one run: one system, one workload, one concurrency.
type Result struct {
	System     string `json:"system"`
	Variant    string `json:"variant,omitempty"`
	Durability string `json:"durability"`
	Workload   string `json:"workload"`
	C          int    `json:"c"` // concurrent clients (submission) or workers

	Jobs      int64   `json:"jobs,omitempty"` // jobs submitted (submission, steady)
	Units     int64   `json:"units"`          // units submitted or completed
	Seconds   float64 `json:"seconds"`
	Rate      float64 `json:"rate"`      // the headline rate, in RateUnit
	RateUnit  string  `json:"rate_unit"` // "jobs/s" or "units/s"
	UnitsRate float64 `json:"units_per_s"`
	Offered   float64 `json:"offered_units_per_s,omitempty"` // steady state

	Latency       *Latency `json:"latency,omitempty"`
	SubmitLatency *Latency `json:"submit_latency,omitempty"` // steady state

	PeakRSSKB int64      `json:"peak_rss_kb,omitempty"`
	RSS       []RSSPoint `json:"rss,omitempty"` // steady state: the server's RSS over time

	Errors int64  `json:"errors,omitempty"`
	Capped bool   `json:"capped,omitempty"` // stopped by the run's time limit before its count
	Note   string `json:"note,omitempty"`
	Error  string `json:"error,omitempty"` // the run failed
}

// Label is the system's name and variant.
func (r Result) Label() string {
	if r.Variant == "" {
		return r.System
	}
	return r.System + " (" + r.Variant + ")"
}

// Report is a whole benchmark run.
type Report struct {
	Mode     string            `json:"mode"` // "quick" or "full"
	Started  time.Time         `json:"started"`
	Seconds  float64           `json:"seconds"`
	Machine  Machine           `json:"machine"`
	Versions map[string]string `json:"versions,omitempty"`
	Settings map[string]string `json:"settings,omitempty"`
	Results  []Result          `json:"results"`
	Skipped  []string          `json:"skipped,omitempty"` // "<peer> not installed (…)"
}

// Machine describes where the run happened.
type Machine struct {
	OS     string `json:"os"`
	Arch   string `json:"arch"`
	CPUs   int    `json:"cpus"`
	CPU    string `json:"cpu,omitempty"`
	Go     string `json:"go"`
	Kernel string `json:"kernel,omitempty"`
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadReport reads a report written by WriteJSON.
func ReadReport(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("reading the results: %w", err)
	}
	return &r, nil
}

// ReadReportFile reads a report from a file.
func ReadReportFile(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadReport(f)
}
