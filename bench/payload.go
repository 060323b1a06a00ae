package bench

import (
	"strconv"
	"time"
)

// InputSize is the size in bytes of every unit's input, for every system:
// crowd's unit input, a beanstalkd job body, a Faktory job argument, an
// asynq payload and a River job's argument.
const InputSize = 64

// The action that crowd's protocol benchmarks name: a built-in, so the
// coordinator accepts it, that no real worker runs here (the benchmark's
// clients report success at once).
const Action = "graphics_magick"

// MakeInput builds a unit's input: "u", the time it was (meant to be)
// submitted in Unix nanoseconds, "-", a sequence number, "-", then padding
// to InputSize. It needs no JSON escaping.
func MakeInput(stamp time.Time, seq int64) string {
	b := make([]byte, 0, InputSize)
	b = append(b, 'u')
	b = appendPadded(b, stamp.UnixNano(), 19)
	b = append(b, '-')
	b = appendPadded(b, seq%1e12, 12)
	b = append(b, '-')
	for len(b) < InputSize {
		b = append(b, 'x')
	}
	return string(b)
}

func appendPadded(b []byte, v int64, width int) []byte {
	s := strconv.FormatInt(v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// InputStamp reads back the time MakeInput put in an input.
func InputStamp(in string) (time.Time, bool) {
	if len(in) < 20 || in[0] != 'u' {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(in[1:20], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// AppendJobJSON appends crowd's job document for inputs made by MakeInput
// (which need no escaping).
func AppendJobJSON(b []byte, inputs []string) []byte {
	b = append(b, `{"action":"`+Action+`","inputs":[`...)
	for i, in := range inputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, in...)
		b = append(b, '"')
	}
	return append(b, `]}`...)
}
