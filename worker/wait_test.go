package worker

import (
	"testing"
	"time"
)

// TestIdleWaits checks CloudCrowd's idle back-off: each empty POST /work
// makes the wait 1.5 times longer, up to max_worker_wait.
func TestIdleWaits(t *testing.T) {
	lo, hi := 100*time.Millisecond, 1*time.Second
	want := []time.Duration{
		150 * time.Millisecond,
		225 * time.Millisecond,
		337500 * time.Microsecond,
		506250 * time.Microsecond,
		759375 * time.Microsecond,
		hi, hi, hi,
	}
	wait := lo
	for i, w := range want {
		wait = nextWait(wait, lo, hi)
		if wait != w {
			t.Fatalf("wait %d = %v, want %v (sequence %v)", i+1, wait, w, want)
		}
	}
	// Work resets the wait to lo; a wait below lo (min_worker_wait raised)
	// starts from lo.
	if got := nextWait(0, lo, hi); got != lo {
		t.Errorf("nextWait(0) = %v, want %v", got, lo)
	}
	// With the defaults (100ms, 10s) the cap is reached after 12 empty polls.
	wait, n := 100*time.Millisecond, 0
	for wait < 10*time.Second {
		wait = nextWait(wait, 100*time.Millisecond, 10*time.Second)
		n++
	}
	if n != 12 {
		t.Errorf("the default waits reach 10s after %d polls, want 12", n)
	}
}

func TestJitter(t *testing.T) {
	d := 800 * time.Millisecond
	seen := map[time.Duration]bool{}
	for range 1000 {
		j := jitter(d)
		if j > d || j < d*3/4 {
			t.Fatalf("jitter(%v) = %v, want within [%v, %v]", d, j, d*3/4, d)
		}
		seen[j] = true
	}
	if len(seen) < 10 {
		t.Errorf("jitter gave only %d distinct waits in 1000 draws", len(seen))
	}
	if jitter(0) != 0 {
		t.Error("jitter(0) != 0")
	}
}
