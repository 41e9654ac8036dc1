package accounts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidityResolve(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 500_000_000, time.UTC) // half a second past
	at := func(s string) *time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return &v
	}
	tests := []struct {
		name    string
		v       Validity
		want    *time.Time
		wantErr string
	}{
		{"default is 30 days", Validity{}, at("2027-01-02T10:00:00Z"), ""},
		{"--days 12", Validity{Days: 12, DaysSet: true}, at("2026-12-15T10:00:00Z"), ""},
		{"--days 1", Validity{Days: 1, DaysSet: true}, at("2026-12-04T10:00:00Z"), ""},
		{"--days 0", Validity{Days: 0, DaysSet: true}, nil, "--days must be at least 1, got 0"},
		{"--days -3", Validity{Days: -3, DaysSet: true}, nil, "--days must be at least 1, got -3"},
		{"--days over 100 years", Validity{Days: 36501, DaysSet: true}, nil, "use --permanent"},
		{"--expires date is the end of that day UTC", Validity{Expires: "2026-12-31"}, at("2027-01-01T00:00:00Z"), ""},
		{"--expires today lasts until midnight", Validity{Expires: "2026-12-03"}, at("2026-12-04T00:00:00Z"), ""},
		{"--expires RFC 3339 UTC", Validity{Expires: "2026-12-31T18:00:00Z"}, at("2026-12-31T18:00:00Z"), ""},
		{"--expires RFC 3339 with offset", Validity{Expires: "2026-12-31T18:00:00+02:00"}, at("2026-12-31T16:00:00Z"), ""},
		{"--expires yesterday", Validity{Expires: "2026-12-02"}, nil, "not in the future"},
		{"--expires a minute ago", Validity{Expires: "2026-12-03T09:59:00Z"}, nil, "not in the future"},
		{"--expires garbage", Validity{Expires: "next friday"}, nil, "use YYYY-MM-DD or RFC 3339"},
		{"--expires day first", Validity{Expires: "31-12-2026"}, nil, "use YYYY-MM-DD or RFC 3339"},
		{"--permanent", Validity{Permanent: true}, nil, ""},
		{"--days and --expires", Validity{Days: 3, DaysSet: true, Expires: "2026-12-31"}, nil, "use only one of"},
		{"--days and --permanent", Validity{Days: 3, DaysSet: true, Permanent: true}, nil, "use only one of"},
		{"--expires and --permanent", Validity{Expires: "2026-12-31", Permanent: true}, nil, "use only one of"},
		{"--days 0 and --permanent", Validity{DaysSet: true, Permanent: true}, nil, "use only one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.v.Resolve(now)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrBadValidity)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			if tt.want == nil {
				assert.Nil(t, got, "permanent")
				return
			}
			require.NotNil(t, got)
			assert.Equal(t, tt.want.UTC(), got.UTC())
		})
	}
}

func TestValiditySet(t *testing.T) {
	assert.False(t, Validity{}.Set())
	assert.True(t, Validity{DaysSet: true}.Set(), "--days 0 counts as given")
	assert.True(t, Validity{Expires: "2026-12-31"}.Set())
	assert.True(t, Validity{Permanent: true}.Set())
}
