package accounts

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/robotgate/robotgate/policy"
)

func TestRelative(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name string
		d    time.Duration // t - now
		want string
	}{
		{"12 days ahead", 12 * day, "in 12 days"},
		{"12 days ahead, a few seconds later", 12*day - 3*time.Second, "in 12 days"},
		{"3 days ago", -3 * day, "3 days ago"},
		{"3 days and 2 hours ago", -(3*day + 2*time.Hour), "3 days ago"},
		{"2 days ahead", 2 * day, "in 2 days"},
		{"under 2 days is hours", 47 * time.Hour, "in 47 hours"},
		{"1 hour ago", -time.Hour, "1 hour ago"},
		{"5 minutes ahead", 5 * time.Minute, "in 5 minutes"},
		{"1 minute ago", -time.Minute, "1 minute ago"},
		{"seconds", 20 * time.Second, "just now"},
		{"now", 0, "just now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Relative(t0.Add(tt.d), t0))
		})
	}
}

func TestWriteTable(t *testing.T) {
	in12 := t0.Add(12 * 24 * time.Hour)
	gone := t0.Add(-24 * time.Hour)
	a := acct(t, "ci-bot", "Passw0rd")
	a.ExpiresAt = &in12
	a.Description = "release\tpipeline\nof team A"
	a.Grants = []policy.Grant{{Namespace: "team-a", Level: policy.LevelReadWrite}, {Namespace: "base-*", Level: policy.LevelReadOnly}}
	b := acct(t, "a-much-longer-robot-name", "Passw0rd")
	b.Disabled = true
	b.Grants = nil
	c := acct(t, "old", "Passw0rd")
	c.ExpiresAt = &gone
	views := []View{ViewOf(a, t0, t0.Add(-3*24*time.Hour)), ViewOf(b, t0, time.Time{}), ViewOf(c, t0, time.Time{})}

	var out bytes.Buffer
	require.NoError(t, WriteTable(&out, views, t0))
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	require.Len(t, lines, 4)

	header := []string{"NAME", "STATE", "EXPIRES", "GRANTS", "LAST USED", "DESCRIPTION"}
	rows := [][]string{
		{"tcr$ci-bot", "active", "2026-12-15 (in 12 days)", "team-a:rw, base-*:ro", "3 days ago", "release pipeline of team A"},
		{"tcr$a-much-longer-robot-name", "disabled", "never", "-", "never", "account a-much-longer-robot-name"},
		{"tcr$old", "expired", "2026-12-02 (24 hours ago)", "team-old:rw", "never", "account old"},
	}
	// Each column starts at the same offset on every line.
	var starts []int
	for _, h := range header {
		i := strings.Index(lines[0], h)
		require.GreaterOrEqual(t, i, 0, "header %q", h)
		starts = append(starts, i)
	}
	require.True(t, sort.IntsAreSorted(starts), "columns in SPEC order: %v", starts)
	for r, row := range rows {
		line := lines[r+1]
		for c, cell := range row {
			require.GreaterOrEqual(t, len(line), starts[c], "row %d too short: %q", r, line)
			assert.True(t, strings.HasPrefix(line[starts[c]:], cell), "row %d column %s: want %q at offset %d in %q", r, header[c], cell, starts[c], line)
		}
	}
}

func TestViewJSON(t *testing.T) {
	a := acct(t, "ci-bot", "Passw0rd")
	a.Grants = []policy.Grant{{Namespace: "team-a", Level: policy.LevelReadWrite}}
	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, ViewOf(a, t0, t0.Add(-time.Minute))))

	var got map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	assert.Equal(t, []string{"created_at", "description", "disabled", "expires_at", "grants", "last_used_at", "name", "state", "updated_at"}, keys,
		"SPEC section 1's keys plus last_used_at")
	assert.Equal(t, "tcr$ci-bot", got["name"])
	assert.Equal(t, "active", got["state"])
	assert.Equal(t, false, got["disabled"])
	assert.Nil(t, got["expires_at"], "null when permanent")
	assert.Contains(t, got, "expires_at", "present, as null")
	assert.Equal(t, "2026-12-01T10:00:00Z", got["created_at"])
	assert.Equal(t, "2026-12-03T09:59:00Z", got["last_used_at"])
	assert.Equal(t, []any{map[string]any{"namespace": "team-a", "access": "read-write"}}, got["grants"])
	assert.NotContains(t, buf.String(), a.PasswordHash)
	assert.NotContains(t, buf.String(), "$2a$")
	assert.NotContains(t, buf.String(), "hash")
}

func TestViewJSONValues(t *testing.T) {
	exp := t0.Add(time.Hour)
	a := acct(t, "ci-bot", "Passw0rd")
	a.ExpiresAt = &exp
	a.Disabled = true
	a.Grants = nil
	a.PreviousHash, a.PreviousUntil = hashOf(t, "Old-passw0rd"), t0.Add(time.Minute)

	data, err := json.Marshal(ViewOf(a, t0, time.Time{}))
	require.NoError(t, err)
	s := string(data)
	assert.Contains(t, s, `"expires_at":"2026-12-03T11:00:00Z"`)
	assert.Contains(t, s, `"last_used_at":null`, "never used")
	assert.Contains(t, s, `"state":"disabled"`)
	assert.Contains(t, s, `"grants":[]`, "an empty array, not null")
	assert.Contains(t, s, `"previous_password":{"valid_until":"2026-12-03T10:01:00Z"}`, "during a grace period, when it ends")
	assert.NotContains(t, s, a.PreviousHash)
	assert.NotContains(t, s, a.PasswordHash)

	after, err := json.Marshal(ViewOf(a, t0.Add(time.Minute), time.Time{}))
	require.NoError(t, err)
	assert.NotContains(t, string(after), "previous_password", "no grace period after it ended")
}

func TestWriteDetail(t *testing.T) {
	a := acct(t, "ci-bot", "Passw0rd")
	a.PreviousHash, a.PreviousUntil = hashOf(t, "Old-passw0rd"), t0.Add(time.Hour)
	var out bytes.Buffer
	require.NoError(t, WriteDetail(&out, ViewOf(a, t0, time.Time{}), t0))
	s := out.String()
	for _, want := range []string{"name:", "tcr$ci-bot", "state:", "active", "expires:", "never", "last used:", "old password valid until:", "2026-12-03T11:00:00Z", "team-ci-bot:rw"} {
		assert.Contains(t, s, want)
	}
	assert.NotContains(t, s, "$2a$")
}

func TestLastDay(t *testing.T) {
	assert.Equal(t, "2026-12-31", LastDay(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)), "end of day 2026-12-31")
	assert.Equal(t, "2026-12-06", LastDay(time.Date(2026, 12, 6, 10, 11, 6, 0, time.UTC)))
}
