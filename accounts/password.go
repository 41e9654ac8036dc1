package accounts

import (
	"crypto/rand"
	"errors"
	"fmt"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// BcryptCost is the cost of every hash robotgate writes (SPEC section 3).
const BcryptCost = 10

// GeneratedLength is the length of a generated password.
const GeneratedLength = 32

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// PasswordRule describes custom passwords, for error messages.
const PasswordRule = "passwords are 8 to 72 bytes (bcrypt reads no further) with at least one upper-case letter, one lower-case letter and one digit"

// ErrBadPassword is returned for a custom password that breaks PasswordRule.
var ErrBadPassword = errors.New("password refused")

// GeneratePassword returns 32 characters of [A-Za-z0-9] from crypto/rand,
// drawn without modulo bias. It always has upper, lower and digit.
func GeneratePassword() (string, error) {
	for {
		out := make([]byte, 0, GeneratedLength)
		buf := make([]byte, 64)
		for len(out) < GeneratedLength {
			if _, err := rand.Read(buf); err != nil {
				return "", fmt.Errorf("generate password: %w", err)
			}
			for _, b := range buf {
				// 248 = 4*62: bytes above it would favour the first letters.
				if b < 248 && len(out) < GeneratedLength {
					out = append(out, alphabet[int(b)%len(alphabet)])
				}
			}
		}
		if CheckPassword(string(out)) == nil {
			return string(out), nil
		}
	}
}

// CheckPassword applies PasswordRule.
func CheckPassword(p string) error {
	if len(p) < 8 || len(p) > 72 {
		return fmt.Errorf("%w: it is %d bytes; %s", ErrBadPassword, len(p), PasswordRule)
	}
	var upper, lower, digit bool
	for _, r := range p {
		upper = upper || unicode.IsUpper(r)
		lower = lower || unicode.IsLower(r)
		digit = digit || unicode.IsDigit(r)
	}
	if !upper || !lower || !digit {
		return fmt.Errorf("%w: %s", ErrBadPassword, PasswordRule)
	}
	return nil
}

// HashPassword returns the bcrypt hash at BcryptCost.
func HashPassword(p string) (string, error) { return hashPassword(p, BcryptCost) }

func hashPassword(p string, cost int) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(p), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}
