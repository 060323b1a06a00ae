package wire

import "encoding/json"

// The console's documents. They are read every second or two by a browser,
// not by workers, so they go through encoding/json.

// ConsoleJob is a job as the console lists it: the Job document and what an
// operator needs besides.
type ConsoleJob struct {
	Job
	Action      string          `json:"action"`
	CreatedAt   float64         `json:"created_at"`        // Unix seconds
	Options     json.RawMessage `json:"options,omitempty"` // on the job page only
	CallbackURL string          `json:"callback_url,omitempty"`
}

// JobPage is one page of the console's job table.
type JobPage struct {
	Total   int          `json:"total"`
	Page    int          `json:"page"`
	PerPage int          `json:"per_page"`
	Jobs    []ConsoleJob `json:"jobs"`
}

// UnitDetail is a unit on the console's job page.
type UnitDetail struct {
	ID       int64           `json:"id"`
	Phase    string          `json:"phase"` // splitting, processing or merging
	State    string          `json:"state"` // queued, running, waiting, succeeded or failed
	Attempts int             `json:"attempts"`
	Worker   *string         `json:"worker"` // who holds it, while running
	Time     float64         `json:"time"`
	Input    string          `json:"input"`
	Output   json.RawMessage `json:"output"`
	Errors   []string        `json:"errors"` // what each failed attempt reported
}

// JobDetail is the console's job page.
type JobDetail struct {
	Job        ConsoleJob   `json:"job"`
	UnitsTotal int          `json:"units_total"`
	Page       int          `json:"page"`
	PerPage    int          `json:"per_page"`
	Units      []UnitDetail `json:"units"`
}

// WorkerDetail is a live worker on the console.
type WorkerDetail struct {
	Name            string    `json:"name"`
	Status          *string   `json:"status"` // the display status of the unit it holds
	ThreadStatus    string    `json:"thread_status"`
	Unit            *WorkUnit `json:"unit"`
	LastSeen        float64   `json:"last_seen"` // Unix seconds
	CheckInInterval *float64  `json:"check_in_interval"`
}

// Summary is the console's header: counts that are cheap to keep.
type Summary struct {
	Jobs           map[string]int `json:"jobs"` // by status, plus incomplete and total
	Units          map[string]int `json:"units"`
	Workers        int            `json:"workers"`
	UnitsPerSecond float64        `json:"units_per_second"`
	WAL            *WALSummary    `json:"wal"` // nil without a write-ahead log
	Paused         []string       `json:"paused"`
	Time           float64        `json:"time"`
	// The jobs running in actors; the finished ones are kept encoded, in
	// FinishedBytes.
	JobActors     int   `json:"job_actors"`
	FinishedBytes int64 `json:"finished_bytes"`
	// Cluster is each node's raft state, in cluster mode only.
	Cluster []ClusterNode `json:"cluster,omitempty"`
}

// WALSummary is the write-ahead log's state.
type WALSummary struct {
	Mode        string  `json:"mode"`
	LastFsyncMS float64 `json:"last_fsync_ms"`
	MaxFsyncMS  float64 `json:"max_fsync_ms"`
	Bytes       int64   `json:"bytes"`
}

// History is what the console graphs: one point per Step seconds, each
// [time, units queued, units leased, units per second, workers].
type History struct {
	Step   int          `json:"step"`
	Points [][5]float64 `json:"points"`
}

// Cleanup answers POST /cleanup: the finished jobs it deleted.
type Cleanup struct {
	Deleted int `json:"deleted"`
}
