package transport

import "testing"

func TestUnwrapOutput(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{``, `null`},
		{`{"output":3}`, `3`},
		{` { "output" : [1, 2] } `, `[1,2]`},
		{`{"output":"a } b"}`, `"a } b"`},
		{`{"output":{"k":"v"}}`, `{"k":"v"}`},
		{`{"output":null}`, `null`},
		{`{}`, `null`},
		{`{"x":1,"output":"late"}`, `"late"`},
		{`{"output":1,"x":2}`, `1`},
	} {
		got, err := unwrapOutput([]byte(c.in))
		if err != nil || string(got) != c.want {
			t.Errorf("unwrapOutput(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{`not json`, `[1]`, `"output"`, `{"output":}`, `{"output":1`, `{"output":tru}`} {
		if got, err := unwrapOutput([]byte(in)); err == nil {
			t.Errorf("unwrapOutput(%q) = %q, want an error", in, got)
		}
	}
}
