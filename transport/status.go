package transport

import (
	"strconv"

	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/wire"
	"github.com/valyala/fasthttp"
)

// GET /status: the incomplete jobs (the oldest Settings.StatusJobs of them),
// the live workers and the number of incomplete units, as CloudCrowd
// answered, then counts that stay true when the job list is capped.
func (s *Server) status(ctx *fasthttp.RequestCtx) {
	v, err := s.co.Status()
	if err != nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
		return
	}
	ctx.SetContentType(jsonType)
	setBody(ctx, func(b []byte) []byte { return appendStatus(b, &v) })
}

func appendStatus(b []byte, v *actors.StatusView) []byte {
	b = append(b, `{"jobs":[`...)
	for i := range v.Jobs {
		if i > 0 {
			b = append(b, ',')
		}
		b = v.Jobs[i].AppendJSON(b)
	}
	b = append(b, `],"workers":[`...)
	for i, w := range v.Workers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = wire.AppendString(b, w.Name)
		b = append(b, `,"status":`...)
		if w.Status == "" {
			b = append(b, "null"...)
		} else {
			b = wire.AppendString(b, w.Status)
		}
		b = append(b, '}')
	}
	b = append(b, `],"work_unit_count":`...)
	b = strconv.AppendInt(b, int64(v.WorkUnitCount), 10)
	b = append(b, `,"job_count":`...)
	b = strconv.AppendInt(b, int64(v.JobCount), 10)
	b = append(b, `,"jobs_by_status":{`...)
	for i, name := range []string{"processing", "succeeded", "failed", "splitting", "merging"} {
		if i > 0 {
			b = append(b, ',')
		}
		b = wire.AppendString(b, name)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(v.JobsByStatus[name]), 10)
	}
	b = append(b, `},"units":{"ready":`...)
	b = strconv.AppendInt(b, int64(v.Units.Ready), 10)
	b = append(b, `,"leased":`...)
	b = strconv.AppendInt(b, int64(v.Units.Leased), 10)
	b = append(b, `,"waiting":`...)
	b = strconv.AppendInt(b, int64(v.Units.Waiting), 10)
	return append(b, "}}"...)
}
