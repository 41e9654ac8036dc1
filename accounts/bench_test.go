package accounts

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// benchList holds one account whose hash has the production cost (10).
func benchList(b *testing.B) *List {
	b.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte("Passw0rd"), BcryptCost)
	require.NoError(b, err)
	a := acct(b, "ci-bot", "Passw0rd")
	a.PasswordHash = string(h)
	return listOf(b, a)
}

// BenchmarkAuthenticateCached is the steady state of a gateway: the same
// credentials on every request, verified once and then served by the LRU.
func BenchmarkAuthenticateCached(b *testing.B) {
	a, err := NewAuthenticator(newFakeLister(benchList(b)), 1024)
	require.NoError(b, err)
	ctx := context.Background()
	_, err = a.Authenticate(ctx, "tcr$ci-bot", "Passw0rd")
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, "tcr$ci-bot", "Passw0rd"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthenticateCold is a first login: a cache miss and one bcrypt
// compare at cost 10. The cache is purged each iteration.
func BenchmarkAuthenticateCold(b *testing.B) {
	a, err := NewAuthenticator(newFakeLister(benchList(b)), 1024)
	require.NoError(b, err)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		a.cache.Purge()
		if _, err := a.Authenticate(ctx, "tcr$ci-bot", "Passw0rd"); err != nil {
			b.Fatal(err)
		}
	}
}
