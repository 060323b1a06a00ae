package client_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/wire"
	"github.com/valyala/fasthttp"
)

// BenchmarkDequeueComplete is a worker's loop against a real coordinator:
// each iteration completes a unit and receives the next. allocs/op counts
// the coordinator's allocations too (it runs in the same process); see
// BenchmarkClientDequeueComplete for the client's own.
func BenchmarkDequeueComplete(b *testing.B) {
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"background", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
		{"cancellable", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := newClient(b, startServer(b, nil), client.Options{})
			ctx, cancel := tc.ctx()
			defer cancel()
			out := json.RawMessage(`"done"`)
			var u *wire.WorkUnit
			next := func() {
				b.StopTimer()
				in := make([]any, 10000)
				for i := range in {
					in[i] = "x"
				}
				if _, err := c.Submit(context.Background(), client.Job{Action: "graphics_magick", Inputs: in}); err != nil {
					b.Fatal(err)
				}
				var err error
				if u, err = dequeue(b, c, "w", "graphics_magick"); err != nil || u == nil {
					b.Fatal(u, err)
				}
				b.StartTimer()
			}
			next()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				var err error
				u, err = c.Complete(ctx, u.ID, "w", "graphics_magick", client.Result{Succeeded: true, Output: out, Time: 1})
				if err != nil {
					b.Fatal(err)
				}
				if u == nil {
					next()
				}
			}
		})
	}
}

// BenchmarkClientDequeueComplete is the same loop against a server that
// answers every request with the same unit without allocating, so that
// allocs/op is the client's (all of them encoding/json's, decoding the
// unit).
func BenchmarkClientDequeueComplete(b *testing.B) {
	unit := (&wire.WorkUnit{ID: 7, JobID: 3, Input: "https://example.org/a.txt", Action: "word_count",
		Options: json.RawMessage(`{"lang":"en"}`), Status: 1}).AppendJSON(nil)
	addr := fakeServer(b, func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentTypeBytes([]byte("application/json"))
		ctx.SetBody(unit)
	})
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"background", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }},
		{"cancellable", func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := newClient(b, "http://"+addr, client.Options{Login: "admin", Password: "s3cret"})
			ctx, cancel := tc.ctx()
			defer cancel()
			out := json.RawMessage(`{"words":` + strings.Repeat("1", 5) + `}`)
			u, err := c.Dequeue(ctx, "1234@host-1.example", "word_count,graphics_magick")
			if err != nil || u == nil {
				b.Fatal(u, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if u, err = c.Complete(ctx, u.ID, "1234@host-1.example", "word_count,graphics_magick",
					client.Result{Succeeded: true, Output: out, Time: 1}); err != nil || u == nil {
					b.Fatal(u, err)
				}
			}
		})
	}
}
