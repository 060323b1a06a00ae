package wire

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a duration as the API and CloudCrowd's configs write
// it: a Go duration ("45s", "1m30s", "72h") or a plain number of seconds
// ("30", "0.5"). Negative values are errors.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if secs, err := strconv.ParseFloat(t, 64); err == nil {
		switch {
		case math.IsNaN(secs) || math.IsInf(secs, 0):
			return 0, fmt.Errorf("%q is not a duration", s)
		case secs < 0:
			return 0, fmt.Errorf("%q is negative", s)
		case secs*float64(time.Second) >= math.MaxInt64:
			return 0, fmt.Errorf("%q is too long", s)
		}
		return time.Duration(math.Round(secs * float64(time.Second))), nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (such as 45s, 1m30s or a number of seconds)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}
