package policy

import (
	"fmt"
	"strings"
)

// Action is what a request does to a repository.
type Action int

const (
	// ActionLogin needs a valid account and nothing else (GET /v2/, _catalog).
	ActionLogin Action = iota + 1
	// ActionPull reads manifests, blobs, tags and referrers.
	ActionPull
	// ActionPush writes blobs and manifests.
	ActionPush
	// ActionDelete removes manifests and blobs.
	ActionDelete
)

// String returns the action's lower-case name as it appears in logs.
func (a Action) String() string {
	switch a {
	case ActionLogin:
		return "login"
	case ActionPull:
		return "pull"
	case ActionPush:
		return "push"
	case ActionDelete:
		return "delete"
	}
	return fmt.Sprintf("action(%d)", int(a))
}

// Level is the access a grant gives on a namespace.
type Level int

const (
	// LevelReadOnly allows pull.
	LevelReadOnly Level = iota + 1
	// LevelReadWrite allows pull and push.
	LevelReadWrite
	// LevelReadWriteDelete allows pull, push and delete.
	LevelReadWriteDelete
)

// LevelHelp names the accepted spellings, for error messages.
const LevelHelp = "read-only (ro), read-write (rw) or read-write-delete (rwd)"

// ParseLevel reads an access level by its name or alias.
func ParseLevel(s string) (Level, error) {
	switch strings.TrimSpace(s) {
	case "read-only", "ro":
		return LevelReadOnly, nil
	case "read-write", "rw":
		return LevelReadWrite, nil
	case "read-write-delete", "rwd":
		return LevelReadWriteDelete, nil
	}
	return 0, fmt.Errorf("unknown access level %q: use %s", s, LevelHelp)
}

// String returns the level's canonical name, as written to the account file.
func (l Level) String() string {
	switch l {
	case LevelReadOnly:
		return "read-only"
	case LevelReadWrite:
		return "read-write"
	case LevelReadWriteDelete:
		return "read-write-delete"
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// Short returns the level's alias (ro, rw, rwd), for tables.
func (l Level) Short() string {
	switch l {
	case LevelReadOnly:
		return "ro"
	case LevelReadWrite:
		return "rw"
	case LevelReadWriteDelete:
		return "rwd"
	}
	return l.String()
}

// Allows reports whether the level includes the action. Every level allows
// ActionLogin; read-write includes pull, read-write-delete includes push.
func (l Level) Allows(a Action) bool {
	switch a {
	case ActionLogin, ActionPull:
		return l >= LevelReadOnly && l <= LevelReadWriteDelete
	case ActionPush:
		return l == LevelReadWrite || l == LevelReadWriteDelete
	case ActionDelete:
		return l == LevelReadWriteDelete
	}
	return false
}
