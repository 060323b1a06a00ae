package action

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"unicode"
)

// wordCount is CloudCrowd's demo action (without its 5-second nap): process
// counts the words of the input file, or of the input text; merge sums.
type wordCount struct{}

func (wordCount) Process(ctx context.Context, u *Unit) (any, error) {
	if u.InputPath != "" {
		f, err := os.Open(u.InputPath)
		if err != nil {
			return nil, fmt.Errorf("word_count: %w", err)
		}
		defer f.Close()
		return countWords(bufio.NewReader(f))
	}
	text, ok := u.Input.(string)
	if !ok {
		return nil, fmt.Errorf("word_count: the input is %T, want text or the URL of a file", u.Input)
	}
	return countWords(strings.NewReader(text))
}

// countWords counts runs of non-space characters, as `wc -w` does. It reads
// rune by rune rather than with bufio.ScanWords, which fails on a "word"
// longer than its buffer (a binary file).
func countWords(r io.RuneReader) (int64, error) {
	var n int64
	inWord := false
	for {
		c, _, err := r.ReadRune()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("word_count: %w", err)
		}
		space := unicode.IsSpace(c)
		if !space && !inWord {
			n++
		}
		inWord = !space
	}
}

func (wordCount) Merge(ctx context.Context, u *Unit) (any, error) {
	counts, ok := u.Input.([]any)
	if !ok {
		return nil, fmt.Errorf("word_count merge: the input is %T, want an array of numbers", u.Input)
	}
	var sum float64
	for _, c := range counts {
		f, ok := c.(float64) // what encoding/json gives for a number
		if !ok {
			return nil, fmt.Errorf("word_count merge: %v (%T) is not a number", c, c)
		}
		sum += f
	}
	if sum == math.Trunc(sum) && math.Abs(sum) < 1<<53 {
		return int64(sum), nil // exact: print 558804, not 558804.0 or 5.58804e+05
	}
	return sum, nil
}
