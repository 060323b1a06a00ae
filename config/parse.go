package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/documentcloud/crowd/wire"
)

// ParseDuration accepts a Go duration ("45s", "1m30s", "50ms") or a plain
// number of seconds ("30", "0.5"), the form CloudCrowd's configs use.
// Negative values are errors.
func ParseDuration(s string) (time.Duration, error) {
	d, err := wire.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("config: %w", err)
	}
	return d, nil
}

// ParseSize accepts a byte count ("1048576") or a whole number with a unit:
// B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), in any case.
func ParseSize(s string) (int64, error) {
	n, err := parseSize(s)
	if err != nil {
		return 0, fmt.Errorf("config: %w", err)
	}
	return n, nil
}

// The parsers below return errors without the "config: " prefix, so that
// Set, LoadFile and ApplyEnv can say where the value came from.

var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1000,
	"mb":  1000 * 1000,
	"gb":  1000 * 1000 * 1000,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
}

func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	mult, ok := sizeUnits[strings.ToLower(strings.TrimSpace(t[i:]))]
	if i == 0 || !ok {
		return 0, fmt.Errorf("%q is not a size (such as 1048576, 512KiB, 32MiB or 10MB)", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

// parseWhole accepts 0, 1, 2, ...: no setting counts below zero.
func parseWhole(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("%q is too large", s)
		}
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return n, nil
}

// parseBool accepts the YAML 1.1 booleans that CloudCrowd's Ruby YAML read
// (yes/no, on/off, y/n) as well as true/false and 1/0.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "y", "on", "1":
		return true, nil
	case "false", "no", "n", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", s)
}

// splitList reads "a, b,c" as [a b c]; blanks are dropped so that "" is an empty list.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
