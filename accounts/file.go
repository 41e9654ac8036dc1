package accounts

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/bcrypt"

	"github.com/robotgate/robotgate/policy"
)

// fileAccount is one [[account]] table as written in the file.
type fileAccount struct {
	Name          string      `toml:"name"`
	Description   string      `toml:"description"`
	PasswordHash  string      `toml:"password_hash"`
	PreviousHash  string      `toml:"previous_password_hash"`
	PreviousUntil time.Time   `toml:"previous_password_until"`
	CreatedAt     time.Time   `toml:"created_at"`
	UpdatedAt     time.Time   `toml:"updated_at"`
	ExpiresAt     *time.Time  `toml:"expires_at"`
	Disabled      bool        `toml:"disabled"`
	Grants        []fileGrant `toml:"grants"`
}

type fileGrant struct {
	Namespace string `toml:"namespace"`
	Access    string `toml:"access"`
}

type fileDoc struct {
	Account []fileAccount `toml:"account"`
}

// ErrInvalidFile wraps every problem found in an account file.
var ErrInvalidFile = errors.New("invalid account file")

// Parse reads and validates an account file. Any problem refuses the whole
// file; the error lists every problem as "path:line: what".
func Parse(path string, data []byte, prefix string) (*List, error) {
	var doc fileDoc
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("%w: %s:%d: %s", ErrInvalidFile, path, perr.Position.Line, perr.Message)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidFile, path, err)
	}
	blocks := accountBlocks(data)
	var errs []error
	at := func(i int, key string) string {
		return fmt.Sprintf("%s:%d", path, blocks.line(i, key))
	}
	for _, k := range md.Undecoded() {
		lines := blocks.unknownKeyLines(k)
		if len(lines) == 0 {
			errs = append(errs, fmt.Errorf("%s: unknown key %q", path, k.String()))
		}
		for _, n := range lines {
			errs = append(errs, fmt.Errorf("%s:%d: unknown key %q", path, n, k.String()))
		}
	}
	list := &List{byName: make(map[string]*Account, len(doc.Account)), Hash: sha256.Sum256(data)}
	for i, fa := range doc.Account {
		a, problems := convert(prefix, fa)
		for _, p := range problems {
			loc := at(i, p.key)
			if p.key == "grants" {
				loc = fmt.Sprintf("%s:%d", path, blocks.grantLine(i, p.namespace))
			}
			errs = append(errs, fmt.Errorf("%s: account %d (%s): %v", loc, i+1, describe(fa.Name), p.err))
		}
		if len(problems) > 0 {
			continue
		}
		if _, dup := list.byName[a.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: account %d: duplicate name %q", at(i, "name"), i+1, a.Name))
			continue
		}
		list.byName[a.Name] = a
		list.accounts = append(list.accounts, a)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w:\n%w", ErrInvalidFile, errors.Join(errs...))
	}
	return list, nil
}

func describe(name string) string {
	if name == "" {
		return "no name"
	}
	return name
}

type problem struct {
	key       string
	err       error
	namespace string // for key "grants": the grant's namespace, to find its line
}

// convert validates one account as written and turns it into an Account.
func convert(prefix string, fa fileAccount) (*Account, []problem) {
	var ps []problem
	if fa.Name == "" {
		ps = append(ps, problem{key: "", err: errors.New("name is missing")})
	} else if err := checkFullName(prefix, fa.Name); err != nil {
		ps = append(ps, problem{key: "name", err: err})
	}
	if err := checkHash(fa.PasswordHash); err != nil {
		ps = append(ps, problem{key: "password_hash", err: err})
	}
	if fa.PreviousHash != "" {
		if err := checkHash(fa.PreviousHash); err != nil {
			ps = append(ps, problem{key: "previous_password_hash", err: err})
		}
	}
	a := &Account{
		Name: fa.Name, Description: fa.Description, PasswordHash: fa.PasswordHash,
		PreviousHash: fa.PreviousHash, PreviousUntil: fa.PreviousUntil,
		CreatedAt: fa.CreatedAt, UpdatedAt: fa.UpdatedAt, ExpiresAt: fa.ExpiresAt, Disabled: fa.Disabled,
	}
	for _, g := range fa.Grants {
		if err := policy.ValidatePattern(g.Namespace); err != nil {
			ps = append(ps, problem{key: "grants", err: fmt.Errorf("grant: %w", err), namespace: g.Namespace})
			continue
		}
		lvl, err := policy.ParseLevel(g.Access)
		if err != nil {
			ps = append(ps, problem{key: "grants", err: fmt.Errorf("grant on %q: %w", g.Namespace, err), namespace: g.Namespace})
			continue
		}
		a.Grants = append(a.Grants, policy.Grant{Namespace: g.Namespace, Level: lvl})
	}
	return a, ps
}

func checkHash(h string) error {
	if h == "" {
		return errors.New("password_hash is missing")
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return fmt.Errorf("password_hash is not a bcrypt hash: %v", err)
	}
	return nil
}

// blocks records where each [[account]] table starts and its keys' lines,
// because the TOML decoder does not export positions.
type blocks struct {
	start []int
	keys  []map[string]int
	lines []string // the file's lines, trimmed; lines[n-1] is line n
}

func accountBlocks(data []byte) blocks {
	var b blocks
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		b.lines = append(b.lines, line)
		if strings.HasPrefix(line, "[[") && strings.Trim(strings.SplitN(line, "#", 2)[0], "[] \t") == "account" {
			b.start = append(b.start, n)
			b.keys = append(b.keys, map[string]int{})
			continue
		}
		if len(b.keys) == 0 {
			continue
		}
		if k, _, ok := strings.Cut(line, "="); ok {
			k = strings.TrimSpace(k)
			if _, seen := b.keys[len(b.keys)-1][k]; !seen {
				b.keys[len(b.keys)-1][k] = n
			}
		}
	}
	return b
}

// line returns the line of key in account i, or the account's first line.
func (b blocks) line(i int, key string) int {
	if i >= len(b.start) {
		return 0
	}
	if n, ok := b.keys[i][key]; ok {
		return n
	}
	return b.start[i]
}

// end returns the last line of account i.
func (b blocks) end(i int) int {
	if i+1 < len(b.start) {
		return b.start[i+1] - 1
	}
	return len(b.lines)
}

// grantLine returns the line of the grant on namespace in account i, or the
// line of its grants key when the grant cannot be told apart.
func (b blocks) grantLine(i int, namespace string) int {
	if i < len(b.start) {
		re := regexp.MustCompile(`namespace\s*=\s*["']` + regexp.QuoteMeta(namespace) + `["']`)
		for n := b.start[i]; n <= b.end(i); n++ {
			if re.MatchString(b.lines[n-1]) {
				return n
			}
		}
	}
	return b.line(i, "grants")
}

// unknownKeyLines returns the lines where an undecoded key is written: in
// every account that has it for account.KEY, on every line that assigns it
// for a key nested deeper (a grant's inline table), and for any other key
// the line of its table header or of its assignment. Empty when it cannot
// tell.
func (b blocks) unknownKeyLines(k toml.Key) []int {
	var out []int
	if len(k) == 2 && k[0] == "account" {
		for i := range b.keys {
			if n, ok := b.keys[i][k[1]]; ok {
				out = append(out, n)
			}
		}
		return out
	}
	assigns := regexp.MustCompile(`(^|[{,\s])["']?` + regexp.QuoteMeta(k[len(k)-1]) + `["']?\s*=`)
	table := ""       // the table the scan is in
	want := "account" // the table the key must be in
	if k[0] != "account" {
		want = strings.Join(k[:len(k)-1], ".")
	}
	for n, line := range b.lines {
		if strings.HasPrefix(line, "[") {
			table = strings.TrimSpace(strings.Trim(strings.SplitN(line, "#", 2)[0], "[] \t"))
			if k[0] != "account" && table == k.String() {
				out = append(out, n+1)
			}
			continue
		}
		if table == want && assigns.MatchString(line) {
			out = append(out, n+1)
		}
	}
	return out
}
