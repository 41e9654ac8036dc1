package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// LastUsedFlushInterval is how often the gateway writes last-used times.
const LastUsedFlushInterval = time.Minute

// LastUsedPath is the state file beside an account file. It is the
// gateway's, not the operator's, so it never lives in the account file.
func LastUsedPath(accountFile string) string { return accountFile + ".lastused.json" }

type lastUsedDoc struct {
	LastUsed map[string]time.Time `json:"last_used"`
}

// LastUsed records when each account last authenticated, in memory, and
// flushes the times to its state file (merging with what other replicas
// wrote: the later time wins).
type LastUsed struct {
	path  string
	mu    sync.Mutex
	dirty map[string]time.Time
}

// NewLastUsed tracks last-used times for the state file at path.
func NewLastUsed(path string) *LastUsed {
	return &LastUsed{path: path, dirty: map[string]time.Time{}}
}

// Touch records a successful login; it costs a map write, no I/O.
func (l *LastUsed) Touch(name string, at time.Time) {
	l.mu.Lock()
	if at.After(l.dirty[name]) {
		l.dirty[name] = at
	}
	l.mu.Unlock()
}

// Flush merges the recorded times into the state file. When that fails the
// times stay pending for the next Flush.
func (l *LastUsed) Flush() (err error) {
	l.mu.Lock()
	pending := l.dirty
	l.dirty = map[string]time.Time{}
	l.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	defer func() {
		if err != nil {
			for name, t := range pending {
				l.Touch(name, t)
			}
		}
	}()
	unlock, err := lock(l.path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	doc, err := ReadLastUsed(l.path)
	if err != nil {
		doc = map[string]time.Time{} // a damaged state file is rebuilt, never fatal
	}
	for name, t := range pending {
		if t.After(doc[name]) {
			doc[name] = t.UTC().Truncate(time.Second)
		}
	}
	data, err := json.MarshalIndent(lastUsedDoc{LastUsed: doc}, "", "  ")
	if err != nil {
		return err
	}
	return (&Editor{}).replace(l.path, append(data, '\n'), FileMode)
}

// Run flushes every interval until ctx ends, then once more.
func (l *LastUsed) Run(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := l.Flush(); err != nil && onErr != nil {
				onErr(err)
			}
			return
		case <-t.C:
			if err := l.Flush(); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}

// ReadLastUsed reads a state file; a missing file is empty.
func ReadLastUsed(path string) (map[string]time.Time, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]time.Time{}, nil
	}
	if err != nil {
		return nil, err
	}
	var doc lastUsedDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if doc.LastUsed == nil {
		doc.LastUsed = map[string]time.Time{}
	}
	return doc.LastUsed, nil
}
