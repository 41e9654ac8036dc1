package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/robotgate/robotgate/accounts"
)

// readAccounts loads the account file and the last-used state for list and
// show. A missing account file is an empty list.
func readAccounts(ed *accounts.Editor) (*accounts.List, map[string]time.Time, error) {
	data, err := os.ReadFile(ed.Path)
	if errors.Is(err, fs.ErrNotExist) {
		data = nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("read account file: %w", err)
	}
	list, err := accounts.Parse(ed.Path, data, ed.Prefix)
	if err != nil {
		return nil, nil, err
	}
	used, err := accounts.ReadLastUsed(accounts.LastUsedPath(ed.Path))
	if err != nil {
		used = map[string]time.Time{} // last-used is a convenience; never fail list on it
	}
	return list, used, nil
}

func accountList(e env, global *flags, args []string) error {
	f := newFlags("account list")
	asJSON := f.Bool("json", false, "print JSON")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("account list takes no arguments")
	}
	_, ed, err := accountEnv(f, global)
	if err != nil {
		return err
	}
	list, used, err := readAccounts(ed)
	if err != nil {
		return err
	}
	now := time.Now()
	views := make([]accounts.View, 0, list.Len())
	for _, a := range list.Sorted() {
		views = append(views, accounts.ViewOf(a, now, used[a.Name]))
	}
	if *asJSON {
		return accounts.WriteJSON(e.stdout, views)
	}
	return accounts.WriteTable(e.stdout, views, now)
}

func accountShow(e env, global *flags, args []string) error {
	f := newFlags("account show")
	asJSON := f.Bool("json", false, "print JSON")
	name, ed, err := namedAccount(f, global, args, "show")
	if err != nil {
		return err
	}
	full, err := accounts.NormalizeName(ed.Prefix, name)
	if err != nil {
		return err
	}
	list, used, err := readAccounts(ed)
	if err != nil {
		return err
	}
	a, ok := list.Get(full)
	if !ok {
		return fmt.Errorf("%w %s; see robotgate account list", accounts.ErrNotFound, full)
	}
	now := time.Now()
	v := accounts.ViewOf(a, now, used[a.Name])
	if *asJSON {
		return accounts.WriteJSON(e.stdout, v)
	}
	return accounts.WriteDetail(e.stdout, v, now)
}

func accountUpdate(e env, global *flags, args []string) error {
	f := newFlags("account update")
	var grants, revoke multi
	f.Var(&grants, "grant", "NAMESPACE=ACCESS to add or replace (repeatable)")
	f.Var(&revoke, "revoke", "NAMESPACE whose grant to remove (repeatable)")
	validity := validityFlags(f)
	var desc *string
	f.Func("description", "new description", func(s string) error { desc = &s; return nil })
	name, ed, err := namedAccount(f, global, args, "update")
	if err != nil {
		return err
	}
	c := accounts.Change{Description: desc, Revoke: revoke}
	if c.Grants, err = parseGrants(grants); err != nil {
		return err
	}
	now := time.Now()
	if validity.Set() {
		at, err := validity.Resolve(now)
		if err != nil {
			return err
		}
		c.Expiry = &accounts.Expiry{At: at}
	}
	if c.Description == nil && len(c.Grants) == 0 && len(c.Revoke) == 0 && c.Expiry == nil {
		return usagef("account update: nothing to change; give --grant, --revoke, --days, --expires, --permanent or --description")
	}
	a, err := ed.Update(name, c, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "updated service account %s\n", a.Name)
	return nil
}

func accountSetDisabled(disabled bool) func(env, *flags, []string) error {
	verb := map[bool]string{true: "disable", false: "enable"}[disabled]
	return func(e env, global *flags, args []string) error {
		f := newFlags("account " + verb)
		name, ed, err := namedAccount(f, global, args, verb)
		if err != nil {
			return err
		}
		a, err := ed.Update(name, accounts.Change{Disabled: &disabled}, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%sd service account %s\n", verb, a.Name)
		if !disabled && a.Expired(time.Now()) {
			fmt.Fprintf(e.stderr, "note: %s expired on %s and still cannot log in; extend it with: robotgate account update '%s' --days N\n",
				a.Name, a.ExpiresAt.UTC().Format(time.RFC3339), a.Name)
		}
		return nil
	}
}

func accountDelete(e env, global *flags, args []string) error {
	f := newFlags("account delete")
	name, ed, err := namedAccount(f, global, args, "delete")
	if err != nil {
		return err
	}
	if err := ed.Delete(name); err != nil {
		return err
	}
	full, _ := accounts.NormalizeName(ed.Prefix, name)
	fmt.Fprintf(e.stdout, "deleted service account %s\n", full)
	return nil
}
