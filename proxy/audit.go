package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// recorder wraps the ResponseWriter to count what went out and collects the
// fields of the request's one audit line (SPEC section 5).
type recorder struct {
	http.ResponseWriter
	g        *Gateway
	r        *http.Request
	start    time.Time
	id       string
	status   int
	out      int64
	in       *countingBody
	user     string
	rt       Route
	decision string
	reason   string
	notes    []zap.Field
}

func (g *Gateway) begin(w http.ResponseWriter, r *http.Request) *recorder {
	rec := &recorder{ResponseWriter: w, g: g, r: r, start: time.Now(), id: requestID(), user: "anonymous"}
	if r.Body != nil && r.Body != http.NoBody {
		rec.in = &countingBody{ReadCloser: r.Body}
		r.Body = rec.in
	}
	w.Header().Set("X-Request-Id", rec.id)
	return rec
}

func (rec *recorder) route(rt Route)              { rec.rt = rt }
func (rec *recorder) account(name string)         { rec.user = name }
func (rec *recorder) allow(reason string)         { rec.decision, rec.reason = "allow", reason }
func (rec *recorder) deny(reason string)          { rec.decision, rec.reason = "deny", reason }
func (rec *recorder) note(key, value string)      { rec.notes = append(rec.notes, zap.String(key, value)) }
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 && code >= 200 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.out += int64(n)
	return n, err
}

// Flush keeps streaming working for callers that type-assert http.Flusher.
func (rec *recorder) Flush() {
	_ = http.NewResponseController(rec.ResponseWriter).Flush()
}

// finish writes the audit line. The path is logged without its query (which
// can carry upload state), and no credential ever reaches the log.
func (rec *recorder) finish() {
	if !rec.g.log.Core().Enabled(zapcore.InfoLevel) {
		return
	}
	var in int64
	if rec.in != nil {
		in = rec.in.n.Load()
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	fields := []zap.Field{
		zap.String("request_id", rec.id),
		zap.String("remote", rec.r.RemoteAddr),
		zap.String("account", rec.user),
		zap.String("method", rec.r.Method),
		zap.String("path", rec.r.URL.Path),
		zap.String("decision", rec.decision),
		zap.String("reason", rec.reason),
		zap.Int("status", status),
		zap.Int64("bytes_in", in),
		zap.Int64("bytes_out", rec.out),
		zap.Duration("duration", time.Since(rec.start)),
	}
	if rec.rt.Endpoint != 0 {
		fields = append(fields, zap.String("endpoint", rec.rt.Endpoint.String()), zap.String("action", rec.rt.Action.String()))
	}
	if rec.rt.Repository != "" {
		fields = append(fields, zap.String("namespace", rec.rt.Namespace), zap.String("repository", rec.rt.Repository))
	}
	if d := rec.Header().Get("Docker-Content-Digest"); d != "" {
		fields = append(fields, zap.String("digest", d))
	}
	rec.g.log.Info("request", append(fields, rec.notes...)...)
}

type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
