package accounts

import (
	"fmt"
	"time"

	"github.com/robotgate/robotgate/policy"
)

// NewAccount is what `account create` asks for.
type NewAccount struct {
	Name        string // with or without the prefix
	Description string
	// Password is a custom password; empty generates one.
	Password  string
	Grants    []policy.Grant
	ExpiresAt *time.Time // nil: permanent
	Disabled  bool
}

// Create adds an account and returns it with its password, the only time
// the password is seen.
func (e *Editor) Create(n NewAccount, now time.Time) (*Account, string, error) {
	name, err := NormalizeName(e.Prefix, n.Name)
	if err != nil {
		return nil, "", err
	}
	password, hash, err := e.newSecret(n.Password)
	if err != nil {
		return nil, "", err
	}
	now = now.UTC().Truncate(time.Second)
	acct := &Account{
		Name: name, Description: n.Description, PasswordHash: hash,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: n.ExpiresAt, Disabled: n.Disabled,
		Grants: append([]policy.Grant(nil), n.Grants...),
	}
	err = e.Edit(func(accts []*Account) ([]*Account, error) {
		for _, a := range accts {
			if a.Name == name {
				return nil, fmt.Errorf("%w: %s", ErrExists, name)
			}
		}
		return append(accts, acct), nil
	})
	if err != nil {
		return nil, "", err
	}
	return acct, password, nil
}

// Change is what `account update` asks for; nil or empty fields stay as
// they are.
type Change struct {
	Description *string
	Grants      []policy.Grant // add or replace per namespace
	Revoke      []string       // namespace patterns to remove
	// Expiry, when set, replaces the validity: Expiry.At nil is permanent.
	Expiry *Expiry
	// Disabled, when set, switches the account off or on.
	Disabled *bool
}

// Expiry is a new validity end; a nil At means permanent.
type Expiry struct{ At *time.Time }

// Update applies a change to one account and returns the result.
func (e *Editor) Update(name string, c Change, now time.Time) (*Account, error) {
	return e.modify(name, now, func(a *Account) error {
		if c.Description != nil {
			a.Description = *c.Description
		}
		for _, ns := range c.Revoke {
			if !a.RevokeGrant(ns) {
				return fmt.Errorf("account %s has no grant on %q (grants: %s)", a.Name, ns, grantList(a.Grants))
			}
		}
		for _, g := range c.Grants {
			a.SetGrant(g)
		}
		if c.Expiry != nil {
			a.ExpiresAt = c.Expiry.At
		}
		if c.Disabled != nil {
			a.Disabled = *c.Disabled
		}
		return nil
	})
}

// Delete removes an account.
func (e *Editor) Delete(name string) error {
	full, err := NormalizeName(e.Prefix, name)
	if err != nil {
		return err
	}
	return e.Edit(func(accts []*Account) ([]*Account, error) {
		for i, a := range accts {
			if a.Name == full {
				return append(accts[:i], accts[i+1:]...), nil
			}
		}
		return nil, notFound(full)
	})
}

// Rotate gives an account a new password (custom, or generated when empty).
// With grace > 0 the old password keeps working until now+grace.
func (e *Editor) Rotate(name, password string, grace time.Duration, now time.Time) (*Account, string, error) {
	password, hash, err := e.newSecret(password)
	if err != nil {
		return nil, "", err
	}
	acct, err := e.modify(name, now, func(a *Account) error {
		a.PreviousHash, a.PreviousUntil = "", time.Time{}
		if grace > 0 {
			a.PreviousHash = a.PasswordHash
			a.PreviousUntil = now.UTC().Add(grace).Truncate(time.Second)
		}
		a.PasswordHash = hash
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return acct, password, nil
}

func (e *Editor) modify(name string, now time.Time, fn func(*Account) error) (*Account, error) {
	full, err := NormalizeName(e.Prefix, name)
	if err != nil {
		return nil, err
	}
	var out *Account
	err = e.Edit(func(accts []*Account) ([]*Account, error) {
		for _, a := range accts {
			if a.Name == full {
				if err := fn(a); err != nil {
					return nil, err
				}
				a.UpdatedAt = now.UTC().Truncate(time.Second)
				out = a
				return accts, nil
			}
		}
		return nil, notFound(full)
	})
	return out, err
}

func notFound(name string) error {
	return fmt.Errorf("%w %s; see robotgate account list", ErrNotFound, name)
}

func (e *Editor) newSecret(custom string) (password, hash string, err error) {
	password = custom
	if password == "" {
		if password, err = GeneratePassword(); err != nil {
			return "", "", err
		}
	} else if err = CheckPassword(password); err != nil {
		return "", "", err
	}
	cost := e.cost
	if cost == 0 {
		cost = BcryptCost
	}
	hash, err = hashPassword(password, cost)
	return password, hash, err
}

func grantList(gs []policy.Grant) string {
	if len(gs) == 0 {
		return "none"
	}
	s := ""
	for i, g := range gs {
		if i > 0 {
			s += ", "
		}
		s += g.String()
	}
	return s
}
