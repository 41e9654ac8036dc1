package accounts

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/robotgate/robotgate/policy"
)

func TestNormalizeName(t *testing.T) {
	max := strings.Repeat("a", MaxNameLength)
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{"without prefix", "ci-bot", "tcr$ci-bot", false},
		{"with prefix", "tcr$ci-bot", "tcr$ci-bot", false},
		{"digits dots underscores", "0.build_bot-2", "tcr$0.build_bot-2", false},
		{"64 characters", max, "tcr$" + max, false},
		{"64 characters with prefix", "tcr$" + max, "tcr$" + max, false},
		{"65 characters", max + "a", "", true},
		{"65 characters with prefix", "tcr$" + max + "a", "", true},
		{"empty", "", "", true},
		{"prefix only", "tcr$", "", true},
		{"upper case", "CI-bot", "", true},
		{"starts with dash", "-bot", "", true},
		{"starts with dot", ".bot", "", true},
		{"slash", "team/bot", "", true},
		{"space", "ci bot", "", true},
		{"prefix twice", "tcr$tcr$bot", "", true},
		{"non-ASCII", "bøt", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeName(testPrefix, tt.in)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrBadName)
				assert.Contains(t, err.Error(), NameRule, "the message states the rule")
				assert.Contains(t, err.Error(), strconv.Quote(tt.in), "the message names the input")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestAccountState(t *testing.T) {
	past, future := t0.Add(-time.Second), t0.Add(time.Hour)
	tests := []struct {
		name     string
		disabled bool
		expires  *time.Time
		want     State
	}{
		{"permanent", false, nil, StateActive},
		{"not yet expired", false, &future, StateActive},
		{"expired", false, &past, StateExpired},
		{"expires exactly now", false, &t0, StateExpired},
		{"disabled", true, nil, StateDisabled},
		{"disabled wins over expired", true, &past, StateDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Account{Disabled: tt.disabled, ExpiresAt: tt.expires}
			assert.Equal(t, tt.want, a.State(t0))
		})
	}
}

func TestSetAndRevokeGrant(t *testing.T) {
	a := &Account{Grants: []policy.Grant{{Namespace: "a", Level: policy.LevelReadOnly}, {Namespace: "b", Level: policy.LevelReadOnly}}}
	a.SetGrant(policy.Grant{Namespace: "a", Level: policy.LevelReadWrite})
	a.SetGrant(policy.Grant{Namespace: "c", Level: policy.LevelReadWriteDelete})
	assert.Equal(t, []policy.Grant{
		{Namespace: "a", Level: policy.LevelReadWrite},
		{Namespace: "b", Level: policy.LevelReadOnly},
		{Namespace: "c", Level: policy.LevelReadWriteDelete},
	}, a.Grants, "replaced in place, added at the end")

	assert.True(t, a.RevokeGrant("b"))
	assert.False(t, a.RevokeGrant("b"))
	assert.False(t, a.RevokeGrant("*"), "revoke matches the pattern exactly, not as a glob")
	assert.Equal(t, []string{"a", "c"}, []string{a.Grants[0].Namespace, a.Grants[1].Namespace})
}

func TestCloneIsDeep(t *testing.T) {
	exp := t0
	a := &Account{ExpiresAt: &exp, Grants: []policy.Grant{{Namespace: "a", Level: policy.LevelReadOnly}}}
	c := a.clone()
	c.Grants[0].Level = policy.LevelReadWriteDelete
	*c.ExpiresAt = t0.Add(time.Hour)
	assert.Equal(t, policy.LevelReadOnly, a.Grants[0].Level)
	assert.Equal(t, t0, *a.ExpiresAt)
}

// TestNormalizeNameCatchesShellExpansion: "tcr$deploy" in double quotes
// arrives as "tcr"; that must not create or find an account named tcr$tcr.
func TestNormalizeNameCatchesShellExpansion(t *testing.T) {
	_, err := NormalizeName("tcr$", "tcr")
	require.ErrorIs(t, err, ErrBadName)
	assert.Contains(t, err.Error(), "single quotes")
	got, err := NormalizeName("tcr$", "tcr-bot")
	require.NoError(t, err, "a name that merely starts like the prefix is fine")
	assert.Equal(t, "tcr$tcr-bot", got)
}
