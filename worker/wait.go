package worker

import (
	"math/rand/v2"
	"time"
)

// waitMultiplier is CloudCrowd's WAIT_MULTIPLIER: an idle slot waits this
// much longer after each POST /work that found nothing.
const waitMultiplier = 1.5

// nextWait is the idle wait after another POST /work found nothing, when the
// last wait was cur: cur × 1.5, at least lo and at most hi. A slot that gets
// work starts again from lo. From lo = 100ms: 150ms, 225ms, 337.5ms, ...
func nextWait(cur, lo, hi time.Duration) time.Duration {
	next := time.Duration(float64(cur) * waitMultiplier)
	return min(max(next, lo), hi)
}

// jitter shortens a wait by up to a quarter, at random, so that slots that
// went idle together do not poll together. It never lengthens a wait, so
// max_worker_wait stays a bound.
func jitter(d time.Duration) time.Duration {
	if q := int64(d / 4); q > 0 {
		return d - time.Duration(rand.Int64N(q+1))
	}
	return d
}
