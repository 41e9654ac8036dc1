package accounts

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// View is an account as `list --json` and `show --json` print it: never a
// password or hash.
type View struct {
	Name        string      `json:"name"`
	Description string      `json:"description"`
	State       State       `json:"state"`
	Disabled    bool        `json:"disabled"`
	CreatedAt   *time.Time  `json:"created_at"`
	UpdatedAt   *time.Time  `json:"updated_at"`
	ExpiresAt   *time.Time  `json:"expires_at"`
	LastUsedAt  *time.Time  `json:"last_used_at"`
	Grants      []GrantView `json:"grants"`
	Previous    *GraceView  `json:"previous_password,omitempty"`
}

// GrantView is one grant in JSON.
type GrantView struct {
	Namespace string `json:"namespace"`
	Access    string `json:"access"`
}

// GraceView says until when a rotated-out password still works.
type GraceView struct {
	ValidUntil time.Time `json:"valid_until"`
}

// ViewOf builds the view of an account at now; lastUsed may be zero.
func ViewOf(a *Account, now, lastUsed time.Time) View {
	v := View{
		Name: a.Name, Description: a.Description, State: a.State(now), Disabled: a.Disabled,
		CreatedAt: timePtr(a.CreatedAt), UpdatedAt: timePtr(a.UpdatedAt), ExpiresAt: a.ExpiresAt,
		LastUsedAt: timePtr(lastUsed), Grants: []GrantView{},
	}
	for _, g := range a.Grants {
		v.Grants = append(v.Grants, GrantView{Namespace: g.Namespace, Access: g.Level.String()})
	}
	if a.PreviousHash != "" && now.Before(a.PreviousUntil) {
		v.Previous = &GraceView{ValidUntil: a.PreviousUntil.UTC()}
	}
	return v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// WriteJSON prints v indented.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteTable prints the aligned table of `account list`.
func WriteTable(w io.Writer, views []View, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tEXPIRES\tGRANTS\tLAST USED\tDESCRIPTION")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, v.State, expiresCell(v.ExpiresAt, now),
			grantsCell(v.Grants), lastUsedCell(v.LastUsedAt, now), oneLine(v.Description))
	}
	return tw.Flush()
}

func expiresCell(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	return LastDay(*t) + " (" + Relative(*t, now) + ")"
}

func lastUsedCell(t *time.Time, now time.Time) string {
	if t == nil {
		return "never"
	}
	return Relative(*t, now)
}

func grantsCell(gs []GrantView) string {
	if len(gs) == 0 {
		return "-"
	}
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = g.Namespace + ":" + shortAccess(g.Access)
	}
	return strings.Join(parts, ", ")
}

func shortAccess(a string) string {
	switch a {
	case "read-only":
		return "ro"
	case "read-write":
		return "rw"
	case "read-write-delete":
		return "rwd"
	}
	return a
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "\t", " ")
}

// Relative renders t against now: "in 12 days", "3 days ago", "in 5 hours",
// "just now".
func Relative(t, now time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	// Round to the nearest unit: an account made with --days 12 and listed
	// a second later expires "in 12 days", not "in 11 days".
	count := func(unit time.Duration) int { return int((d + unit/2) / unit) }
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = plural(count(time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(count(time.Hour), "hour")
	default:
		s = plural(count(24*time.Hour), "day")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// WriteDetail prints one account for `account show`.
func WriteDetail(w io.Writer, v View, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	stamp := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "name:\t%s\n", v.Name)
	fmt.Fprintf(tw, "state:\t%s\n", v.State)
	fmt.Fprintf(tw, "description:\t%s\n", oneLine(v.Description))
	fmt.Fprintf(tw, "expires:\t%s\n", expiresCell(v.ExpiresAt, now))
	fmt.Fprintf(tw, "last used:\t%s\n", lastUsedCell(v.LastUsedAt, now))
	fmt.Fprintf(tw, "created:\t%s\n", stamp(v.CreatedAt))
	fmt.Fprintf(tw, "updated:\t%s\n", stamp(v.UpdatedAt))
	if v.Previous != nil {
		fmt.Fprintf(tw, "old password valid until:\t%s\n", v.Previous.ValidUntil.Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "grants:\t%s\n", grantsCell(v.Grants))
	return tw.Flush()
}

// LastDay is the last UTC day on which an account expiring at t is valid:
// `--expires 2026-12-31` is stored as 2027-01-01T00:00:00Z (the end of that
// day) and shown as 2026-12-31, the date the operator wrote.
func LastDay(t time.Time) string {
	return t.UTC().Add(-time.Nanosecond).Format(time.DateOnly)
}
