package transport

import "sync"

// names interns the worker names and action lists that workers send with
// every request: the same few strings, which would otherwise be copied out
// of each request.
type names struct {
	mu    sync.RWMutex
	m     map[string]string
	bytes int // the length of the strings in m
}

// maxNames and maxNameBytes bound the table against clients that send a new
// name each time; past them, names are copied out of each request instead.
const (
	maxNames     = 1 << 16
	maxNameBytes = 8 << 20
)

func (n *names) get(b []byte) string {
	n.mu.RLock()
	s, ok := n.m[string(b)] // no allocation: the compiler looks up without converting
	n.mu.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	n.mu.Lock()
	if n.m == nil {
		n.m = make(map[string]string)
	}
	if _, ok := n.m[s]; !ok && len(n.m) < maxNames && n.bytes+len(s) <= maxNameBytes {
		n.m[s] = s
		n.bytes += len(s)
	}
	n.mu.Unlock()
	return s
}
