package accounts

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// DefaultPollInterval is how often Watch looks at the file. Polling (stat,
// then a hash when it changed) sees in-place writes, renames over the file
// and Kubernetes' ..data symlink swaps alike, which inotify on the file
// alone does not.
const DefaultPollInterval = 500 * time.Millisecond

// rehashEvery forces a content hash now and then even when stat looks the
// same (a same-size in-place write within one mtime tick).
const rehashEvery = 10

// Store holds the current account list. Readers call Current; Reload swaps
// in a new list atomically, so a request sees one whole list or the other.
type Store struct {
	path    string
	prefix  string
	log     *zap.Logger
	current atomic.Pointer[List]

	mu       sync.Mutex // serialises Reload
	lastStat fileStamp
	badHash  [32]byte // content last refused, so it is logged once
	ticks    int
}

type fileStamp struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

// NewStore creates a store for the account file at path. Call Load before
// serving.
func NewStore(path, prefix string, log *zap.Logger) *Store {
	if log == nil {
		log = zap.NewNop()
	}
	s := &Store{path: path, prefix: prefix, log: log}
	s.current.Store(&List{byName: map[string]*Account{}})
	return s
}

// Path is the account file's path.
func (s *Store) Path() string { return s.path }

// Prefix is the configured name prefix.
func (s *Store) Prefix() string { return s.prefix }

// Current returns the list in force. It never returns nil.
func (s *Store) Current() *List { return s.current.Load() }

// Load reads the file and makes it current; unlike Reload it fails when the
// file is invalid, for start-up.
func (s *Store) Load() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.reloadLocked(true)
	return err
}

// Reload re-reads the file if it changed. An invalid file is refused as a
// whole: the last good list stays current and the error is returned (and
// logged once per distinct content). changed reports whether a new list is
// in force.
func (s *Store) Reload() (changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloadLocked(false)
}

func (s *Store) reloadLocked(force bool) (bool, error) {
	s.ticks++
	st, err := stampOf(s.path)
	if err != nil {
		if !force && s.badHash != missing {
			s.badHash = missing
			s.log.Error("account file unreadable; still serving the last good list", zap.String("file", s.path), zap.Error(err))
		}
		return false, fmt.Errorf("account file: %w", err)
	}
	if !force && st == s.lastStat && s.ticks%rehashEvery != 0 {
		return false, nil
	}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return false, fmt.Errorf("account file: %w", err)
	}
	s.lastStat = st
	sum := sha256.Sum256(data)
	if !force && sum == s.Current().Hash {
		s.badHash = [32]byte{} // back to the good content: a new refusal is logged again
		return false, nil
	}
	list, err := Parse(s.path, data, s.prefix)
	if err != nil {
		if sum != s.badHash {
			s.badHash = sum
			s.log.Error("account file refused; still serving the last good list",
				zap.String("file", s.path), zap.Int("accounts_in_force", s.Current().Len()), zap.Error(err))
		}
		return false, err
	}
	s.badHash = [32]byte{}
	s.current.Store(list)
	if !force {
		s.log.Info("account file reloaded", zap.String("file", s.path), zap.Int("accounts", list.Len()))
	}
	return true, nil
}

// Watch polls the file until ctx ends.
func (s *Store) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = s.Reload() // errors are logged once by Reload
		}
	}
}

// missing marks "file unreadable" in badHash so that is logged once too.
var missing = [32]byte{1} // never changed; a var because arrays cannot be const

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path) // follows symlinks: a ..data swap changes the inode
	if err != nil {
		return fileStamp{}, err
	}
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.dev, st.ino = uint64(sys.Dev), sys.Ino
	}
	return st, nil
}
