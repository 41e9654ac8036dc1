package policy

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Grant gives an access level on the namespaces a pattern matches.
type Grant struct {
	// Namespace is a namespace name, a glob (team-*) or "*" for all.
	Namespace string
	Level     Level
}

// ErrBadPattern is returned for a namespace pattern that is neither a valid
// namespace name nor a valid glob.
var ErrBadPattern = errors.New("invalid namespace pattern")

// namespaceGlob allows the namespace grammar's characters plus the glob
// characters * and ?.
var namespaceGlob = regexp.MustCompile(`^[a-z0-9._*?-]+$`)

// ValidatePattern checks a grant's namespace: a repository path component
// ([a-z0-9] with separators . _ -) where * and ? may stand for any run of
// characters or one character.
func ValidatePattern(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty", ErrBadPattern)
	}
	if len(p) > 255 {
		return fmt.Errorf("%w %q: longer than 255 characters", ErrBadPattern, p)
	}
	if !namespaceGlob.MatchString(p) {
		return fmt.Errorf("%w %q: use lower-case letters, digits, '.', '_', '-', and the globs '*' and '?'", ErrBadPattern, p)
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("%w %q: %v", ErrBadPattern, p, err)
	}
	return nil
}

func isGlob(p string) bool { return strings.ContainsAny(p, "*?") }

// specificity orders patterns: an exact name beats any glob, a longer glob
// beats a shorter one, and "*" is the least specific of all.
func specificity(p string) int {
	if !isGlob(p) {
		return 1 << 20
	}
	return len(p)
}

// Matches reports whether the grant's pattern covers the namespace.
func (g Grant) Matches(namespace string) bool {
	if !isGlob(g.Namespace) {
		return g.Namespace == namespace
	}
	ok, err := path.Match(g.Namespace, namespace)
	return err == nil && ok
}

// Match returns the most specific grant that covers the namespace. Between
// equally specific patterns the one with fewer rights wins, so the outcome
// never depends on the order grants were written in and a tie never widens
// access.
func Match(grants []Grant, namespace string) (best Grant, ok bool) {
	bestScore := -1
	for _, g := range grants {
		if !g.Matches(namespace) {
			continue
		}
		s := specificity(g.Namespace)
		if s > bestScore || (s == bestScore && g.Level < best.Level) {
			best, bestScore, ok = g, s, true
		}
	}
	return best, ok
}

// String renders the grant as namespace:alias, as in `account list`.
func (g Grant) String() string { return g.Namespace + ":" + g.Level.Short() }
