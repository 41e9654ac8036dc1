package accounts

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/robotgate/robotgate/policy"
)

func TestAuthenticate(t *testing.T) {
	past := t0.Add(-time.Minute)
	active := acct(t, "ci-bot", "Passw0rd")
	disabled := acct(t, "off", "Passw0rd")
	disabled.Disabled = true
	expired := acct(t, "old", "Passw0rd")
	expired.ExpiresAt = &past
	both := acct(t, "both", "Passw0rd")
	both.Disabled, both.ExpiresAt = true, &past
	list := listOf(t, active, disabled, expired, both)

	tests := []struct {
		name       string
		user, pass string
		wantErr    error // exactly this error, or what an *AccountError wraps
		accountErr bool
	}{
		{"right password", "tcr$ci-bot", "Passw0rd", nil, false},
		{"wrong password", "tcr$ci-bot", "passw0rd", ErrInvalidCredentials, false},
		{"empty password", "tcr$ci-bot", "", ErrInvalidCredentials, false},
		{"password with a suffix", "tcr$ci-bot", "Passw0rdX", ErrInvalidCredentials, false},
		{"unknown user", "tcr$nobody", "Passw0rd", ErrInvalidCredentials, false},
		{"name without the prefix", "ci-bot", "Passw0rd", ErrInvalidCredentials, false},
		{"disabled, right password", "tcr$off", "Passw0rd", ErrDisabled, true},
		{"disabled, wrong password", "tcr$off", "wrong", ErrInvalidCredentials, false},
		{"expired, right password", "tcr$old", "Passw0rd", ErrExpired, true},
		{"expired, wrong password", "tcr$old", "wrong", ErrInvalidCredentials, false},
		{"disabled and expired says disabled", "tcr$both", "Passw0rd", ErrDisabled, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, _ := countingAuth(t, newFakeLister(list))
			got, err := a.Authenticate(context.Background(), tt.user, tt.pass)
			switch {
			case tt.wantErr == nil:
				require.NoError(t, err)
				require.NotNil(t, got)
				assert.Equal(t, tt.user, got.Name)
			case tt.accountErr:
				assert.Nil(t, got)
				var ae *AccountError
				require.ErrorAs(t, err, &ae)
				assert.ErrorIs(t, err, tt.wantErr)
				assert.Equal(t, tt.user, ae.Account.Name)
				assert.Contains(t, err.Error(), tt.user)
			default:
				assert.Nil(t, got)
				assert.Same(t, tt.wantErr, err, "wrong password and unknown user look exactly the same")
			}
		})
	}
}

func TestAuthenticateCachesVerifiedCredentials(t *testing.T) {
	a, compares, _ := countingAuth(t, newFakeLister(listOf(t, acct(t, "ci-bot", "Passw0rd"))))
	ctx := context.Background()

	_, err := a.Authenticate(ctx, "tcr$ci-bot", "Passw0rd")
	require.NoError(t, err)
	require.EqualValues(t, 1, compares.Load())
	require.Equal(t, 1, a.cache.Len())

	for range 5 {
		_, err = a.Authenticate(ctx, "tcr$ci-bot", "Passw0rd")
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, compares.Load(), "later logins are served from the cache, no bcrypt")
	assert.Equal(t, 1, a.cache.Len())
}

func TestAuthenticateDoesNotCacheFailures(t *testing.T) {
	a, compares, _ := countingAuth(t, newFakeLister(listOf(t, acct(t, "ci-bot", "Passw0rd"))))
	for range 3 {
		_, err := a.Authenticate(context.Background(), "tcr$ci-bot", "wrong")
		require.Same(t, ErrInvalidCredentials, err)
	}
	assert.EqualValues(t, 3, compares.Load(), "every wrong guess costs a bcrypt")
	assert.Equal(t, 0, a.cache.Len())
}

func TestAuthenticateUnknownUserRunsBcrypt(t *testing.T) {
	a, _, _ := countingAuth(t, newFakeLister(listOf(t, acct(t, "ci-bot", "Passw0rd"))))
	var hashes [][]byte
	a.compare = func(hash, pw []byte) error {
		hashes = append(hashes, hash)
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	_, err := a.Authenticate(context.Background(), "tcr$nobody", "Passw0rd")
	require.Same(t, ErrInvalidCredentials, err)
	require.Len(t, hashes, 1, "an unknown name costs one bcrypt, like a wrong password")
	assert.True(t, bytes.Equal(a.dummy, hashes[0]), "compared against the dummy hash")
}

func TestNewAuthenticatorDummyHashHasTheRealCost(t *testing.T) {
	a, err := NewAuthenticator(newFakeLister(listOf(t)), 16)
	require.NoError(t, err)
	cost, err := bcrypt.Cost(a.dummy)
	require.NoError(t, err)
	assert.Equal(t, BcryptCost, cost, "an unknown name takes as long as a wrong password")

	_, err = NewAuthenticator(newFakeLister(listOf(t)), 0)
	assert.Error(t, err, "a cache needs a size")
}

func TestAuthenticateSeesStateChangeAtOnce(t *testing.T) {
	ctx := context.Background()
	orig := acct(t, "ci-bot", "Passw0rd")
	lister := newFakeLister(listOf(t, orig))
	a, compares, _ := countingAuth(t, lister)
	_, err := a.Authenticate(ctx, "tcr$ci-bot", "Passw0rd")
	require.NoError(t, err)

	off := orig.clone()
	off.Disabled = true
	lister.list.Store(listOf(t, off))
	_, err = a.Authenticate(ctx, "tcr$ci-bot", "Passw0rd")
	assert.ErrorIs(t, err, ErrDisabled, "the cached password does not hide the new state")

	past := t0.Add(-time.Second)
	gone := orig.clone()
	gone.ExpiresAt = &past
	lister.list.Store(listOf(t, gone))
	_, err = a.Authenticate(ctx, "tcr$ci-bot", "Passw0rd")
	assert.ErrorIs(t, err, ErrExpired)

	regranted := orig.clone()
	regranted.Grants = []policy.Grant{{Namespace: "elsewhere", Level: policy.LevelReadOnly}}
	lister.list.Store(listOf(t, regranted))
	got, err := a.Authenticate(ctx, "tcr$ci-bot", "Passw0rd")
	require.NoError(t, err)
	assert.Equal(t, regranted.Grants, got.Grants, "grants come from the list in force")

	assert.EqualValues(t, 1, compares.Load(), "all of it from one bcrypt: the state is not cached, the password is")
}

func TestAuthenticatePasswordChangeTakesEffectAtOnce(t *testing.T) {
	ctx := context.Background()
	orig := acct(t, "ci-bot", "Passw0rd")
	lister := newFakeLister(listOf(t, orig))
	a, _, _ := countingAuth(t, lister)
	_, err := a.Authenticate(ctx, "tcr$ci-bot", "Passw0rd")
	require.NoError(t, err)

	rotated := orig.clone()
	rotated.PasswordHash = hashOf(t, "N3w-password")
	lister.list.Store(listOf(t, rotated))

	_, err = a.Authenticate(ctx, "tcr$ci-bot", "Passw0rd")
	assert.Same(t, ErrInvalidCredentials, err, "the old password stops working although it was cached")
	_, err = a.Authenticate(ctx, "tcr$ci-bot", "N3w-password")
	assert.NoError(t, err)
}

func TestAuthenticateDeletedAccountFailsAtOnce(t *testing.T) {
	ctx := context.Background()
	lister := newFakeLister(listOf(t, acct(t, "ci-bot", "Passw0rd"), acct(t, "other", "Passw0rd")))
	a, _, _ := countingAuth(t, lister)
	_, err := a.Authenticate(ctx, "tcr$ci-bot", "Passw0rd")
	require.NoError(t, err)

	lister.list.Store(listOf(t, acct(t, "other", "Passw0rd")))
	_, err = a.Authenticate(ctx, "tcr$ci-bot", "Passw0rd")
	assert.Same(t, ErrInvalidCredentials, err)
}

func TestAuthenticateConcurrentFirstLoginsShareOneBcrypt(t *testing.T) {
	a, compares, _ := countingAuth(t, newFakeLister(listOf(t, acct(t, "ci-bot", "Passw0rd"))))
	// A slow compare keeps the first one in flight while the others arrive,
	// so without singleflight each of them would run its own.
	inner := a.compare
	a.compare = func(hash, pw []byte) error {
		time.Sleep(200 * time.Millisecond)
		return inner(hash, pw)
	}
	const n = 20
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-start
			_, err := a.Authenticate(context.Background(), "tcr$ci-bot", "Passw0rd")
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	assert.EqualValues(t, 1, compares.Load(), "%d concurrent first logins, one bcrypt", n)
}

func TestAuthenticateConcurrentWrongPasswordsAllFail(t *testing.T) {
	a, _, _ := countingAuth(t, newFakeLister(listOf(t, acct(t, "ci-bot", "Passw0rd"))))
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 10 {
		wg.Go(func() {
			if _, err := a.Authenticate(context.Background(), "tcr$ci-bot", "wrong"); err == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Zero(t, ok.Load())
}

func TestAuthenticateOnSuccess(t *testing.T) {
	a, _, _ := countingAuth(t, newFakeLister(listOf(t, acct(t, "ci-bot", "Passw0rd"))))
	type call struct {
		name string
		at   time.Time
	}
	var calls []call
	a.OnSuccess = func(name string, at time.Time) { calls = append(calls, call{name, at}) }
	ctx := context.Background()
	_, _ = a.Authenticate(ctx, "tcr$ci-bot", "wrong")
	_, _ = a.Authenticate(ctx, "tcr$nobody", "Passw0rd")
	_, err := a.Authenticate(ctx, "tcr$ci-bot", "Passw0rd")
	require.NoError(t, err)
	assert.Equal(t, []call{{"tcr$ci-bot", t0}}, calls, "only a successful login counts as use")
}

func TestAuthenticateGracePeriodAfterRotate(t *testing.T) {
	ctx := context.Background()
	ed := newTestEditor(t)
	_, oldPW, err := ed.Create(NewAccount{Name: "ci-bot", Grants: []policy.Grant{{Namespace: "team-a", Level: policy.LevelReadWrite}}}, t0)
	require.NoError(t, err)
	store := NewStore(ed.Path, testPrefix, nil)
	require.NoError(t, store.Load())
	a, _, clock := countingAuth(t, store)
	set := func(t time.Time) { clock.Store(&t) }

	_, err = a.Authenticate(ctx, "tcr$ci-bot", oldPW)
	require.NoError(t, err, "the old password is cached before the rotation")

	rotatedAt := t0.Add(time.Hour)
	rot, newPW, err := ed.Rotate("ci-bot", "", 30*time.Minute, rotatedAt)
	require.NoError(t, err)
	require.NotEqual(t, oldPW, newPW)
	require.Equal(t, rotatedAt.Add(30*time.Minute), rot.PreviousUntil)
	changed, err := store.Reload()
	require.NoError(t, err)
	require.True(t, changed)

	tests := []struct {
		name      string
		at        time.Time
		pw        string
		wantValid bool
	}{
		{"new password right after rotate", rotatedAt, newPW, true},
		{"old password right after rotate", rotatedAt, oldPW, true},
		{"old password a second before the end", rot.PreviousUntil.Add(-time.Second), oldPW, true},
		{"old password at the end", rot.PreviousUntil, oldPW, false},
		{"old password after the end", rot.PreviousUntil.Add(time.Hour), oldPW, false},
		{"new password after the end", rot.PreviousUntil.Add(time.Hour), newPW, true},
		{"old password back within the period (clock check, not a one-way latch)", rotatedAt, oldPW, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set(tt.at)
			_, err := a.Authenticate(ctx, "tcr$ci-bot", tt.pw)
			if tt.wantValid {
				assert.NoError(t, err)
			} else {
				assert.Same(t, ErrInvalidCredentials, err)
			}
		})
	}

	// Rotating again without grace ends the old password at once.
	_, third, err := ed.Rotate("ci-bot", "", 0, rotatedAt)
	require.NoError(t, err)
	_, err = store.Reload()
	require.NoError(t, err)
	set(rotatedAt)
	_, err = a.Authenticate(ctx, "tcr$ci-bot", newPW)
	assert.Same(t, ErrInvalidCredentials, err)
	_, err = a.Authenticate(ctx, "tcr$ci-bot", oldPW)
	assert.Same(t, ErrInvalidCredentials, err)
	_, err = a.Authenticate(ctx, "tcr$ci-bot", third)
	assert.NoError(t, err)
}

func TestAuthenticateThroughStoreReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.toml")
	writeAccounts(t, path, acct(t, "ci-bot", "Passw0rd"))
	store := NewStore(path, testPrefix, nil)
	require.NoError(t, store.Load())
	a, _, _ := countingAuth(t, store)
	_, err := a.Authenticate(context.Background(), "tcr$ci-bot", "Passw0rd")
	require.NoError(t, err)

	off := acct(t, "ci-bot", "Passw0rd")
	off.Disabled = true
	writeAccounts(t, path, off)
	_, err = store.Reload()
	require.NoError(t, err)
	_, err = a.Authenticate(context.Background(), "tcr$ci-bot", "Passw0rd")
	var ae *AccountError
	require.True(t, errors.As(err, &ae))
	assert.ErrorIs(t, err, ErrDisabled)
}
