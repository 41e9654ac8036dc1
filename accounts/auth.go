package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/singleflight"
)

var (
	// ErrInvalidCredentials is the one answer for an unknown name and a
	// wrong password alike.
	ErrInvalidCredentials = errors.New("invalid username or password")
	// ErrDisabled and ErrExpired are returned only to a caller who gave the
	// account's correct password.
	ErrDisabled = errors.New("service account is disabled")
	ErrExpired  = errors.New("service account has expired")
)

// AccountError carries the account a correct password unlocked, for
// ErrDisabled and ErrExpired.
type AccountError struct {
	Account *Account
	Err     error
}

func (e *AccountError) Error() string { return fmt.Sprintf("account %s: %v", e.Account.Name, e.Err) }
func (e *AccountError) Unwrap() error { return e.Err }

// Lister returns the account list in force.
type Lister interface {
	Current() *List
}

var _ Lister = (*Store)(nil)

// Authenticator verifies Basic credentials against the current list.
//
// Verified credentials are cached by HMAC(name, hash, password) under a
// per-process key: the cache only saves the bcrypt compare. State
// (disabled, expired, grants) is read from the current list on every call,
// and since the key includes the stored hash, a rotated password or a
// deleted account can never be served from the cache.
type Authenticator struct {
	lister Lister
	cache  *lru.Cache[[32]byte, struct{}]
	group  singleflight.Group
	key    []byte
	dummy  []byte
	now    func() time.Time
	// compare checks a password against a bcrypt hash; tests count calls.
	compare func(hash, password []byte) error
	// slots holds one token per bcrypt compare running (see bcryptSlots).
	slots chan struct{}
	// macs reuses keyed HMACs: the cached path then allocates almost nothing.
	macs sync.Pool
	// OnSuccess, when set, is called after every successful login (the
	// last-used tracker).
	OnSuccess func(name string, at time.Time)
}

// NewAuthenticator builds an authenticator with an LRU of cacheSize
// verified credentials.
func NewAuthenticator(l Lister, cacheSize int) (*Authenticator, error) {
	return newAuthenticator(l, cacheSize, BcryptCost)
}

// newAuthenticator takes the dummy hash's cost, so tests under -race need
// not pay for a cost-10 hash per authenticator.
func newAuthenticator(l Lister, cacheSize, dummyCost int) (*Authenticator, error) {
	cache, err := lru.New[[32]byte, struct{}](cacheSize)
	if err != nil {
		return nil, fmt.Errorf("credential cache: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("credential cache key: %w", err)
	}
	// A real hash at the real cost: an unknown name costs what a wrong
	// password costs, so timing does not tell which names exist.
	dummy, err := bcrypt.GenerateFromPassword(key[:16], dummyCost)
	if err != nil {
		return nil, fmt.Errorf("dummy hash: %w", err)
	}
	return &Authenticator{lister: l, cache: cache, key: key, dummy: dummy, now: time.Now,
		compare: bcrypt.CompareHashAndPassword, slots: make(chan struct{}, bcryptSlots())}, nil
}

// bcryptSlots bounds how many bcrypt compares run at once: all CPUs but
// one. A flood of wrong or unknown credentials (each costs ~60 ms of CPU)
// then queues behind the slots instead of starving requests whose
// credentials are already in the cache.
func bcryptSlots() int { return max(1, runtime.GOMAXPROCS(0)-1) }

// slowCompare runs one bcrypt compare in a slot.
func (a *Authenticator) slowCompare(hash, pass []byte) error {
	a.slots <- struct{}{}
	defer func() { <-a.slots }()
	return a.compare(hash, pass)
}

// Authenticate checks a username and password. It returns the account, or
// ErrInvalidCredentials, or an *AccountError wrapping ErrDisabled or
// ErrExpired when the password was right but the account may not log in.
func (a *Authenticator) Authenticate(ctx context.Context, user, pass string) (*Account, error) {
	acct, ok := a.lister.Current().Get(user)
	if !ok {
		_ = a.slowCompare(a.dummy, []byte(pass))
		return nil, ErrInvalidCredentials
	}
	now := a.now()
	good := a.verify(acct.Name, acct.PasswordHash, pass)
	if !good && acct.PreviousHash != "" && now.Before(acct.PreviousUntil) {
		good = a.verify(acct.Name, acct.PreviousHash, pass)
	}
	if !good {
		return nil, ErrInvalidCredentials
	}
	switch {
	case acct.Disabled:
		return nil, &AccountError{Account: acct, Err: ErrDisabled}
	case acct.Expired(now):
		return nil, &AccountError{Account: acct, Err: ErrExpired}
	}
	if a.OnSuccess != nil {
		a.OnSuccess(acct.Name, now)
	}
	return acct, nil
}

// verify compares a password with a hash, through the cache. Concurrent
// first requests with the same credentials share one bcrypt compare.
func (a *Authenticator) verify(name, hash, pass string) bool {
	k := a.cacheKey(name, hash, pass)
	if _, ok := a.cache.Get(k); ok {
		return true
	}
	v, _, _ := a.group.Do(string(k[:]), func() (any, error) {
		// Look again: a caller that missed the cache just before another
		// call finished would otherwise run a second bcrypt.
		if _, ok := a.cache.Get(k); ok {
			return true, nil
		}
		if a.slowCompare([]byte(hash), []byte(pass)) != nil {
			return false, nil
		}
		a.cache.Add(k, struct{}{})
		return true, nil
	})
	return v.(bool)
}

func (a *Authenticator) cacheKey(name, pwHash, pass string) [32]byte {
	m, _ := a.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, a.key)
	}
	m.Reset()
	for _, s := range []string{name, pwHash, pass} {
		_, _ = io.WriteString(m, s)
		_, _ = m.Write(sep[:])
	}
	var k [32]byte
	m.Sum(k[:0])
	a.macs.Put(m)
	return k
}

// sep ends each field of a cache key, so ("ab","c") and ("a","bc") differ.
var sep = [1]byte{0} // never written; an array cannot be a const
