package accounts

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/robotgate/robotgate/policy"
)

// specFile is SPEC section 3's example, comments and alignment included,
// plus a permanent account.
const specFile = `[[account]]
name = "tcr$ci-bot"
description = "release pipeline of team A"
password_hash = "HASH"              # bcrypt; the password itself is never stored
created_at = 2026-12-01T08:00:00Z
updated_at = 2026-12-01T08:00:00Z
expires_at = 2026-12-31T08:00:00Z         # absent: permanent
disabled = false
grants = [
  { namespace = "team-a", access = "read-write" },
  { namespace = "base-images", access = "read-only" },
]

[[account]]
name = "tcr$nightly"
password_hash = "HASH"
disabled = true
grants = [{ namespace = "*", access = "rwd" }]
`

func TestParseSpecLayout(t *testing.T) {
	h := hashOf(t, "Passw0rd")
	list, err := Parse("accounts.toml", []byte(strings.ReplaceAll(specFile, "HASH", h)), testPrefix)
	require.NoError(t, err)
	require.Equal(t, 2, list.Len())

	a, ok := list.Get("tcr$ci-bot")
	require.True(t, ok)
	expires := time.Date(2026, 12, 31, 8, 0, 0, 0, time.UTC)
	assert.Equal(t, &Account{
		Name:         "tcr$ci-bot",
		Description:  "release pipeline of team A",
		PasswordHash: h,
		CreatedAt:    time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC),
		UpdatedAt:    time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC),
		ExpiresAt:    &expires,
		Grants: []policy.Grant{
			{Namespace: "team-a", Level: policy.LevelReadWrite},
			{Namespace: "base-images", Level: policy.LevelReadOnly},
		},
	}, utc(a))

	n, ok := list.Get("tcr$nightly")
	require.True(t, ok)
	assert.Nil(t, n.ExpiresAt, "no expires_at means permanent")
	assert.True(t, n.Disabled)
	assert.Equal(t, []policy.Grant{{Namespace: "*", Level: policy.LevelReadWriteDelete}}, n.Grants, "the alias rwd is accepted")

	assert.Equal(t, []string{"tcr$ci-bot", "tcr$nightly"}, names(list.All()), "file order is kept")
	_, ok = list.Get("ci-bot")
	assert.False(t, ok, "Get takes the full name")
}

func TestParseEmptyFile(t *testing.T) {
	list, err := Parse("accounts.toml", []byte(FileHeader), testPrefix)
	require.NoError(t, err)
	assert.Equal(t, 0, list.Len())
}

// base is one valid account; each case below breaks one line of it (line
// numbers are in the comments).
const base = `[[account]]
name = "tcr$ci-bot"
password_hash = "HASH"
grants = [
  { namespace = "team-a", access = "read-write" },
  { namespace = "team-b", access = "read-only" },
]
`

func TestParseRefusesInvalidFile(t *testing.T) {
	long := strings.Repeat("a", MaxNameLength+1)
	tests := []struct {
		name string
		file string
		line int    // the line the error must name
		want string // and a phrase it must contain
	}{
		{"bad TOML syntax", strings.Replace(base, `password_hash = "HASH"`, `password_hash = "HASH`, 1), 3, "newline"},
		{"name without prefix", strings.Replace(base, `tcr$ci-bot`, `ci-bot`, 1), 2, `must start with the prefix "tcr$"`},
		{"name with upper case", strings.Replace(base, `tcr$ci-bot`, `tcr$CI-bot`, 1), 2, NameRule},
		{"name too long", strings.Replace(base, `tcr$ci-bot`, `tcr$`+long, 1), 2, NameRule},
		{"name empty after prefix", strings.Replace(base, `tcr$ci-bot`, `tcr$`, 1), 2, NameRule},
		{"name missing", strings.Replace(base, `name = "tcr$ci-bot"`+"\n", "", 1), 1, "name is missing"},
		{"unknown access level", strings.Replace(base, `"read-only"`, `"admin"`, 1), 6, `unknown access level "admin"`},
		{"bad glob", strings.Replace(base, `"team-b"`, `"team-["`, 1), 6, "invalid namespace pattern"},
		{"empty namespace", strings.Replace(base, `"team-b"`, `""`, 1), 6, "invalid namespace pattern"},
		{"duplicate name", base + "\n" + base, 10, `duplicate name "tcr$ci-bot"`},
		{"hash not bcrypt", strings.Replace(base, `"HASH"`, `"$2a$10$tooshort"`, 1), 3, "not a bcrypt hash"},
		{"hash missing", strings.Replace(base, `password_hash = "HASH"`+"\n", "", 1), 1, "password_hash is missing"},
		{"bad previous hash", strings.Replace(base, `password_hash = "HASH"`, `password_hash = "HASH"`+"\nprevious_password_hash = \"plain\"", 1), 4, "not a bcrypt hash"},
		{"unknown key in account", strings.Replace(base, `grants = [`, "colour = \"red\"\ngrants = [", 1), 4, `unknown key "account.colour"`},
		{"unknown key in grant", strings.Replace(base, `access = "read-only"`, `acess = "read-only"`, 1), 6, `unknown key "account.grants.acess"`},
		{"unknown top-level key", "version = 2\n" + base, 1, `unknown key "version"`},
		{"unknown table", base + "[settings]\nx = 1\n", 8, `unknown key "settings"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.ReplaceAll(tt.file, "HASH", hashOf(t, "Passw0rd"))
			list, err := Parse("/etc/robotgate/accounts.toml", []byte(data), testPrefix)
			require.Error(t, err)
			assert.Nil(t, list, "an invalid file is refused as a whole")
			assert.ErrorIs(t, err, ErrInvalidFile)
			assert.Contains(t, err.Error(), fmt.Sprintf("/etc/robotgate/accounts.toml:%d:", tt.line))
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, lineOf(err.Error(), tt.want), fmt.Sprintf("accounts.toml:%d:", tt.line),
				"the line number sits on the same line as the problem")
		})
	}
}

// A value of the wrong type is reported by the decoder in its own words,
// which still name the file, the line and the key.
func TestParseRefusesWrongType(t *testing.T) {
	file := strings.Replace(base, `password_hash = "HASH"`, `password_hash = "HASH"`+"\ndisabled = \"no\"", 1)
	_, err := Parse("/etc/robotgate/accounts.toml", []byte(strings.ReplaceAll(file, "HASH", hashOf(t, "Passw0rd"))), testPrefix)
	require.ErrorIs(t, err, ErrInvalidFile)
	assert.Contains(t, err.Error(), "/etc/robotgate/accounts.toml")
	assert.Contains(t, err.Error(), `line 4 (last key "account.disabled")`)
}

func TestParseReportsEveryProblem(t *testing.T) {
	h := hashOf(t, "Passw0rd")
	file := `[[account]]
name = "ci-bot"
password_hash = "` + h + `"

[[account]]
name = "tcr$deploy"
password_hash = "` + h + `"
grants = [{ namespace = "prod", access = "write" }]

[[account]]
name = "tcr$mirror"
password_hash = "not-a-hash"
expire_at = 2027-01-01T00:00:00Z
`
	_, err := Parse("accounts.toml", []byte(file), testPrefix)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		`accounts.toml:2: account 1 (ci-bot): invalid service account name "ci-bot"`,
		`accounts.toml:8: account 2 (tcr$deploy): grant on "prod": unknown access level "write"`,
		`accounts.toml:12: account 3 (tcr$mirror): password_hash is not a bcrypt hash`,
		`accounts.toml:13: unknown key "account.expire_at"`,
	} {
		assert.Contains(t, msg, want)
	}
}

func TestParseChecksTheConfiguredPrefix(t *testing.T) {
	data := Encode([]*Account{acct(t, "ci-bot", "Passw0rd")})
	_, err := Parse("accounts.toml", data, "robot$")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `must start with the prefix "robot$"`)
}

// lineOf returns the line of s that contains sub.
func lineOf(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func names(as []*Account) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Name
	}
	return out
}
