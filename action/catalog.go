// Package action knows the actions a coordinator or worker can run: the
// built-in Go actions and the exec actions found in actions_path (SPEC §8).
//
// The Catalog knows, per action name, whether the action splits and merges
// (SPEC §2 item 7), and runs it: a Go action (RegisterGo; word_count,
// graphics_magick and process_pdfs are built in) or an exec action, a file
// run as `<file> <phase>` (Run). The package imports only the standard
// library, so that workers on any machine can import it.
package action

import (
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Phases says which optional phases an action has; every action processes.
type Phases struct{ Split, Merge bool }

// MaxNameLen bounds an action's name: the coordinator keeps the names of
// paused actions, and a resume names one in its URL.
const MaxNameLen = 1024

// ValidName reports whether name is snake case, ^[a-z][a-z0-9_]*$, of at
// most MaxNameLen bytes.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLen || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// Builtins returns the built-in Go actions' names and phases. The map is new
// on every call; the caller may change it.
func Builtins() map[string]Phases {
	out := make(map[string]Phases)
	for name, a := range builtinActions() {
		out[name] = phasesOf(a)
	}
	return out
}

// relookInterval is how often a name that is not known may send Lookup to
// the actions directory again.
const relookInterval = time.Second

// maxRelookNames bounds the memory kept for rate-limiting re-lookups. When it
// is full of names tried within the last relookInterval, further unknown
// names are refused without looking (a flood of distinct names).
const maxRelookNames = 4096

// entry is what the catalog knows of one action. path is "" for a built-in;
// impl is nil for an exec action and for a built-in registered by phases only
// (Register), which a coordinator can schedule but not run.
type entry struct {
	phases Phases
	path   string
	impl   Processor
}

// snapshot is an immutable view of the catalog; writers replace it whole.
type snapshot struct {
	all     map[string]entry // builtin overlaid with exec: what Lookup reads
	builtin map[string]entry // registered with Register or RegisterGo
	exec    map[string]entry // found in dir
}

func (s *snapshot) with(builtin, exec map[string]entry) *snapshot {
	all := make(map[string]entry, len(builtin)+len(exec))
	for name, e := range builtin {
		all[name] = e
	}
	for name, e := range exec { // an exec action overrides a built-in
		all[name] = e
	}
	return &snapshot{all: all, builtin: builtin, exec: exec}
}

// Catalog is the set of actions a coordinator or worker knows. It is safe for
// concurrent use. Lookup of a known action reads an immutable snapshot through
// an atomic pointer: it takes no lock and does not allocate. Writers (Register,
// Scan, a re-lookup that finds a new action) copy the snapshot and swap it.
type Catalog struct {
	dir  string
	snap atomic.Pointer[snapshot]

	mu     sync.Mutex // serializes snapshot writers
	scanMu sync.Mutex // serializes reading dir (Scan and re-lookups)

	relookMu sync.Mutex
	relooked map[string]time.Time // unknown name → last time dir was searched for it

	problemsMu sync.Mutex
	problems   []error // of the last Scan

	// Fields for tests; set before the catalog is shared.
	now           func() time.Time
	phasesTimeout time.Duration
}

// NewCatalog returns a catalog of the built-in actions plus the exec actions
// found in dir ("" = none). Scanning dir logs nothing; the problems it skipped
// over are available from Problems (and from any later Scan).
func NewCatalog(dir string) *Catalog {
	if dir != "" {
		// An action runs in its unit's work directory: a relative path
		// would be looked up from there.
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
	}
	c := &Catalog{
		dir:           dir,
		relooked:      make(map[string]time.Time),
		now:           time.Now,
		phasesTimeout: phasesTimeout,
	}
	builtin := make(map[string]entry)
	for name, a := range builtinActions() {
		builtin[name] = entry{phases: phasesOf(a), impl: a}
	}
	c.snap.Store(new(snapshot).with(builtin, map[string]entry{}))
	if dir != "" {
		c.Scan()
	}
	return c
}

// Dir returns the actions directory the catalog reads ("" = none).
func (c *Catalog) Dir() string { return c.dir }

// Register adds or replaces a built-in action known by its phases only: a
// coordinator can schedule it, but Run cannot run it. An exec action of the
// same name still wins over it.
func (c *Catalog) Register(name string, p Phases) {
	c.register(name, entry{phases: p})
}

// RegisterGo adds or replaces a Go action; its phases are the interfaces it
// implements (Splitter, Merger). An exec action of the same name still wins
// over it.
func (c *Catalog) RegisterGo(name string, a Processor) {
	c.register(name, entry{phases: phasesOf(a), impl: a})
}

func (c *Catalog) register(name string, e entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	builtin := make(map[string]entry, len(old.builtin)+1)
	for n, x := range old.builtin {
		builtin[n] = x
	}
	builtin[name] = e
	c.snap.Store(old.with(builtin, old.exec))
}

// Lookup returns the phases of name. When name is not known and the catalog
// has a dir, it looks in dir again for that one name (an action installed
// after start), at most once per second per name, so a flood of bad names
// cannot make it run programs in a loop.
func (c *Catalog) Lookup(name string) (Phases, bool) {
	if e, ok := c.snap.Load().all[name]; ok {
		return e.phases, true
	}
	if c.dir == "" || !ValidName(name) || !c.mayRelook(name) {
		return Phases{}, false
	}
	return c.relook(name)
}

// Exec returns the path of the exec action's file, if name is an exec action.
func (c *Catalog) Exec(name string) (path string, ok bool) {
	e, ok := c.snap.Load().exec[name]
	return e.path, ok
}

// Names lists the known action names, sorted.
func (c *Catalog) Names() []string {
	all := c.snap.Load().all
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Problems returns the problems the last Scan skipped over (the one
// NewCatalog ran, if no other), so that a caller can report them without
// running every action's `phases` again.
func (c *Catalog) Problems() []error {
	c.problemsMu.Lock()
	defer c.problemsMu.Unlock()
	return append([]error(nil), c.problems...)
}

// mayRelook reports whether dir may be searched for the unknown name now, and
// if so records the attempt.
func (c *Catalog) mayRelook(name string) bool {
	now := c.now()
	c.relookMu.Lock()
	defer c.relookMu.Unlock()
	if last, ok := c.relooked[name]; ok && now.Sub(last) < relookInterval {
		return false
	}
	if len(c.relooked) >= maxRelookNames {
		for n, last := range c.relooked {
			if now.Sub(last) >= relookInterval {
				delete(c.relooked, n)
			}
		}
		if len(c.relooked) >= maxRelookNames {
			return false
		}
	}
	c.relooked[name] = now
	return true
}

// setExec installs the exec actions found by a full scan.
func (c *Catalog) setExec(exec map[string]entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	c.snap.Store(old.with(old.builtin, exec))
}

// addExec installs one exec action found by a re-lookup.
func (c *Catalog) addExec(name string, e entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	exec := make(map[string]entry, len(old.exec)+1)
	for n, x := range old.exec {
		exec[n] = x
	}
	exec[name] = e
	c.snap.Store(old.with(old.builtin, exec))
}
