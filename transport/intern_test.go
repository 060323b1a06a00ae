package transport

import (
	"fmt"
	"github.com/documentcloud/crowd/wire"
	"strings"
	"testing"
)

// The name table keeps at most maxNameBytes of names: past that, a name is
// still answered, only not kept.
func TestNamesTableBounded(t *testing.T) {
	var n names
	pad := strings.Repeat("x", wire.MaxWorkerActions-8)
	for i := range 2 * maxNameBytes / wire.MaxWorkerActions {
		name := fmt.Sprintf("%08d", i) + pad
		if got := n.get([]byte(name)); got != name {
			t.Fatalf("get(%.8s...) = %.8s...", name, got)
		}
		n.get([]byte(name)) // again: counted once
	}
	if n.bytes > maxNameBytes || len(n.m) != maxNameBytes/wire.MaxWorkerActions {
		t.Fatalf("the table holds %d names of %d bytes in all, want %d names and at most %d bytes",
			len(n.m), n.bytes, maxNameBytes/wire.MaxWorkerActions, maxNameBytes)
	}
}
