package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/config"
	"github.com/documentcloud/crowd/wire"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes of the client commands: 1 for any error (main's code; for
// crowd submit, only a failed job), 2 for a command line that cannot work,
// and for crowd submit 3 when it could not learn the job's outcome.
const (
	exitUsage     = 2
	exitNoOutcome = 3
)

func submitCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "submit --action NAME [flags] INPUT...",
		Short: "Submit a job and print it; with --wait, follow it to the end and print its outputs",
		Long: `Submit a job (POST /jobs with job=<JSON>, as CloudCrowd's clients do): one
unit per INPUT, run by the action NAME. It prints the job as JSON.

With --wait it shows the job's progress on standard error until the job is
complete, then prints its outputs (one line of JSON) on standard output, after
the job's line. While the coordinator cannot be reached or answers 5xx (it is
restarting, say) it keeps trying, telling so on standard error, for up to
--unreachable-timeout; the job itself survives a restart of the coordinator.

INPUTs are strings (URLs, text); with --json-inputs each INPUT is read as JSON.

Exit codes:
  0  the job was submitted (with --wait: it succeeded)
  1  with --wait: the job failed (its outputs are printed all the same)
  2  a usage error: a flag, an INPUT or the configuration cannot work
  3  no outcome: the coordinator could not be reached (with --wait, for longer
     than --unreachable-timeout) or refused the job, the job was deleted
     while waiting, or the wait was interrupted`,
		Example: `  crowd submit --action word_count --wait https://example.org/a.txt https://example.org/b.txt
  crowd submit --action graphics_magick --options '{"steps":[...]}' file:///data/in.png`,
	}
	fs := cmd.Flags()
	cc := addClientFlags(fs)
	actionName := fs.String("action", "", "the action to run (required)")
	options := fs.String("options", "", "the job's options, a JSON object")
	callback := fs.String("callback-url", "", "a URL that receives the job when it is complete")
	email := fs.String("email", "", "an email address kept with the job")
	wait := fs.Bool("wait", false, "follow the job until it is complete, then print its outputs")
	jsonInputs := fs.Bool("json-inputs", false, "read each INPUT as JSON rather than as a string")
	poll := fs.Duration("poll", client.DefaultPoll, "with --wait: how often to read the job")
	unreachable := fs.Duration("unreachable-timeout", client.DefaultOutage,
		"with --wait: how long the coordinator may stay unreachable before the command gives up (exit 3); 0 gives up at once")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { usageExit(c, err); return nil })
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if *actionName == "" {
			usageExit(cmd, errors.New("--action is required"))
		}
		job := client.Job{Action: *actionName, Inputs: make([]any, len(args)), CallbackURL: *callback, Email: *email}
		for i, a := range args {
			job.Inputs[i] = a
			if *jsonInputs {
				var v any
				if err := json.Unmarshal([]byte(a), &v); err != nil {
					usageExit(cmd, fmt.Errorf("input %d (%q) is not JSON: %v", i+1, a, err))
				}
				job.Inputs[i] = v
			}
		}
		if *options != "" {
			var obj map[string]any
			if err := json.Unmarshal([]byte(*options), &obj); err != nil || obj == nil {
				usageExit(cmd, fmt.Errorf("--options must be a JSON object: %q", *options))
			}
			job.Options = json.RawMessage(*options)
		}
		if *unreachable < 0 {
			usageExit(cmd, fmt.Errorf("--unreachable-timeout must not be negative: %v", *unreachable))
		}
		c, _, err := cc.client(cmd)
		if err != nil {
			failExit(cmd, exitUsage, err)
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		j, err := c.Submit(ctx, job)
		if err != nil {
			failExit(cmd, exitNoOutcome, err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s\n", j.AppendJSON(nil))
		if !*wait {
			return nil
		}
		outage := *unreachable
		if outage == 0 {
			outage = -1 // client.WaitOptions: no retry
		}
		final, err := follow(ctx, c, j, *poll, outage)
		switch {
		case errors.Is(err, client.ErrNotFound):
			failExit(cmd, exitNoOutcome, fmt.Errorf("waiting for job %d: the job no longer exists (deleted meanwhile): %w", j.ID, err))
		case err != nil:
			failExit(cmd, exitNoOutcome, fmt.Errorf("waiting for job %d: %w", j.ID, err))
		}
		outputs := final.Outputs
		if len(outputs) == 0 {
			outputs = json.RawMessage("[]")
		}
		var line bytes.Buffer
		if err := json.Compact(&line, outputs); err != nil {
			line.Reset()
			line.Write(outputs)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s\n", line.Bytes())
		if final.Status != "succeeded" {
			return fmt.Errorf("job %d %s", final.ID, final.Status) // main exits 1
		}
		return nil
	}
	return cmd
}

// follow waits for the job to complete, drawing a progress bar on standard
// error: percent, the phase and its units, and the time elapsed. It retries
// while the coordinator is unavailable, for up to outage (see
// client.WaitOptions), with a line on standard error when the coordinator
// stops answering and one when it answers again.
func follow(ctx context.Context, c *client.Client, j wire.Job, poll, outage time.Duration) (wire.Job, error) {
	bar := progressbar.NewOptions(100,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(describe(j)),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
	)
	units := j.WorkUnits
	final, err := c.WaitWith(ctx, j.ID, client.WaitOptions{
		Poll:   poll,
		Outage: outage,
		Progress: func(j wire.Job) {
			if j.WorkUnits == 0 { // complete: keep showing the last phase's units
				j.WorkUnits = units
			}
			units = j.WorkUnits
			bar.Describe(describe(j))
			bar.Set(j.PercentComplete)
		},
		Unavailable: func(err error) {
			bar.Clear()
			fmt.Fprintf(os.Stderr, "crowd submit: the coordinator is unreachable (%v); retrying for up to %v\n", err, outage)
		},
		Available: func(down time.Duration) {
			bar.Clear()
			fmt.Fprintf(os.Stderr, "crowd submit: the coordinator answers again (after %v)\n", down.Round(100*time.Millisecond))
		},
	})
	if err == nil {
		bar.Finish()
	}
	fmt.Fprintln(os.Stderr)
	return final, err
}

// describe is the progress bar's label: "job 7 processing, 10 units".
func describe(j wire.Job) string {
	s := fmt.Sprintf("job %d %s", j.ID, j.Status)
	if j.WorkUnits > 0 {
		unit := "units"
		if j.WorkUnits == 1 {
			unit = "unit"
		}
		s += fmt.Sprintf(", %d %s", j.WorkUnits, unit)
	}
	return s
}

// clientFlags are the flags of the commands that talk to a coordinator.
type clientFlags struct {
	config *configFlags
	fs     *pflag.FlagSet
	user   *string
}

func addClientFlags(fs *pflag.FlagSet) *clientFlags {
	def := config.Default()
	fs.String("server", def.CentralServer, "the coordinator's URL (central_server), or its cluster nodes' URLs, comma-separated")
	cf := &clientFlags{fs: fs}
	cf.user = fs.String("user", "", "credentials LOGIN:PASSWORD (else login and password from the config file, or CROWD_LOGIN and CROWD_PASSWORD)")
	cf.config = newConfigFlags(fs, map[string]string{"server": "central_server"})
	return cf
}

// client loads the configuration and returns a client of its coordinator
// with its credentials; --user wins over the configuration's.
func (cf *clientFlags) client(cmd *cobra.Command) (*client.Client, config.Config, error) {
	return cf.clientWithTimeout(cmd, 0)
}

// clientWithTimeout is client with a request timeout of its own, when
// timeout is set, instead of server_timeout.
func (cf *clientFlags) clientWithTimeout(cmd *cobra.Command, timeout time.Duration) (*client.Client, config.Config, error) {
	cfg, err := cf.config.load(cf.fs, newLogger())
	if err != nil {
		return nil, cfg, err
	}
	if timeout > 0 {
		cfg.ServerTimeout = timeout
	}
	if *cf.user != "" {
		login, password, ok := strings.Cut(*cf.user, ":")
		if !ok || login == "" {
			usageExit(cmd, errors.New("--user must be LOGIN:PASSWORD"))
		}
		cfg.Login, cfg.Password = login, password
	}
	c, err := client.New(cfg.CentralServer, client.Options{Login: cfg.Login, Password: cfg.Password, Timeout: cfg.ServerTimeout})
	return c, cfg, err
}

// failExit reports an error that ends the command and exits with code.
func failExit(cmd *cobra.Command, code int, err error) {
	fmt.Fprintf(cmd.ErrOrStderr(), "crowd %s: %v\n", cmd.Name(), err)
	os.Exit(code)
}

// usageExit reports a command line that cannot work and exits 2.
func usageExit(cmd *cobra.Command, err error) {
	fmt.Fprintf(cmd.ErrOrStderr(), "crowd %s: %v\nRun 'crowd %s --help' for usage.\n", cmd.Name(), err, cmd.Name())
	os.Exit(exitUsage)
}
