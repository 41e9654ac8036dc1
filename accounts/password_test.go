package accounts

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func TestGeneratePassword(t *testing.T) {
	shape := regexp.MustCompile(`^[A-Za-z0-9]{32}$`)
	seen := map[string]bool{}
	used := map[rune]bool{}
	for range 300 {
		p, err := GeneratePassword()
		require.NoError(t, err)
		require.Regexp(t, shape, p)
		require.NoError(t, CheckPassword(p), "a generated password passes the custom-password rule")
		require.False(t, seen[p], "password %q generated twice", p)
		seen[p] = true
		for _, r := range p {
			used[r] = true
		}
	}
	// 9600 draws from 62 symbols: every symbol shows up unless the
	// alphabet is cut short (a miss has odds below 1e-60).
	assert.Len(t, used, len(alphabet), "every character of [A-Za-z0-9] is used")
}

// Bytes are drawn without modulo bias: 256 is not a multiple of 62, so a
// plain b%62 would make the first 8 letters a quarter more likely.
func TestGeneratePasswordHasNoModuloBias(t *testing.T) {
	counts := map[byte]int{}
	for range 10000 {
		p, err := GeneratePassword()
		require.NoError(t, err)
		for i := range len(p) {
			counts[p[i]]++
		}
	}
	mean := func(chars string) float64 {
		n := 0
		for i := range len(chars) {
			n += counts[chars[i]]
		}
		return float64(n) / float64(len(chars))
	}
	// 320000 draws: an even spread puts this ratio within 1 +- 0.02.
	ratio := mean(alphabet[:8]) / mean(alphabet[8:])
	assert.InDelta(t, 1.0, ratio, 0.08, "the first letters are drawn %.2f times as often as the others", ratio)
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"7 bytes", "Abcdef1", false},
		{"8 bytes", "Abcdef12", true},
		{"72 bytes", "Aa1" + strings.Repeat("x", 69), true},
		{"73 bytes", "Aa1" + strings.Repeat("x", 70), false},
		{"length counts bytes, not characters", "Ää1äb", true}, // 5 characters, 8 bytes
		{"7 bytes of multibyte letters", "Ää1ä", false},
		{"no upper case", "abcdefg1", false},
		{"no lower case", "ABCDEFG1", false},
		{"no digit", "Abcdefgh", false},
		{"only symbols and digits", "!!!!1234", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.in)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrBadPassword)
			assert.Contains(t, err.Error(), PasswordRule, "the message states the rule")
			if tt.in != "" {
				assert.NotContains(t, err.Error(), tt.in, "the message never echoes the password")
			}
		})
	}
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("Passw0rd")
	require.NoError(t, err)
	cost, err := bcrypt.Cost([]byte(h))
	require.NoError(t, err)
	assert.Equal(t, 10, cost, "SPEC section 3: bcrypt, cost 10")
	assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(h), []byte("Passw0rd")))
}
