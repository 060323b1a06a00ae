package core

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestUnitInput(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{`"abc"`, "abc"},
		{` "a\"b\u00e9" `, `a"bé`},
		{`""`, ""},
		{`"[1, 2]"`, "[1, 2]"}, // a string stays as it is
		{`5`, "5"},
		{`-1.50e3`, "-1.50e3"},
		{`true`, "true"},
		{`{"a": 1}`, `{"a":1}`},
		{"{\n \"b\" : [ 1 , {\"c\" : null} ],\t\"a\": \"x y\" }", `{"b":[1,{"c":null}],"a":"x y"}`},
		{`[1, 2]`, `[1,2]`},
		{`null`, "null"},
	}
	for _, tt := range tests {
		got, err := UnitInput(json.RawMessage(tt.raw))
		if err != nil || got != tt.want {
			t.Errorf("UnitInput(%s) = %q, %v; want %q", tt.raw, got, err, tt.want)
		}
	}
	for _, bad := range []string{``, ` `, `"abc`, `"a" "b"`, `{"a":}`, `[1,]`, `nope`, `{`, `1 2`} {
		if got, err := UnitInput(json.RawMessage(bad)); err == nil {
			t.Errorf("UnitInput(%s) = %q, want an error", bad, got)
		}
	}
}

func TestSplitInputs(t *testing.T) {
	tests := []struct {
		out  string
		want []string
	}{
		{`[[1,2],[3,[4]]]`, []string{"1", "2", "3", "4"}},
		{`["a","b"]`, []string{"a", "b"}},
		{` [ "a" , [ [ "b" ] ] ] `, []string{"a", "b"}},
		{`"abc"`, []string{"abc"}},
		{`7`, []string{"7"}},
		{`null`, nil},
		{`[]`, nil},
		{`[null,[null,[]]]`, nil},
		{`[1.50,1e3,-0,12345678901234567890]`, []string{"1.50", "1e3", "-0", "12345678901234567890"}},
		{`[true,false]`, []string{"true", "false"}},
		{`[{"a":[1,"x"]},["s"]]`, []string{`{"a":[1,"x"]}`, "s"}},
		{`["\u00e9<\n", "\ud83c\udf89"]`, []string{"é<\n", "🎉"}},
		{"[\"x\"]\n", []string{"x"}},
	}
	for _, tt := range tests {
		got, err := SplitInputs([]byte(tt.out))
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitInputs(%s) = %q, %v; want %q", tt.out, got, err, tt.want)
		}
	}
	for _, bad := range []string{``, ` `, `[`, `[1,]`, `{"a":}`, `[1] 2`, `[1]]`, `["a"] ["b"]`, `abc`, `nul`, `"x`} {
		if got, err := SplitInputs([]byte(bad)); err != errNotJSON {
			t.Errorf("SplitInputs(%s) = %q, %v; want errNotJSON", bad, got, err)
		}
	}
}

// decode reads JSON the way SplitInputs does, numbers kept as written.
func decode(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

// flatten lists the non-null leaves of v, arrays opened deeply.
func flatten(v any, out *[]any) {
	switch x := v.(type) {
	case nil:
	case []any:
		for _, e := range x {
			flatten(e, out)
		}
	default:
		*out = append(*out, x)
	}
}

func FuzzSplitInputs(f *testing.F) {
	for _, seed := range []string{
		`[[1,2],[3,[4]]]`, `["a",["b",["c"]]]`, `"abc"`, `null`, `[]`, `[null]`, `[{"a":1},true,1.5e3]`,
		`["\u2028<>&\"\\"]`, `[`, `[1] 2`, ``, `{"a":`, "[\"\xff\"]", `[[[[[[[[[["deep"]]]]]]]]]]`, `[1e400]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := SplitInputs(data)
		if !json.Valid(data) {
			if err == nil {
				t.Fatalf("SplitInputs(%q) accepted invalid JSON: %q", data, got)
			}
			return
		}
		if err != nil {
			t.Fatalf("SplitInputs(%q): %v", data, err)
		}
		v, err := decode(data)
		if err != nil {
			t.Fatalf("valid JSON does not decode: %v", err)
		}
		var want []any
		flatten(v, &want)
		if len(got) != len(want) {
			t.Fatalf("SplitInputs(%q) = %q, want %d units", data, got, len(want))
		}
		for i, leaf := range want {
			if s, ok := leaf.(string); ok {
				// Arrays of strings flatten to exactly those strings.
				if got[i] != s {
					t.Fatalf("SplitInputs(%q)[%d] = %q, want %q", data, i, got[i], s)
				}
				continue
			}
			// Any other leaf becomes its own JSON text.
			back, err := decode([]byte(got[i]))
			if err != nil || !reflect.DeepEqual(back, leaf) {
				t.Fatalf("SplitInputs(%q)[%d] = %q, which does not decode to %v", data, i, got[i], leaf)
			}
		}
	})
}
