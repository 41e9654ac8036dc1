package accounts

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestBcryptSlotsBoundConcurrentCompares: a burst of distinct wrong and
// unknown credentials never runs more bcrypt compares at once than there
// are slots, so cached logins keep CPU to run on.
func TestBcryptSlotsBoundConcurrentCompares(t *testing.T) {
	a, _, _ := countingAuth(t, newFakeLister(listOf(t, acct(t, "ci", "Right-pass1"))))
	var running, peak atomic.Int64
	a.compare = func(hash, pw []byte) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		running.Add(-1)
		return fmt.Errorf("mismatch")
	}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := testPrefix + "ci"
			if i%2 == 0 {
				user = testPrefix + "nobody"
			}
			_, err := a.Authenticate(t.Context(), user, fmt.Sprintf("Wrong-pass%d", i))
			assert.ErrorIs(t, err, ErrInvalidCredentials)
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, peak.Load(), int64(cap(a.slots)))
	assert.GreaterOrEqual(t, peak.Load(), int64(1))
}
