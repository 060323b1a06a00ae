package transport

import "sync"

// names interns the worker names and action lists that workers send with
// every request: the same few strings, which would otherwise be copied out
// of each request.
type names struct {
	mu sync.RWMutex
	m  map[string]string
}

// maxNames bounds the table against clients that send a new name each time.
const maxNames = 1 << 16

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
	if len(n.m) < maxNames {
		n.m[s] = s
	}
	n.mu.Unlock()
	return s
}
