// Package metrics exposes the coordinator to Prometheus: request latency
// per route, the write-ahead log's fsyncs and batches, and the coordinator's
// counts, read from its actors at each scrape, and in cluster mode each
// node's raft state.
package metrics

import (
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/wire"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the coordinator's Prometheus registry.
type Metrics struct {
	registry *prometheus.Registry
	co       coordinator // the counts of the coordinator watched, if any
	requests *prometheus.HistogramVec
	fsync    prometheus.Histogram
	batch    prometheus.Histogram
}

// requestBuckets are powers of two from 50µs to 1.6s, and 10 ms and 25 ms,
// the p99 and p99.9 a steady load's reports are held to.
var requestBuckets = func() []float64 {
	b := append(prometheus.ExponentialBuckets(50e-6, 2, 16), 0.010, 0.025)
	slices.Sort(b)
	return b
}()

// New returns the metrics of a process, with Go's and the process's own.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crowd_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route.",
			Buckets: requestBuckets,
		}, []string{"route"}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "crowd_wal_fsync_duration_seconds",
			Help:    "Time of one fsync of the write-ahead log.",
			Buckets: prometheus.ExponentialBuckets(25e-6, 2, 16),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "crowd_wal_batch_records",
			Help:    "Records written to the write-ahead log in one batch (one fsync in group mode).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 13), // 1 .. 4096
		}),
	}
	m.registry.MustRegister(m.requests, m.fsync, m.batch, &m.co,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Route is the latency histogram of one route: handlers observe into it
// directly, without a label lookup per request.
func (m *Metrics) Route(name string) prometheus.Observer { return m.requests.WithLabelValues(name) }

// ObserveSync and ObserveBatch are the write-ahead log's hooks.
func (m *Metrics) ObserveSync(took time.Duration) { m.fsync.Observe(took.Seconds()) }

// ObserveBatch records the size of one batch written to the log.
func (m *Metrics) ObserveBatch(records int) { m.batch.Observe(float64(records)) }

// Watch adds the coordinator's own counts, read at each scrape; a node of a
// cluster watches each coordinator it runs while it leads, and nil when it
// stops leading.
func (m *Metrics) Watch(co *actors.Coordinator) { m.co.watched.Store(co) }

// WatchCluster adds a cluster node's raft state, read at each scrape.
func (m *Metrics) WatchCluster(node func() wire.ClusterNode) {
	m.registry.MustRegister(clusterNode(node))
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// coordinator collects the coordinator's counts from its actors.
type coordinator struct {
	watched atomic.Pointer[actors.Coordinator]
}

var (
	jobsDesc     = prometheus.NewDesc("crowd_jobs", "Jobs by status.", []string{"status"}, nil)
	unitsDesc    = prometheus.NewDesc("crowd_units", "Incomplete units by state: ready, leased, waiting (backing off).", []string{"state"}, nil)
	workersDesc  = prometheus.NewDesc("crowd_workers", "Live workers.", nil, nil)
	pausedDesc   = prometheus.NewDesc("crowd_paused_actions", "Paused actions.", nil, nil)
	walBytesDesc = prometheus.NewDesc("crowd_wal_bytes", "Size of the write-ahead log on disk.", nil, nil)
	actorsDesc   = prometheus.NewDesc("crowd_job_actors", "Jobs running in an actor; finished jobs are kept encoded instead.", nil, nil)
	finishedDesc = prometheus.NewDesc("crowd_finished_job_bytes", "Bytes the finished jobs' encoded states take in memory.", nil, nil)
	counterDescs = []struct {
		desc *prometheus.Desc
		read func(*actors.Counters) uint64
	}{
		{prometheus.NewDesc("crowd_units_succeeded_total", "Units that succeeded.", nil, nil), func(c *actors.Counters) uint64 { return c.UnitsSucceeded.Load() }},
		{prometheus.NewDesc("crowd_units_failed_total", "Units that failed for good.", nil, nil), func(c *actors.Counters) uint64 { return c.UnitsFailed.Load() }},
		{prometheus.NewDesc("crowd_attempts_failed_total", "Failed attempts that were retried.", nil, nil), func(c *actors.Counters) uint64 { return c.AttemptsFailed.Load() }},
		{prometheus.NewDesc("crowd_lease_recoveries_total", "Leases taken back from dead or slow workers.", nil, nil), func(c *actors.Counters) uint64 { return c.LeasesLost.Load() }},
		{prometheus.NewDesc("crowd_repeated_reports_total", "Reports that repeated one already recorded (a worker whose answer was lost), answered as the first was.", nil, nil), func(c *actors.Counters) uint64 { return c.RepeatReports.Load() }},
		{prometheus.NewDesc("crowd_jobs_created_total", "Jobs created.", nil, nil), func(c *actors.Counters) uint64 { return c.JobsCreated.Load() }},
	}
)

func (c *coordinator) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{jobsDesc, unitsDesc, workersDesc, pausedDesc, walBytesDesc, actorsDesc, finishedDesc} {
		ch <- d
	}
	for _, cd := range counterDescs {
		ch <- cd.desc
	}
}

func (c *coordinator) Collect(ch chan<- prometheus.Metric) {
	co := c.watched.Load()
	if co == nil {
		return
	}
	for _, cd := range counterDescs {
		ch <- prometheus.MustNewConstMetric(cd.desc, prometheus.CounterValue, float64(cd.read(co.Counters())))
	}
	s, err := co.Summary()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
		return
	}
	for _, status := range []string{"processing", "succeeded", "failed", "splitting", "merging"} {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(s.Jobs[status]), status)
	}
	for _, state := range []string{"ready", "leased", "waiting"} {
		ch <- prometheus.MustNewConstMetric(unitsDesc, prometheus.GaugeValue, float64(s.Units[state]), state)
	}
	ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(s.Workers))
	ch <- prometheus.MustNewConstMetric(pausedDesc, prometheus.GaugeValue, float64(len(s.Paused)))
	ch <- prometheus.MustNewConstMetric(actorsDesc, prometheus.GaugeValue, float64(s.JobActors))
	ch <- prometheus.MustNewConstMetric(finishedDesc, prometheus.GaugeValue, float64(s.FinishedBytes))
	if s.WAL != nil {
		ch <- prometheus.MustNewConstMetric(walBytesDesc, prometheus.GaugeValue, float64(s.WAL.Bytes))
	}
}

// clusterNode collects a cluster node's raft state.
type clusterNode func() wire.ClusterNode

var (
	termDesc    = prometheus.NewDesc("crowd_cluster_term", "This node's raft term.", nil, nil)
	commitDesc  = prometheus.NewDesc("crowd_cluster_commit_index", "The last raft entry this node knows committed.", nil, nil)
	appliedDesc = prometheus.NewDesc("crowd_cluster_applied_index", "The last raft entry this node applied to its state.", nil, nil)
	roleDesc    = prometheus.NewDesc("crowd_cluster_role", "1 for this node's raft role.", []string{"role"}, nil)
	leaderDesc  = prometheus.NewDesc("crowd_cluster_leader", "1 for the leader this node knows; none while it knows none.", []string{"leader"}, nil)
	roles       = []string{"leader", "follower", "candidate", "shutdown"}
)

func (n clusterNode) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{termDesc, commitDesc, appliedDesc, roleDesc, leaderDesc} {
		ch <- d
	}
}

func (n clusterNode) Collect(ch chan<- prometheus.Metric) {
	v := n()
	ch <- prometheus.MustNewConstMetric(termDesc, prometheus.GaugeValue, float64(v.Term))
	ch <- prometheus.MustNewConstMetric(commitDesc, prometheus.GaugeValue, float64(v.CommitIndex))
	ch <- prometheus.MustNewConstMetric(appliedDesc, prometheus.GaugeValue, float64(v.AppliedIndex))
	for _, r := range roles {
		is := 0.0
		if r == v.Role {
			is = 1
		}
		ch <- prometheus.MustNewConstMetric(roleDesc, prometheus.GaugeValue, is, r)
	}
	leader := v.Leader
	if leader == "" {
		leader = "none"
	}
	ch <- prometheus.MustNewConstMetric(leaderDesc, prometheus.GaugeValue, 1, leader)
}
