package wire

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestColor(t *testing.T) {
	tests := []struct {
		id   int64
		want string
	}{{1, "f75849"}, {2, "c14862"}, {11, "2652dc"}, {42, "4ac58a"}}
	for _, tt := range tests {
		if got := Color(tt.id); got != tt.want {
			t.Errorf("Color(%d) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

// jsonStrings are strings worth encoding; all are valid UTF-8.
func jsonStrings() []string {
	s := []string{
		"", "plain", `"`, `\`, `a"b\c`, "\n\r\t", "\b\f", "\x00", "\x1f", "\x7f",
		"<script>alert('&')</script>", "é ü 日本語 🎉", "\u2028", "\u2029", "a\u2028b\u2029c",
		"\u2027\u202a\u202f", "€", "\ufffd", "\u00a0", "end\\", "tab\there", "\"quoted\"",
		strings.Repeat("x", 100) + "\n",
	}
	var all strings.Builder
	for c := range 0x20 {
		all.WriteByte(byte(c))
		s = append(s, string(rune(c)), "a"+string(rune(c))+"b")
	}
	return append(s, all.String())
}

func TestAppendString(t *testing.T) {
	for _, s := range jsonStrings() {
		got := AppendString([]byte("prefix:"), s)
		if !strings.HasPrefix(string(got), "prefix:") {
			t.Fatalf("AppendString dropped what b held: %q", got)
		}
		got = got[len("prefix:"):]
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Errorf("AppendString(%q) = %s, decodes to %q, %v", s, got, back, err)
		}
		want, _ := json.Marshal(s)
		if string(got) != string(want) {
			t.Errorf("AppendString(%q) = %s, json.Marshal gives %s", s, got, want)
		}
	}
}

func TestAppendStringInvalidUTF8(t *testing.T) {
	// Invalid bytes are kept as they are; what JSON needs escaped still is.
	tests := []struct{ in, want string }{
		{"\xff", "\"\xff\""},
		{"a\xe2\x80", "\"a\xe2\x80\""}, // a cut U+2028
		{"\xe2\x80\"", "\"\xe2\x80\\\"\""},
		{"\xc3<", "\"\xc3\\u003c\""},
	}
	for _, tt := range tests {
		if got := string(AppendString(nil, tt.in)); got != tt.want {
			t.Errorf("AppendString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range jsonStrings() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString(nil, s)
		if !utf8.ValidString(s) {
			return
		}
		want, _ := json.Marshal(s)
		if string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, json.Marshal gives %s", s, got, want)
		}
	})
}

func TestJobAppendJSON(t *testing.T) {
	email, empty := "a@b.c", ""
	tests := []struct {
		name string
		job  Job
		want string
	}{
		{"running", Job{ID: 11, Color: "2652dc", Status: "processing", PercentComplete: 40, WorkUnits: 5, TimeTaken: 1.25},
			`{"id":11,"color":"2652dc","status":"processing","percent_complete":40,"work_units":5,"time_taken":1.25}`},
		{"complete with email", Job{ID: 11, Color: "2652dc", Status: "succeeded", PercentComplete: 100, TimeTaken: 3, Outputs: []byte(`[1,"a"]`), Email: &email},
			`{"id":11,"color":"2652dc","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":3,"outputs":[1,"a"],"email":"a@b.c"}`},
		{"empty email, empty outputs", Job{ID: 1, Color: "f75849", Status: "succeeded", PercentComplete: 100, Outputs: []byte(`[]`), Email: &empty},
			`{"id":1,"color":"f75849","status":"succeeded","percent_complete":100,"work_units":0,"time_taken":0,"outputs":[],"email":""}`},
		{"email only", Job{ID: 2, Color: "c14862", Status: "merging", PercentComplete: 99, WorkUnits: 1, TimeTaken: 0.1 + 0.2, Email: &email},
			`{"id":2,"color":"c14862","status":"merging","percent_complete":99,"work_units":1,"time_taken":0.3,"email":"a@b.c"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.job.AppendJSON(nil))
			if got != tt.want {
				t.Fatalf("\n got %s\nwant %s", got, tt.want)
			}
			var back Job
			if err := json.Unmarshal([]byte(got), &back); err != nil {
				t.Fatal(err)
			}
			if back.ID != tt.job.ID || back.Status != tt.job.Status || (back.Email == nil) != (tt.job.Email == nil) {
				t.Fatalf("decoded %+v", back)
			}
		})
	}
}

func TestWorkUnitAppendJSON(t *testing.T) {
	tests := []struct {
		unit WorkUnit
		want string
	}{
		{WorkUnit{ID: 7, JobID: 3, Input: "http://x/a.pdf", Attempts: 0, Action: "word_count", Options: []byte(`{"a":1}`), Status: 1},
			`{"id":7,"job_id":3,"input":"http://x/a.pdf","attempts":0,"action":"word_count","options":{"a":1},"status":1}`},
		{WorkUnit{ID: 8, JobID: 3, Input: `["a","b"]`, Attempts: 2, Action: "m", Status: 5},
			`{"id":8,"job_id":3,"input":"[\"a\",\"b\"]","attempts":2,"action":"m","options":{},"status":5}`},
		{WorkUnit{ID: 9, JobID: 4, Input: "<\n>", Action: "s", Options: []byte{}, Status: 4},
			`{"id":9,"job_id":4,"input":"\u003c\n\u003e","attempts":0,"action":"s","options":{},"status":4}`},
	}
	for _, tt := range tests {
		got := string(tt.unit.AppendJSON(nil))
		if got != tt.want {
			t.Errorf("\n got %s\nwant %s", got, tt.want)
			continue
		}
		var back WorkUnit
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Fatal(err)
		}
		want := tt.unit
		if len(want.Options) == 0 {
			want.Options = []byte("{}")
		}
		if !reflect.DeepEqual(back, want) {
			t.Errorf("decoded %+v, want %+v", back, want)
		}
	}
}

func TestAppendSeconds(t *testing.T) {
	tests := []struct {
		s    float64
		want string
	}{
		{0, "0"}, {1.25, "1.25"}, {0.1 + 0.2, "0.3"}, {3, "3"}, {1e-7, "0"}, {2.5e-6, "0.000003"},
		{123456.7890124, "123456.789012"}, {86400.5, "86400.5"},
	}
	for _, tt := range tests {
		if got := string(AppendSeconds(nil, tt.s)); got != tt.want {
			t.Errorf("AppendSeconds(%v) = %s, want %s", tt.s, got, tt.want)
		}
	}
}
