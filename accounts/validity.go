package accounts

import (
	"errors"
	"fmt"
	"time"
)

// DefaultValidity is the validity of a new account without --days,
// --expires or --permanent.
const DefaultValidity = 30 * 24 * time.Hour

// Validity is the --days / --expires / --permanent choice of a command.
type Validity struct {
	Days      int    // that many days from now, when DaysSet
	DaysSet   bool   // --days was given (so --days 0 is an error, not "unset")
	Expires   string // YYYY-MM-DD (end of that day, UTC) or RFC 3339
	Permanent bool
}

// ErrBadValidity is returned for an invalid validity choice.
var ErrBadValidity = errors.New("invalid validity")

// Set reports whether any of the three was given.
func (v Validity) Set() bool { return v.DaysSet || v.Expires != "" || v.Permanent }

// Resolve turns the choice into an end time (nil: permanent). Exactly one of
// the three may be given; dates must lie in the future.
func (v Validity) Resolve(now time.Time) (*time.Time, error) {
	n := 0
	for _, set := range []bool{v.DaysSet, v.Expires != "", v.Permanent} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, fmt.Errorf("%w: use only one of --days, --expires and --permanent", ErrBadValidity)
	}
	switch {
	case v.Permanent:
		return nil, nil
	case v.DaysSet && v.Days < 1:
		return nil, fmt.Errorf("%w: --days must be at least 1, got %d", ErrBadValidity, v.Days)
	case v.DaysSet:
		if v.Days > 36500 {
			return nil, fmt.Errorf("%w: --days %d is more than 100 years; use --permanent", ErrBadValidity, v.Days)
		}
		t := now.UTC().Add(time.Duration(v.Days) * 24 * time.Hour).Truncate(time.Second)
		return &t, nil
	case v.Expires != "":
		t, err := parseDate(v.Expires)
		if err != nil {
			return nil, err
		}
		if !t.After(now) {
			return nil, fmt.Errorf("%w: --expires %s is not in the future", ErrBadValidity, v.Expires)
		}
		return &t, nil
	}
	t := now.UTC().Add(DefaultValidity).Truncate(time.Second)
	return &t, nil
}

// parseDate reads YYYY-MM-DD as the end of that day (24:00 UTC) or an
// RFC 3339 time.
func parseDate(s string) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.Add(24 * time.Hour).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: --expires %q: use YYYY-MM-DD or RFC 3339 (2026-12-31T18:00:00Z)", ErrBadValidity, s)
	}
	return t.UTC().Truncate(time.Second), nil
}
