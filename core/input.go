package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// UnitInput turns one element of a job's inputs into a unit's input: a JSON
// string is sent as-is, any other value as its compact JSON text (5 -> "5").
func UnitInput(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", err
	}
	return buf.String(), nil
}

var errNotJSON = errors.New("split output is not JSON")

// SplitInputs flattens a split's output deeply into processing inputs, as
// CloudCrowd's [output].flatten did: a scalar makes one unit, nested arrays
// are opened, and null makes none (a split that returns nothing adds nothing).
func SplitInputs(output []byte) ([]string, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(output))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, errNotJSON
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errNotJSON // Decode stops after one value: refuse what follows it
	}
	var inputs []string
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		case nil:
		case string:
			inputs = append(inputs, x)
		default:
			b, err := json.Marshal(x)
			if err != nil {
				return err
			}
			inputs = append(inputs, string(b))
		}
		return nil
	}
	if err := walk(v); err != nil {
		return nil, err
	}
	return inputs, nil
}
