package transport

import (
	"fmt"
	"strings"
	"testing"
)

// The name table keeps at most maxNameBytes of names: past that, a name is
// still answered, only not kept.
func TestNamesTableBounded(t *testing.T) {
	var n names
	pad := strings.Repeat("x", maxActions-8)
	for i := range 2 * maxNameBytes / maxActions {
		name := fmt.Sprintf("%08d", i) + pad
		if got := n.get([]byte(name)); got != name {
			t.Fatalf("get(%.8s...) = %.8s...", name, got)
		}
		n.get([]byte(name)) // again: counted once
	}
	if n.bytes > maxNameBytes || len(n.m) != maxNameBytes/maxActions {
		t.Fatalf("the table holds %d names of %d bytes in all, want %d names and at most %d bytes",
			len(n.m), n.bytes, maxNameBytes/maxActions, maxNameBytes)
	}
}
