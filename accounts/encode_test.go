package accounts

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/robotgate/robotgate/policy"
)

func TestEncodeParseRoundTrip(t *testing.T) {
	expires := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	inBerlin := time.Date(2026, 12, 2, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	accts := []*Account{
		{
			Name:          "tcr$ci-bot",
			Description:   "quote \" backslash \\ newline \n tab \t bell \a del \x7f unicode é 日本 🚀 end",
			PasswordHash:  hashOf(t, "Passw0rd"),
			PreviousHash:  hashOf(t, "Old-passw0rd"),
			PreviousUntil: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC),
			CreatedAt:     inBerlin,
			UpdatedAt:     time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC),
			ExpiresAt:     &expires,
			Disabled:      true,
			Grants: []policy.Grant{
				{Namespace: "team-b", Level: policy.LevelReadWriteDelete},
				{Namespace: "team-*", Level: policy.LevelReadOnly},
				{Namespace: "*", Level: policy.LevelReadWrite},
				{Namespace: "a", Level: policy.LevelReadOnly},
			},
		},
		{
			Name:         "tcr$permanent.bot_1",
			PasswordHash: hashOf(t, "Passw0rd"),
			CreatedAt:    t0,
			UpdatedAt:    t0,
		},
	}
	data := Encode(accts)
	list, err := Parse("accounts.toml", data, testPrefix)
	require.NoError(t, err, "Encode must write what Parse reads:\n%s", data)

	got := list.All()
	require.Len(t, got, 2)
	assert.Equal(t, utcAll(accts), utcAll(got))
	assert.Nil(t, got[1].ExpiresAt, "permanent stays permanent")
	assert.Equal(t, accts[0].Description, got[0].Description)
	assert.True(t, got[0].CreatedAt.Equal(inBerlin), "times keep their instant (written as UTC)")

	assert.Equal(t, data, Encode(got), "encoding is stable")
}

func TestEncodeWritesHeaderAndSpecLayout(t *testing.T) {
	data := Encode([]*Account{acct(t, "ci-bot", "Passw0rd")})
	require.True(t, bytes.HasPrefix(data, []byte(FileHeader)), "the header comment opens the file")
	for _, l := range strings.Split(strings.TrimRight(FileHeader, "\n"), "\n") {
		assert.True(t, strings.HasPrefix(l, "# "), "header line %q is a TOML comment", l)
	}
	s := string(data)
	for _, want := range []string{
		"\n[[account]]\n",
		"\nname = \"tcr$ci-bot\"\n",
		"\ncreated_at = 2026-12-01T10:00:00Z\n",
		"\ndisabled = false\n",
		"\ngrants = [\n  { namespace = \"team-ci-bot\", access = \"read-write\" },\n]\n",
	} {
		assert.Contains(t, s, want)
	}
	assert.NotContains(t, s, "expires_at", "a permanent account has no expires_at")
	assert.NotContains(t, s, "previous_password", "no grace period, no previous hash")

	// Any TOML reader takes it, not only ours.
	var doc map[string]any
	_, err := toml.Decode(s, &doc)
	require.NoError(t, err)
}

func TestEncodeNoAccounts(t *testing.T) {
	data := Encode(nil)
	assert.Equal(t, FileHeader, string(data))
	list, err := Parse("accounts.toml", data, testPrefix)
	require.NoError(t, err)
	assert.Equal(t, 0, list.Len())
}

func TestEncodeEmptyGrants(t *testing.T) {
	a := acct(t, "nothing", "Passw0rd")
	a.Grants = nil
	data := Encode([]*Account{a})
	assert.Contains(t, string(data), "\ngrants = []\n")
	list, err := Parse("accounts.toml", data, testPrefix)
	require.NoError(t, err)
	assert.Empty(t, list.All()[0].Grants)
}
