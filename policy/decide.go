package policy

import (
	"fmt"
	"strings"
)

// Access is one thing a request wants to do.
type Access struct {
	// Repository is the full repository name; empty for ActionLogin.
	Repository string
	// Namespace is the repository's first path component.
	Namespace string
	Action    Action
}

// NamespaceOf returns the first component of a repository name: team-a for
// team-a/app/api; a one-component name is its own namespace.
func NamespaceOf(repo string) string {
	ns, _, _ := strings.Cut(repo, "/")
	return ns
}

// Subject is an authenticated account as policy sees it. A nil *Subject is
// an anonymous client.
type Subject struct {
	Name   string
	Grants []Grant
}

// Decision is the answer to an Access, with the reason a log line or an
// error message can show.
type Decision struct {
	Allowed bool
	Reason  string
}

// Policy holds the rules that are not per account: public namespaces.
type Policy struct {
	public []Grant
}

// New builds a policy whose public patterns (names or globs) may be pulled
// without credentials.
func New(public []string) (*Policy, error) {
	p := &Policy{}
	for _, ns := range public {
		if err := ValidatePattern(ns); err != nil {
			return nil, fmt.Errorf("public namespace: %w", err)
		}
		p.public = append(p.public, Grant{Namespace: ns, Level: LevelReadOnly})
	}
	return p, nil
}

// IsPublic reports whether anonymous clients may pull from the namespace.
func (p *Policy) IsPublic(namespace string) bool {
	_, ok := Match(p.public, namespace)
	return ok
}

// Decide judges one access. Anything not explicitly granted is denied.
// Public namespaces add pull for everyone, anonymous or not; they never add
// push or delete.
func (p *Policy) Decide(s *Subject, a Access) Decision {
	if a.Action == ActionPull && p.IsPublic(a.Namespace) {
		if s == nil {
			return Decision{Allowed: true, Reason: "public namespace"}
		}
		if g, ok := Match(s.Grants, a.Namespace); !ok || !g.Level.Allows(ActionPull) {
			return Decision{Allowed: true, Reason: "public namespace"}
		}
	}
	if s == nil {
		return Decision{Reason: "anonymous"}
	}
	if a.Action == ActionLogin {
		return Decision{Allowed: true, Reason: "valid account"}
	}
	g, ok := Match(s.Grants, a.Namespace)
	if !ok {
		return Decision{Reason: fmt.Sprintf("account %s may not %s namespace %s (no grant covers it)", s.Name, verbPhrase(a.Action), a.Namespace)}
	}
	if !g.Level.Allows(a.Action) {
		return Decision{Reason: fmt.Sprintf("account %s may not %s namespace %s (grant %s=%s)", s.Name, verbPhrase(a.Action), a.Namespace, g.Namespace, g.Level)}
	}
	return Decision{Allowed: true, Reason: fmt.Sprintf("grant %s=%s", g.Namespace, g.Level)}
}

// verbPhrase makes "may not push to" / "may not pull from" read naturally.
func verbPhrase(a Action) string {
	switch a {
	case ActionPull:
		return "pull from"
	case ActionPush:
		return "push to"
	case ActionDelete:
		return "delete in"
	}
	return a.String() + " in"
}
