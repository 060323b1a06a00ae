package core

import (
	"slices"
	"strings"
)

// Worker is what the registry knows of one worker.
type Worker struct {
	Name         string
	ThreadStatus string
	LastSeen     int64
	Interval     int64   // declared check_in_interval (ns); 0 = none declared
	Units        []int64 // the units it holds, oldest first
	UnitStatus   Status  // the phase of the newest unit it holds
}

// CurrentUnit is the newest unit the worker holds: the one it shows as its
// work.
func (w *Worker) CurrentUnit() (int64, bool) {
	if len(w.Units) == 0 {
		return 0, false
	}
	return w.Units[len(w.Units)-1], true
}

// DeadWorker is a worker the registry gave up on, with the units it held.
type DeadWorker struct {
	Name  string
	Units []int64
}

// Registry tracks worker liveness and the units each worker holds. A worker
// is dead once it was not heard from for the worker timeout, or for three of
// the check-in intervals it declared.
type Registry struct {
	timeout int64
	workers map[string]*Worker
}

// NewRegistry returns an empty registry with the given worker timeout (ns).
func NewRegistry(timeout int64) *Registry {
	return &Registry{timeout: timeout, workers: make(map[string]*Worker)}
}

// Seen records that a worker was heard from at now, registering it if new.
func (r *Registry) Seen(name string, now int64) *Worker {
	w := r.workers[name]
	if w == nil {
		w = &Worker{Name: name}
		r.workers[name] = w
	}
	w.LastSeen = max(w.LastSeen, now)
	return w
}

// CheckIn records a worker's check-in; interval (ns) is the check-in
// interval it declares, 0 if none.
func (r *Registry) CheckIn(name, threadStatus string, interval, now int64) {
	w := r.Seen(name, now)
	w.ThreadStatus = threadStatus
	w.Interval = interval
}

// CheckOut removes a worker and returns the units it held.
func (r *Registry) CheckOut(name string) []int64 {
	w := r.workers[name]
	if w == nil {
		return nil
	}
	delete(r.workers, name)
	return w.Units
}

// Hold records that worker holds unit (of the given phase) since now.
func (r *Registry) Hold(name string, unit int64, status Status, now int64) {
	w := r.Seen(name, now)
	w.Units = append(w.Units, unit)
	w.UnitStatus = status
}

// Drop records that worker no longer holds unit.
func (r *Registry) Drop(name string, unit int64) {
	w := r.workers[name]
	if w == nil {
		return
	}
	if i := slices.Index(w.Units, unit); i >= 0 {
		w.Units = slices.Delete(w.Units, i, i+1)
	}
}

func (r *Registry) limit(w *Worker) int64 {
	if w.Interval > 0 {
		return 3 * w.Interval
	}
	return r.timeout
}

func (r *Registry) alive(w *Worker, now int64) bool { return now-w.LastSeen <= r.limit(w) }

// Expire removes the dead workers and returns them with their units
// (O(workers): it runs on a timer, not per request).
func (r *Registry) Expire(now int64) []DeadWorker {
	var dead []DeadWorker
	for name, w := range r.workers {
		if !r.alive(w, now) {
			delete(r.workers, name)
			dead = append(dead, DeadWorker{Name: name, Units: w.Units})
		}
	}
	return dead
}

// Alive lists the live workers, by name descending as CloudCrowd asked.
func (r *Registry) Alive(now int64) []*Worker {
	var ws []*Worker
	for _, w := range r.workers {
		if r.alive(w, now) {
			ws = append(ws, w)
		}
	}
	slices.SortFunc(ws, func(a, b *Worker) int { return strings.Compare(b.Name, a.Name) })
	return ws
}

// Worker returns a registered worker.
func (r *Registry) Worker(name string) *Worker { return r.workers[name] }
