package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/wire"
)

// Submit a job, as `crowd submit --wait` does, and wait until it is
// complete, printing its progress. It needs a coordinator listening on
// CloudCrowd's port, so it is compiled but not run.
func ExampleClient_Submit() {
	c, err := client.New("http://localhost:9173", client.Options{Timeout: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()

	job, err := c.Submit(ctx, client.Job{
		Action: "word_count",
		Inputs: []any{"https://example.org/a.txt", "https://example.org/b.txt"},
	})
	if err != nil {
		log.Fatal(err)
	}
	job, err = c.Wait(ctx, job.ID, 0, func(j wire.Job) {
		fmt.Printf("job %d: %s, %d%%\n", j.ID, j.Status, j.PercentComplete)
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("job %d %s: %s\n", job.ID, job.Status, job.Outputs)
}
