package accounts

import "sort"

// List is an immutable, validated set of accounts. A new file yields a new
// List; nothing mutates one that requests may be reading.
type List struct {
	accounts []*Account
	byName   map[string]*Account
	// Hash is the SHA-256 of the file content the list came from.
	Hash [32]byte
}

// Get finds an account by its full name.
func (l *List) Get(name string) (a *Account, ok bool) {
	if l == nil {
		return nil, false
	}
	a, ok = l.byName[name]
	return a, ok
}

// All returns the accounts in file order.
func (l *List) All() []*Account {
	if l == nil {
		return nil
	}
	return l.accounts
}

// Sorted returns the accounts ordered by name.
func (l *List) Sorted() []*Account {
	out := append([]*Account(nil), l.All()...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Len is the number of accounts.
func (l *List) Len() int { return len(l.All()) }
