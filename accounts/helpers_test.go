package accounts

import (
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/robotgate/robotgate/policy"
)

const testPrefix = "tcr$"

// t0 is the tests' "now": SPEC's example dates are around it.
var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

var (
	hashMu    sync.Mutex
	hashCache = map[string]string{}
)

// hashOf returns a bcrypt hash of pw at the minimum cost (cached: a cost-4
// hash still takes tens of milliseconds under -race).
func hashOf(t testing.TB, pw string) string {
	t.Helper()
	hashMu.Lock()
	defer hashMu.Unlock()
	if h, ok := hashCache[pw]; ok {
		return h
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	require.NoError(t, err)
	hashCache[pw] = string(h)
	return string(h)
}

// acct builds a valid account named tcr$<short> with password pw.
func acct(t testing.TB, short, pw string) *Account {
	t.Helper()
	return &Account{
		Name:         testPrefix + short,
		Description:  "account " + short,
		PasswordHash: hashOf(t, pw),
		CreatedAt:    t0.Add(-48 * time.Hour),
		UpdatedAt:    t0.Add(-24 * time.Hour),
		Grants:       []policy.Grant{{Namespace: "team-" + short, Level: policy.LevelReadWrite}},
	}
}

// listOf turns accounts into a List the way the gateway gets one: encoded
// to a file's bytes and parsed back.
func listOf(t testing.TB, accts ...*Account) *List {
	t.Helper()
	l, err := Parse("accounts.toml", Encode(accts), testPrefix)
	require.NoError(t, err)
	return l
}

// writeAccounts writes accounts to path (0600) and returns the bytes.
func writeAccounts(t testing.TB, path string, accts ...*Account) []byte {
	t.Helper()
	data := Encode(accts)
	require.NoError(t, os.WriteFile(path, data, FileMode))
	return data
}

// fakeLister is a one-method Lister whose list a test swaps.
type fakeLister struct{ list atomic.Pointer[List] }

func (f *fakeLister) Current() *List { return f.list.Load() }

func newFakeLister(l *List) *fakeLister {
	f := &fakeLister{}
	f.list.Store(l)
	return f
}

// countingAuth returns an authenticator with a cheap dummy hash, a fixed
// clock at t0 (settable through the returned pointer) and a counter of
// bcrypt compares.
func countingAuth(t testing.TB, l Lister) (a *Authenticator, compares *atomic.Int64, clock *atomic.Pointer[time.Time]) {
	t.Helper()
	a, err := newAuthenticator(l, 64, bcrypt.MinCost)
	require.NoError(t, err)
	compares = &atomic.Int64{}
	a.compare = func(hash, pw []byte) error {
		compares.Add(1)
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	clock = &atomic.Pointer[time.Time]{}
	now := t0
	clock.Store(&now)
	a.now = func() time.Time { return *clock.Load() }
	return a, compares, clock
}

// newTestEditor returns an editor on accounts.toml in a fresh directory,
// hashing at the minimum cost.
func newTestEditor(t testing.TB) *Editor {
	t.Helper()
	return &Editor{Path: filepath.Join(t.TempDir(), "accounts.toml"), Prefix: testPrefix, cost: bcrypt.MinCost}
}

// readList parses the file at path.
func readList(t testing.TB, path string) *List {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	l, err := Parse(path, data, testPrefix)
	require.NoError(t, err)
	return l
}

// utc normalises an account's times so require.Equal compares instants,
// not *time.Location pointers.
func utc(a *Account) *Account {
	c := a.clone()
	c.CreatedAt, c.UpdatedAt, c.PreviousUntil = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), c.PreviousUntil.UTC()
	if c.ExpiresAt != nil {
		e := c.ExpiresAt.UTC()
		c.ExpiresAt = &e
	}
	if len(c.Grants) == 0 {
		c.Grants = nil
	}
	return c
}

func utcAll(as []*Account) []*Account {
	out := make([]*Account, len(as))
	for i, a := range as {
		out[i] = utc(a)
	}
	return out
}
