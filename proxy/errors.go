package proxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Code is one kind of answer the gateway makes itself.
type Code int

const (
	CodeUnauthorized Code = iota + 1
	CodeDenied
	CodeNameInvalid
	CodeDigestInvalid
	CodeNotFound
	CodeMethodNotAllowed
	CodePaginationInvalid
	CodeUnavailable
)

// codes is the one table of OCI error codes, statuses and default messages.
var codes = map[Code]struct {
	name    string
	status  int
	message string
}{
	CodeUnauthorized:      {"UNAUTHORIZED", http.StatusUnauthorized, "authentication required"},
	CodeDenied:            {"DENIED", http.StatusForbidden, "requested access to the resource is denied"},
	CodeNameInvalid:       {"NAME_INVALID", http.StatusBadRequest, "invalid repository name"},
	CodeDigestInvalid:     {"DIGEST_INVALID", http.StatusBadRequest, "invalid digest"},
	CodeNotFound:          {"UNSUPPORTED", http.StatusNotFound, "the gateway does not serve this route"},
	CodeMethodNotAllowed:  {"UNSUPPORTED", http.StatusMethodNotAllowed, "method not allowed on this route"},
	CodePaginationInvalid: {"PAGINATION_NUMBER_INVALID", http.StatusBadRequest, "invalid number of results requested"},
	CodeUnavailable:       {"UNAVAILABLE", http.StatusBadGateway, "the upstream registry is unavailable"},
}

// Error is an answer the gateway makes itself. Message is shown to the
// client; it never holds a password or internal detail.
type Error struct {
	Code    Code
	Message string
	Detail  any
	// Allow lists the methods of a route, for 405.
	Allow []string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", codes[e.Code].name, e.message())
}

func (e *Error) message() string {
	if e.Message != "" {
		return e.Message
	}
	return codes[e.Code].message
}

// Status is the HTTP status of the error.
func (e *Error) Status() int { return codes[e.Code].status }

func newError(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail"`
}

// writeError renders an OCI error body with the registry headers; a 401
// carries the Basic challenge so every client knows to send credentials.
func writeError(w http.ResponseWriter, r *http.Request, realm string, e *Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Docker-Distribution-API-Version", "registry/2.0")
	h.Del("Content-Length")
	if e.Code == CodeUnauthorized {
		h.Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", realm))
	}
	if len(e.Allow) > 0 {
		h.Set("Allow", strings.Join(e.Allow, ", "))
	}
	detail := e.Detail
	if detail == nil {
		detail = struct{}{}
	}
	body, _ := json.Marshal(errorBody{Errors: []errorEntry{{Code: codes[e.Code].name, Message: e.message(), Detail: detail}}})
	h.Set("Content-Length", fmt.Sprint(len(body)+1))
	w.WriteHeader(e.Status())
	if r.Method != http.MethodHead {
		_, _ = w.Write(append(body, '\n'))
	}
}
