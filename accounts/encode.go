package accounts

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// FileHeader opens every file the account commands write. A rewrite keeps
// the accounts and their fields, not hand-written comments or key order,
// and the header says so where the operator will read it.
const FileHeader = `# robotgate service accounts (SPEC section 3).
# Edited by "robotgate account ..." and by hand; the gateway reloads it on change.
# The account commands rewrite this file: comments other than this header and
# the order of keys inside an account are not kept. Accounts keep their order.
`

// Encode renders accounts in the layout of SPEC section 3.
func Encode(accounts []*Account) []byte {
	var b bytes.Buffer
	b.WriteString(FileHeader)
	for _, a := range accounts {
		b.WriteString("\n[[account]]\n")
		fmt.Fprintf(&b, "name = %s\n", quote(a.Name))
		fmt.Fprintf(&b, "description = %s\n", quote(a.Description))
		fmt.Fprintf(&b, "password_hash = %s\n", quote(a.PasswordHash))
		if a.PreviousHash != "" {
			fmt.Fprintf(&b, "previous_password_hash = %s\n", quote(a.PreviousHash))
			fmt.Fprintf(&b, "previous_password_until = %s\n", stamp(a.PreviousUntil))
		}
		if !a.CreatedAt.IsZero() {
			fmt.Fprintf(&b, "created_at = %s\n", stamp(a.CreatedAt))
		}
		if !a.UpdatedAt.IsZero() {
			fmt.Fprintf(&b, "updated_at = %s\n", stamp(a.UpdatedAt))
		}
		if a.ExpiresAt != nil {
			fmt.Fprintf(&b, "expires_at = %s\n", stamp(*a.ExpiresAt))
		}
		fmt.Fprintf(&b, "disabled = %t\n", a.Disabled)
		if len(a.Grants) == 0 {
			b.WriteString("grants = []\n")
			continue
		}
		b.WriteString("grants = [\n")
		for _, g := range a.Grants {
			fmt.Fprintf(&b, "  { namespace = %s, access = %s },\n", quote(g.Namespace), quote(g.Level.String()))
		}
		b.WriteString("]\n")
	}
	return b.Bytes()
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// quote writes a TOML basic string: only \" \\ and \uXXXX escapes, which
// every TOML reader accepts (strconv.Quote's \x and \a are not TOML).
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == utf8.RuneError, r < 0x20, r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
