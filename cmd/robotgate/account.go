package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/robotgate/robotgate/accounts"
	"github.com/robotgate/robotgate/config"
	"github.com/robotgate/robotgate/policy"
)

func cmdAccount(e env, global *flags, args []string) error {
	if len(args) == 0 {
		return usagef("account needs a subcommand: create, list, show, update, disable, enable, delete, rotate")
	}
	sub, args := args[0], args[1:]
	if sub == "-h" || sub == "--help" || sub == "help" {
		return errHelp
	}
	handlers := map[string]func(env, *flags, []string) error{
		"create": accountCreate, "list": accountList, "show": accountShow, "update": accountUpdate,
		"disable": accountSetDisabled(true), "enable": accountSetDisabled(false),
		"delete": accountDelete, "rotate": accountRotate,
	}
	h, ok := handlers[sub]
	if !ok {
		return usagef("unknown account subcommand %q", sub)
	}
	return h(e, global, args)
}

// accountEnv is what every account subcommand needs: the config and an
// editor of its account file.
func accountEnv(f *flags, global *flags) (*config.Config, *accounts.Editor, error) {
	f.inherit(global)
	cfg, err := f.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	return cfg, &accounts.Editor{Path: cfg.Accounts.File, Prefix: cfg.Accounts.Prefix}, nil
}

// namedAccount parses the flags of a command that takes exactly one NAME
// and returns that name and an editor of the configured account file.
func namedAccount(f, global *flags, args []string, cmd string) (string, *accounts.Editor, error) {
	pos, err := f.parse(args)
	if err != nil {
		return "", nil, err
	}
	name, err := oneName(pos, cmd)
	if err != nil {
		return "", nil, err
	}
	_, ed, err := accountEnv(f, global)
	return name, ed, err
}

func oneName(pos []string, cmd string) (string, error) {
	if len(pos) != 1 {
		return "", usagef("account %s takes exactly one NAME, got %d arguments", cmd, len(pos))
	}
	return pos[0], nil
}

func validityFlags(f *flags) *accounts.Validity {
	v := &accounts.Validity{}
	f.Func("days", "valid for N days from now", func(s string) error {
		var n int
		if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s {
			return fmt.Errorf("--days wants a whole number, got %q", s)
		}
		v.Days, v.DaysSet = n, true
		return nil
	})
	f.StringVar(&v.Expires, "expires", "", "valid until YYYY-MM-DD (end of day UTC) or an RFC 3339 time")
	f.BoolVar(&v.Permanent, "permanent", false, "never expires")
	return v
}

func parseGrants(specs []string) ([]policy.Grant, error) {
	var out []policy.Grant
	for _, s := range specs {
		ns, access, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--grant %q: use NAMESPACE=ACCESS, e.g. team-a=rw", s)
		}
		if err := policy.ValidatePattern(ns); err != nil {
			return nil, fmt.Errorf("--grant %q: %w", s, err)
		}
		lvl, err := policy.ParseLevel(access)
		if err != nil {
			return nil, fmt.Errorf("--grant %q: %w", s, err)
		}
		g := policy.Grant{Namespace: ns, Level: lvl}
		if i := slices.IndexFunc(out, func(o policy.Grant) bool { return o.Namespace == ns }); i >= 0 {
			out[i] = g // a later --grant on the same namespace replaces, as update does
			continue
		}
		out = append(out, g)
	}
	return out, nil
}

// readPassword reads one line from stdin for --password-stdin.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("--password-stdin: no password on standard input")
	}
	return line, nil
}

// secretOut is the JSON of create and rotate (SPEC section 1).
type secretOut struct {
	Name      string     `json:"name"`
	Password  string     `json:"password"`
	ExpiresAt *time.Time `json:"expires_at"`
	CreatedAt time.Time  `json:"created_at"`
}

func printSecret(e env, asJSON, custom bool, verb string, a *accounts.Account, password string) error {
	if asJSON {
		return accounts.WriteJSON(e.stdout, secretOut{Name: a.Name, Password: password, ExpiresAt: a.ExpiresAt, CreatedAt: a.CreatedAt.UTC()})
	}
	exp := "never expires"
	if a.ExpiresAt != nil {
		exp = "expires " + a.ExpiresAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(e.stdout, "%s service account %s (%s)\n", verb, a.Name, exp)
	if custom {
		fmt.Fprintf(e.stdout, "password: the one read from standard input\n")
	} else {
		fmt.Fprintf(e.stdout, "password (shown once, store it now): %s\n", password)
	}
	fmt.Fprintf(e.stdout, "log in with: docker login -u '%s' --password-stdin REGISTRY\n", a.Name)
	return nil
}

func accountCreate(e env, global *flags, args []string) error {
	f := newFlags("account create")
	var grants multi
	f.Var(&grants, "grant", "NAMESPACE=ACCESS (repeatable)")
	validity := validityFlags(f)
	desc := f.String("description", "", "what the account is for")
	disabled := f.Bool("disabled", false, "create it switched off")
	stdin := f.Bool("password-stdin", false, "read a custom password from standard input")
	asJSON := f.Bool("json", false, "print JSON")
	name, ed, err := namedAccount(f, global, args, "create")
	if err != nil {
		return err
	}
	gs, err := parseGrants(grants)
	if err != nil {
		return err
	}
	now := time.Now()
	exp, err := validity.Resolve(now)
	if err != nil {
		return err
	}
	n := accounts.NewAccount{Name: name, Description: *desc, Grants: gs, ExpiresAt: exp, Disabled: *disabled}
	if *stdin {
		if n.Password, err = readPassword(e.stdin); err != nil {
			return err
		}
	}
	a, pw, err := ed.Create(n, now)
	if err != nil {
		return err
	}
	if len(gs) == 0 && !*asJSON {
		fmt.Fprintf(e.stderr, "note: %s has no grants yet; add one with: robotgate account update '%s' --grant NS=ACCESS\n", a.Name, a.Name)
	}
	return printSecret(e, *asJSON, *stdin, "created", a, pw)
}

func accountRotate(e env, global *flags, args []string) error {
	f := newFlags("account rotate")
	stdin := f.Bool("password-stdin", false, "read a custom password from standard input")
	var grace time.Duration
	f.Func("grace", "keep the old password valid this long (e.g. 24h)", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("use a Go duration such as 24h or 90m, got %q", s)
		}
		grace = d
		return nil
	})
	asJSON := f.Bool("json", false, "print JSON")
	name, ed, err := namedAccount(f, global, args, "rotate")
	if err != nil {
		return err
	}
	if grace < 0 {
		return fmt.Errorf("--grace must not be negative")
	}
	pw := ""
	if *stdin {
		if pw, err = readPassword(e.stdin); err != nil {
			return err
		}
	}
	a, pw, err := ed.Rotate(name, pw, grace, time.Now())
	if err != nil {
		return err
	}
	if st := a.State(time.Now()); st != accounts.StateActive {
		fmt.Fprintf(e.stderr, "note: %s is %s; the new password works only once it is active again\n", a.Name, st)
	}
	if grace > 0 && !*asJSON {
		fmt.Fprintf(e.stderr, "the old password keeps working until %s\n", a.PreviousUntil.Format(time.RFC3339))
	}
	return printSecret(e, *asJSON, *stdin, "rotated", a, pw)
}
