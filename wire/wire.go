// Package wire holds the JSON shapes of CloudCrowd's HTTP API: the Job and
// WorkUnit documents that the coordinator sends and its clients read.
//
// Encoding is hand-written (append style, fixed key order, no reflection)
// because it runs on every POST /jobs, POST /work and PUT /work/:id; decoding
// is left to encoding/json, which the clients use.
package wire

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// Job is a job as GET /jobs/:id shows it. Keys keep CloudCrowd's order.
type Job struct {
	ID              int64           `json:"id"`
	Color           string          `json:"color"`
	Status          string          `json:"status"`
	PercentComplete int             `json:"percent_complete"`
	WorkUnits       int             `json:"work_units"`
	TimeTaken       float64         `json:"time_taken"`
	Outputs         json.RawMessage `json:"outputs,omitempty"` // only once complete
	Email           *string         `json:"email,omitempty"`   // only when one was given
}

// WorkUnit is a unit as POST /work hands it to a worker.
type WorkUnit struct {
	ID       int64           `json:"id"`
	JobID    int64           `json:"job_id"`
	Input    string          `json:"input"`
	Attempts int             `json:"attempts"`
	Action   string          `json:"action"`
	Options  json.RawMessage `json:"options"`
	Status   int             `json:"status"`
}

// Color is the job's console colour: characters 25..30 of the MD5 hex digest
// of its decimal id, as CloudCrowd computed it.
func Color(id int64) string {
	sum := md5.Sum(strconv.AppendInt(nil, id, 10))
	var hexed [32]byte
	hex.Encode(hexed[:], sum[:])
	return string(hexed[25:31])
}

// AppendJSON appends the job's JSON document to b.
func (j *Job) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, j.ID, 10)
	b = append(b, `,"color":"`...)
	b = append(b, j.Color...)
	b = append(b, `","status":"`...)
	b = append(b, j.Status...)
	b = append(b, `","percent_complete":`...)
	b = strconv.AppendInt(b, int64(j.PercentComplete), 10)
	b = append(b, `,"work_units":`...)
	b = strconv.AppendInt(b, int64(j.WorkUnits), 10)
	b = append(b, `,"time_taken":`...)
	b = AppendSeconds(b, j.TimeTaken)
	if j.Outputs != nil {
		b = append(b, `,"outputs":`...)
		b = append(b, j.Outputs...)
	}
	if j.Email != nil {
		b = append(b, `,"email":`...)
		b = AppendString(b, *j.Email)
	}
	return append(b, '}')
}

// AppendJSON appends the unit's JSON document to b.
func (u *WorkUnit) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, u.ID, 10)
	b = append(b, `,"job_id":`...)
	b = strconv.AppendInt(b, u.JobID, 10)
	b = append(b, `,"input":`...)
	b = AppendString(b, u.Input)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(u.Attempts), 10)
	b = append(b, `,"action":`...)
	b = AppendString(b, u.Action)
	b = append(b, `,"options":`...)
	if len(u.Options) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, u.Options...)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(u.Status), 10)
	return append(b, '}')
}

// AppendSeconds appends a duration in seconds with at most microsecond
// precision, so that time_taken reads 1.25 rather than 1.2500000000000002.
func AppendSeconds(b []byte, s float64) []byte {
	return strconv.AppendFloat(b, float64(int64(s*1e6+0.5))/1e6, 'f', -1, 64)
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string. It escapes what JSON requires plus
// <, > and & (as encoding/json does), so that a document holding user text is
// safe to embed in HTML; invalid UTF-8 is kept byte for byte.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			if c == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2]&^1 == 0xa8 {
				// U+2028 and U+2029 break JavaScript string literals.
				b = append(b, s[start:i]...)
				b = append(b, `\u202`...)
				b = append(b, hexDigits[s[i+2]&0xf])
				i += 2
				start = i + 1
			}
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b') // as encoding/json writes them since Go 1.22
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Status is GET /status: CloudCrowd's three keys, then counts that stay
// true when the job list is capped.
type Status struct {
	Jobs          []Job          `json:"jobs"`
	Workers       []Worker       `json:"workers"`
	WorkUnitCount int            `json:"work_unit_count"` // incomplete units
	JobCount      int            `json:"job_count"`       // incomplete jobs, listed or not
	JobsByStatus  map[string]int `json:"jobs_by_status"`
	Units         UnitCounts     `json:"units"`
	// Cluster is each node's raft state, in cluster mode only.
	Cluster []ClusterNode `json:"cluster,omitempty"`
}

// Worker is a live worker; Status is the display status of the unit it
// holds, "" (null in JSON) when it holds none.
type Worker struct {
	Name   string `json:"name"`
	Status string `json:"status"`
}

// UnitCounts counts incomplete units by where they are.
type UnitCounts struct {
	Ready   int `json:"ready"`
	Leased  int `json:"leased"`
	Waiting int `json:"waiting"` // backing off after a failed attempt
}

// statusNames orders jobs_by_status.
var statusNames = []string{"processing", "succeeded", "failed", "splitting", "merging"}

// AppendJSON appends the status document to b.
func (s *Status) AppendJSON(b []byte) []byte {
	b = append(b, `{"jobs":[`...)
	for i := range s.Jobs {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.Jobs[i].AppendJSON(b)
	}
	b = append(b, `],"workers":[`...)
	for i, w := range s.Workers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = AppendString(b, w.Name)
		b = append(b, `,"status":`...)
		if w.Status == "" {
			b = append(b, "null"...)
		} else {
			b = AppendString(b, w.Status)
		}
		b = append(b, '}')
	}
	b = append(b, `],"work_unit_count":`...)
	b = strconv.AppendInt(b, int64(s.WorkUnitCount), 10)
	b = append(b, `,"job_count":`...)
	b = strconv.AppendInt(b, int64(s.JobCount), 10)
	b = append(b, `,"jobs_by_status":{`...)
	for i, name := range statusNames {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendString(b, name)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(s.JobsByStatus[name]), 10)
	}
	b = append(b, `},"units":{"ready":`...)
	b = strconv.AppendInt(b, int64(s.Units.Ready), 10)
	b = append(b, `,"leased":`...)
	b = strconv.AppendInt(b, int64(s.Units.Leased), 10)
	b = append(b, `,"waiting":`...)
	b = strconv.AppendInt(b, int64(s.Units.Waiting), 10)
	b = append(b, '}')
	if len(s.Cluster) > 0 {
		c, _ := json.Marshal(s.Cluster) // plain fields: cannot fail
		b = append(b, `,"cluster":`...)
		b = append(b, c...)
	}
	return append(b, '}')
}

// Pause is a paused action, as CloudCrowd's GET /blacklist lists it.
type Pause struct {
	ID        int64     `json:"id"`
	Action    string    `json:"action"`
	CreatedAt time.Time `json:"created_at"`
}

// AppendJSON appends the pause's JSON document to b.
func (p *Pause) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, p.ID, 10)
	b = append(b, `,"action":`...)
	b = AppendString(b, p.Action)
	b = append(b, `,"created_at":"`...)
	b = p.CreatedAt.UTC().AppendFormat(b, time.RFC3339)
	return append(b, `"}`...)
}

// Bounds on the text a worker sends that the coordinator keeps and shows:
// its name, its thread_status, and its comma-separated worker_actions.
const (
	MaxWorkerName    = 1024
	MaxThreadStatus  = 1024
	MaxWorkerActions = 4096
)

// The check_in_interval a worker may declare on PUT /worker. A worker is
// dead after three missed check-ins: below a tenth of a second it would be
// dead at once.
const (
	MinCheckInInterval = 100 * time.Millisecond
	MaxCheckInInterval = 24 * time.Hour
)

// MaxWait bounds POST /work's wait (long-poll): held longer, a request
// would outlast the proxies and client timeouts in front of most servers
// (60 s by default in nginx and many load balancers), and the worker would
// see an error instead of an empty answer.
const MaxWait = 30 * time.Second

// ClusterNode is GET /cluster on a node of a cluster (cluster mode): what
// that node knows of itself and the cluster. Every node answers it itself;
// it is never forwarded to the leader.
type ClusterNode struct {
	Node         string `json:"node"`
	Role         string `json:"role"` // leader, follower, candidate; unreachable in /status
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Leader       string `json:"leader"` // "" while there is none
	// SnapshotRestores counts the snapshots the node's state was restored
	// from: at its start, and each one the leader sent it because it had
	// fallen too far behind.
	SnapshotRestores uint64        `json:"snapshot_restores"`
	Peers            []ClusterPeer `json:"peers,omitempty"` // in GET /cluster, not in /status
}

// ClusterPeer is a member of the cluster and its raft address.
type ClusterPeer struct {
	Node string `json:"node"`
	Raft string `json:"raft"`
}
