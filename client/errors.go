package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/valyala/fasthttp"
)

// Error is an HTTP error answer of the coordinator.
type Error struct {
	Code    int    // the HTTP status code
	Message string // the answer's {"error": ...}, or its text
	Method  string // the request's method
	Path    string // the request's path
}

// Error reads like "client: PUT /work/7: 409 Conflict: <message>".
func (e *Error) Error() string {
	s := "client: " + e.Method + " " + e.Path + ": " + strconv.Itoa(e.Code) + " " + fasthttp.StatusMessage(e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is matches the sentinel of e's status code: ErrNotFound for 404,
// ErrConflict for 409 and ErrUnauthorized for 401.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == fasthttp.StatusNotFound
	case ErrConflict:
		return e.Code == fasthttp.StatusConflict
	case ErrUnauthorized:
		return e.Code == fasthttp.StatusUnauthorized
	}
	return false
}

// Sentinels for errors.Is on an *Error.
var (
	// ErrNotFound: 404, the job, unit or route is unknown.
	ErrNotFound = errors.New("client: not found")
	// ErrConflict: 409, the unit is not leased to this worker (any more).
	ErrConflict = errors.New("client: conflict")
	// ErrUnauthorized: 401, credentials are missing or wrong.
	ErrUnauthorized = errors.New("client: unauthorized")
)

// answerError builds the *Error of an error answer; body is copied.
func answerError(rt route, code int, body []byte) *Error {
	e := &Error{Code: code, Method: rt.method, Path: rt.path}
	if rt.hasID {
		e.Path += strconv.FormatInt(rt.id, 10)
	}
	body = bytes.TrimSpace(body)
	var doc struct {
		Error *string `json:"error"`
	}
	if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &doc) == nil && doc.Error != nil {
		e.Message = *doc.Error
	} else {
		e.Message = string(body)
	}
	return e
}

// unavailableError is a request that got no answer.
type unavailableError struct {
	route route
	err   error
}

func (e *unavailableError) Error() string {
	return "client: " + e.route.String() + ": " + e.err.Error()
}
func (e *unavailableError) Unwrap() error { return e.err }

// IsUnavailable reports whether err means the coordinator could not be
// reached or could not answer (a connection error, a timeout of the
// client's own Timeout, a 5xx answer): worth retrying later. It is false
// for other answers (404, 409, ...), for a done context, and for nil.
func IsUnavailable(err error) bool {
	var u *unavailableError
	if errors.As(err, &u) {
		return true
	}
	var e *Error
	return errors.As(err, &e) && e.Code >= 500
}
