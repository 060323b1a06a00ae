package actors

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/documentcloud/crowd/core"
)

// The completion callback (SPEC §5): POST job=<Job JSON> to callback_url. A
// 201 deletes the job, as in CloudCrowd; a connection error, a timeout or a
// 5xx is tried again after 1 s, 2 s, 4 s ... up to callback_retries tries.
// The job's core remembers that a callback is pending until it is settled,
// so a restart sends it again.
//
// Each completion starts a round of tries. A retried job completes again
// and starts a new round: the answers and timers of an older round are
// ignored.

type callbackDone struct {
	round, try int
	status     int
	err        error
}

type callbackRetry struct{ round int }

func (a *jobActor) maybeCallback(ctx actor.Context) {
	if a.job.Callback == core.CallbackPending && !a.job.Deleted {
		a.callbackRound++
		a.callbackTry = 0
		a.sendCallback(ctx)
	}
}

// callbackCurrent reports whether a message of round is about the callback
// the job is waiting on.
func (a *jobActor) callbackCurrent(round int) bool {
	return round == a.callbackRound && a.job.Callback == core.CallbackPending && !a.job.Deleted
}

func (a *jobActor) sendCallback(ctx actor.Context) {
	a.callbackTry++
	view := a.job.View(a.c.now())
	body := "job=" + url.QueryEscape(string(view.AppendJSON(nil)))
	self, root, target := ctx.Self(), a.c.sys.Root, a.job.CallbackURL
	round, try := a.callbackRound, a.callbackTry
	client := a.c.callbackClient
	go func() {
		status, err := postCallback(client, target, body)
		root.Send(self, &callbackDone{round: round, try: try, status: status, err: err})
	}()
}

func postCallback(client *http.Client, target, body string) (int, error) {
	resp, err := client.Post(target, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (a *jobActor) callbackDone(ctx actor.Context, m *callbackDone) {
	if !a.callbackCurrent(m.round) || m.try != a.callbackTry {
		return
	}
	log := a.c.log.With("job", a.job.ID, "callback_url", a.job.CallbackURL, "try", m.try)
	switch {
	case m.err == nil && m.status == http.StatusCreated:
		log.Info("callback delivered; 201 deletes the job")
		ev, _ := a.job.Delete() // not deleted: checked above
		a.commit(ctx, ev, nil)
	case m.err == nil && m.status/100 == 2:
		a.settleCallback(ctx, true)
	case m.err == nil && m.status < 500:
		log.Warn("callback refused; not retried", "status", m.status)
		a.settleCallback(ctx, false)
	case m.try < a.c.set.CallbackRetries:
		wait := a.c.set.CallbackBackoff << (m.try - 1)
		log.Warn("callback failed; will retry", "status", m.status, "err", errText(m.err), "in", wait)
		self, root, retry := ctx.Self(), a.c.sys.Root, callbackRetry{round: m.round}
		time.AfterFunc(wait, func() { root.Send(self, retry) })
	default:
		log.Error("callback failed; giving up", "status", m.status, "err", errText(m.err))
		a.settleCallback(ctx, false)
	}
}

// settleCallback records the end of the callback's tries; once that is
// durable the job can retire.
func (a *jobActor) settleCallback(ctx actor.Context, delivered bool) {
	self, root := ctx.Self(), a.c.sys.Root
	a.commit(ctx, a.job.SettleCallback(delivered), func(err error) {
		a.logJournalError(err)
		if err == nil {
			root.Send(self, callbackSettled{})
		}
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprint(err)
}
