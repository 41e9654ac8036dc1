package accounts

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/robotgate/robotgate/policy"
)

// Account is one validated service account.
type Account struct {
	Name         string // with the prefix: tcr$ci-bot
	Description  string
	PasswordHash string // bcrypt
	// PreviousHash is the password replaced by `rotate --grace`; it stays
	// valid until PreviousUntil. Empty: no grace period.
	PreviousHash  string
	PreviousUntil time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// ExpiresAt is the end of validity; nil means permanent.
	ExpiresAt *time.Time
	Disabled  bool
	Grants    []policy.Grant
}

// State is what `account list` shows in its STATE column.
type State string

const (
	StateActive   State = "active"
	StateDisabled State = "disabled"
	StateExpired  State = "expired"
)

// State tells whether the account can log in at now. Disabled wins over
// expired: it is the state an operator chose.
func (a *Account) State(now time.Time) State {
	switch {
	case a.Disabled:
		return StateDisabled
	case a.Expired(now):
		return StateExpired
	}
	return StateActive
}

// Expired reports whether the validity period has ended at now.
func (a *Account) Expired(now time.Time) bool {
	return a.ExpiresAt != nil && !now.Before(*a.ExpiresAt)
}

// Subject is the account as policy sees it.
func (a *Account) Subject() *policy.Subject {
	return &policy.Subject{Name: a.Name, Grants: a.Grants}
}

// SetGrant adds a grant or replaces the one on the same namespace pattern.
func (a *Account) SetGrant(g policy.Grant) {
	for i := range a.Grants {
		if a.Grants[i].Namespace == g.Namespace {
			a.Grants[i].Level = g.Level
			return
		}
	}
	a.Grants = append(a.Grants, g)
}

// RevokeGrant removes the grant on exactly that namespace pattern and
// reports whether there was one.
func (a *Account) RevokeGrant(namespace string) bool {
	for i := range a.Grants {
		if a.Grants[i].Namespace == namespace {
			a.Grants = append(a.Grants[:i], a.Grants[i+1:]...)
			return true
		}
	}
	return false
}

// clone returns a deep copy, so an edit never mutates a list in use.
func (a *Account) clone() *Account {
	c := *a
	c.Grants = append([]policy.Grant(nil), a.Grants...)
	if a.ExpiresAt != nil {
		t := *a.ExpiresAt
		c.ExpiresAt = &t
	}
	return &c
}

// MaxNameLength is the longest name allowed after the prefix.
const MaxNameLength = 64

// NameRule describes valid names, for error messages.
const NameRule = "names are [a-z0-9][a-z0-9._-]*, at most 64 characters after the prefix"

var nameRule = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// ErrBadName is returned for a name that breaks NameRule.
var ErrBadName = errors.New("invalid service account name")

// NormalizeName turns "ci-bot" or "tcr$ci-bot" into "tcr$ci-bot" and checks
// the name rule.
func NormalizeName(prefix, name string) (string, error) {
	short := strings.TrimPrefix(name, prefix)
	if bare, ok := strings.CutSuffix(prefix, "$"); ok && bare != "" && name == bare {
		// "tcr$deploy" in double quotes reaches us as "tcr".
		return "", fmt.Errorf("%w %q: the shell probably expanded the $ in %s<name>; put the name in single quotes ('%s<name>') or leave the prefix out", ErrBadName, name, prefix, prefix)
	}
	if len(short) > MaxNameLength || !nameRule.MatchString(short) {
		return "", fmt.Errorf("%w %q: %s", ErrBadName, name, NameRule)
	}
	return prefix + short, nil
}

// checkFullName checks a name read from the file, which must carry the
// prefix.
func checkFullName(prefix, name string) error {
	if !strings.HasPrefix(name, prefix) {
		return fmt.Errorf("%w %q: must start with the prefix %q", ErrBadName, name, prefix)
	}
	_, err := NormalizeName(prefix, name)
	return err
}
