package accounts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/robotgate/robotgate/policy"
)

func TestEditorCreate(t *testing.T) {
	ed := newTestEditor(t)
	exp := t0.Add(30 * 24 * time.Hour)
	grants := []policy.Grant{{Namespace: "team-a", Level: policy.LevelReadWrite}, {Namespace: "base-*", Level: policy.LevelReadOnly}}
	now := t0.Add(123 * time.Millisecond)
	a, pw, err := ed.Create(NewAccount{Name: "ci-bot", Description: "release pipeline", Grants: grants, ExpiresAt: &exp}, now)
	require.NoError(t, err)
	assert.Equal(t, "tcr$ci-bot", a.Name)
	assert.Len(t, pw, GeneratedLength, "a generated password")
	assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(pw)))

	st, err := os.Stat(ed.Path)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), st.Mode().Perm(), "SPEC section 1: created with mode 0600")

	data, err := os.ReadFile(ed.Path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), FileHeader))
	assert.NotContains(t, string(data), pw, "the password itself is never stored")

	list := readList(t, ed.Path)
	require.Equal(t, 1, list.Len())
	assert.Equal(t, utc(&Account{
		Name: "tcr$ci-bot", Description: "release pipeline", PasswordHash: a.PasswordHash,
		CreatedAt: t0, UpdatedAt: t0, ExpiresAt: &exp, Grants: grants,
	}), utc(list.All()[0]), "times are stored to the second")
}

func TestEditorCreateCustomPassword(t *testing.T) {
	ed := newTestEditor(t)
	a, pw, err := ed.Create(NewAccount{Name: "tcr$ci-bot", Password: "My-Passw0rd"}, t0)
	require.NoError(t, err)
	assert.Equal(t, "My-Passw0rd", pw)
	assert.NoError(t, bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte("My-Passw0rd")))

	_, _, err = ed.Create(NewAccount{Name: "weak", Password: "password"}, t0)
	require.ErrorIs(t, err, ErrBadPassword)
	assert.Equal(t, 1, readList(t, ed.Path).Len(), "a refused password creates nothing")
}

func TestEditorDefaultCostIsBcryptCost(t *testing.T) {
	ed := &Editor{Path: filepath.Join(t.TempDir(), "accounts.toml"), Prefix: testPrefix}
	a, _, err := ed.Create(NewAccount{Name: "ci-bot"}, t0)
	require.NoError(t, err)
	cost, err := bcrypt.Cost([]byte(a.PasswordHash))
	require.NoError(t, err)
	assert.Equal(t, BcryptCost, cost)
}

func TestEditorRefuses(t *testing.T) {
	tests := []struct {
		name    string
		op      func(ed *Editor) error
		wantIs  error
		wantMsg string
	}{
		{"create existing", func(ed *Editor) error {
			_, _, err := ed.Create(NewAccount{Name: "ci-bot"}, t0)
			return err
		}, ErrExists, "tcr$ci-bot"},
		{"create existing by full name", func(ed *Editor) error {
			_, _, err := ed.Create(NewAccount{Name: "tcr$ci-bot"}, t0)
			return err
		}, ErrExists, "tcr$ci-bot"},
		{"create bad name", func(ed *Editor) error {
			_, _, err := ed.Create(NewAccount{Name: "CI bot"}, t0)
			return err
		}, ErrBadName, NameRule},
		{"create invalid grant", func(ed *Editor) error {
			_, _, err := ed.Create(NewAccount{Name: "x", Grants: []policy.Grant{{Namespace: "Team A", Level: policy.LevelReadOnly}}}, t0)
			return err
		}, ErrInvalidFile, "refusing to write an invalid account file"},
		{"update missing", func(ed *Editor) error {
			d := "x"
			_, err := ed.Update("nobody", Change{Description: &d}, t0)
			return err
		}, ErrNotFound, "no service account tcr$nobody; see robotgate account list"},
		{"disable missing", func(ed *Editor) error {
			off := true
			_, err := ed.Update("nobody", Change{Disabled: &off}, t0)
			return err
		}, ErrNotFound, "see robotgate account list"},
		{"rotate missing", func(ed *Editor) error {
			_, _, err := ed.Rotate("nobody", "", 0, t0)
			return err
		}, ErrNotFound, "see robotgate account list"},
		{"delete missing", func(ed *Editor) error { return ed.Delete("nobody") }, ErrNotFound, "see robotgate account list"},
		{"delete bad name", func(ed *Editor) error { return ed.Delete("No Such") }, ErrBadName, NameRule},
		{"revoke a grant that does not exist", func(ed *Editor) error {
			_, err := ed.Update("ci-bot", Change{Revoke: []string{"team-z"}}, t0)
			return err
		}, nil, `account tcr$ci-bot has no grant on "team-z" (grants: team-ci-bot:rw)`},
		{"revoke with a valid grant in the same change", func(ed *Editor) error {
			_, err := ed.Update("ci-bot", Change{Grants: []policy.Grant{{Namespace: "new", Level: policy.LevelReadOnly}}, Revoke: []string{"team-z"}}, t0)
			return err
		}, nil, `has no grant on "team-z"`},
		{"rotate to a weak password", func(ed *Editor) error {
			_, _, err := ed.Rotate("ci-bot", "short", 0, t0)
			return err
		}, ErrBadPassword, PasswordRule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ed := newTestEditor(t)
			before := writeAccounts(t, ed.Path, acct(t, "ci-bot", "Passw0rd"))
			err := tt.op(ed)
			require.Error(t, err)
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
			assert.Contains(t, err.Error(), tt.wantMsg)
			after, rerr := os.ReadFile(ed.Path)
			require.NoError(t, rerr)
			assert.Equal(t, string(before), string(after), "a refused edit changes nothing")
		})
	}
}

// Each operation on the middle account leaves the others byte for byte and
// changes only the fields it names (and updated_at).
func TestEditorChangesOnlyWhatWasAsked(t *testing.T) {
	edited := t0.Add(time.Hour)
	exp := t0.Add(10 * 24 * time.Hour)
	tests := []struct {
		name string
		op   func(t *testing.T, ed *Editor)
		// want turns the original middle account into the expected one;
		// nil: the account is gone.
		want func(t *testing.T, b, got *Account) *Account
	}{
		{
			name: "update description",
			op: func(t *testing.T, ed *Editor) {
				d := "new \"words\"\nsecond line"
				_, err := ed.Update("b", Change{Description: &d}, edited)
				require.NoError(t, err)
			},
			want: func(_ *testing.T, b, _ *Account) *Account { b.Description = "new \"words\"\nsecond line"; return b },
		},
		{
			name: "update adds a grant",
			op: func(t *testing.T, ed *Editor) {
				_, err := ed.Update("b", Change{Grants: []policy.Grant{{Namespace: "extra-*", Level: policy.LevelReadOnly}}}, edited)
				require.NoError(t, err)
			},
			want: func(_ *testing.T, b, _ *Account) *Account {
				b.Grants = append(b.Grants, policy.Grant{Namespace: "extra-*", Level: policy.LevelReadOnly})
				return b
			},
		},
		{
			name: "update replaces a grant in place",
			op: func(t *testing.T, ed *Editor) {
				_, err := ed.Update("tcr$b", Change{Grants: []policy.Grant{{Namespace: "team-b", Level: policy.LevelReadWriteDelete}}}, edited)
				require.NoError(t, err)
			},
			want: func(_ *testing.T, b, _ *Account) *Account { b.Grants[0].Level = policy.LevelReadWriteDelete; return b },
		},
		{
			name: "update revokes a grant",
			op: func(t *testing.T, ed *Editor) {
				_, err := ed.Update("b", Change{Revoke: []string{"team-b"}}, edited)
				require.NoError(t, err)
			},
			want: func(_ *testing.T, b, _ *Account) *Account { b.Grants = b.Grants[1:]; return b },
		},
		{
			name: "update sets an expiry",
			op: func(t *testing.T, ed *Editor) {
				_, err := ed.Update("b", Change{Expiry: &Expiry{At: &exp}}, edited)
				require.NoError(t, err)
			},
			want: func(_ *testing.T, b, _ *Account) *Account { b.ExpiresAt = &exp; return b },
		},
		{
			name: "update makes permanent",
			op: func(t *testing.T, ed *Editor) {
				_, err := ed.Update("b", Change{Expiry: &Expiry{}}, edited)
				require.NoError(t, err)
			},
			want: func(_ *testing.T, b, _ *Account) *Account { b.ExpiresAt = nil; return b },
		},
		{
			name: "disable",
			op: func(t *testing.T, ed *Editor) {
				off := true
				_, err := ed.Update("b", Change{Disabled: &off}, edited)
				require.NoError(t, err)
			},
			want: func(_ *testing.T, b, _ *Account) *Account { b.Disabled = true; return b },
		},
		{
			name: "enable",
			op: func(t *testing.T, ed *Editor) {
				for _, v := range []bool{true, false} {
					_, err := ed.Update("b", Change{Disabled: &v}, edited)
					require.NoError(t, err)
				}
			},
			want: func(_ *testing.T, b, _ *Account) *Account { return b },
		},
		{
			name: "rotate",
			op: func(t *testing.T, ed *Editor) {
				a, pw, err := ed.Rotate("b", "", 0, edited)
				require.NoError(t, err)
				require.NoError(t, bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(pw)))
			},
			want: func(t *testing.T, b, got *Account) *Account {
				require.NotEqual(t, b.PasswordHash, got.PasswordHash)
				b.PasswordHash = got.PasswordHash
				return b
			},
		},
		{
			name: "rotate with grace",
			op: func(t *testing.T, ed *Editor) {
				_, _, err := ed.Rotate("b", "N3w-password", 2*time.Hour, edited)
				require.NoError(t, err)
			},
			want: func(t *testing.T, b, got *Account) *Account {
				require.NoError(t, bcrypt.CompareHashAndPassword([]byte(got.PasswordHash), []byte("N3w-password")))
				b.PreviousHash, b.PreviousUntil = b.PasswordHash, edited.Add(2*time.Hour)
				b.PasswordHash = got.PasswordHash
				return b
			},
		},
		{
			name: "delete",
			op:   func(t *testing.T, ed *Editor) { require.NoError(t, ed.Delete("b")) },
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ed := newTestEditor(t)
			b := acct(t, "b", "Passw0rd")
			b.Grants = append(b.Grants, policy.Grant{Namespace: "shared", Level: policy.LevelReadOnly})
			orig := []*Account{acct(t, "a", "Passw0rd"), b, acct(t, "c", "Passw0rd")}
			orig[0].Description = "left \"alone\" ✓"
			writeAccounts(t, ed.Path, orig...)

			tt.op(t, ed)

			got := readList(t, ed.Path).All()
			if tt.want == nil {
				require.Equal(t, []string{"tcr$a", "tcr$c"}, names(got))
				assert.Equal(t, Encode([]*Account{orig[0], orig[2]}), Encode(got), "the others byte for byte")
				return
			}
			require.Equal(t, []string{"tcr$a", "tcr$b", "tcr$c"}, names(got), "order is kept")
			assert.Equal(t, Encode([]*Account{orig[0]}), Encode(got[:1]), "the account before, byte for byte")
			assert.Equal(t, Encode([]*Account{orig[2]}), Encode(got[2:]), "the account after, byte for byte")
			want := tt.want(t, b.clone(), got[1])
			want.UpdatedAt = edited
			assert.Equal(t, utc(want), utc(got[1]))
		})
	}
}

func TestEditorKeepsFileMode(t *testing.T) {
	ed := newTestEditor(t)
	writeAccounts(t, ed.Path, acct(t, "ci-bot", "Passw0rd"))
	require.NoError(t, os.Chmod(ed.Path, 0o640))
	require.NoError(t, ed.Delete("ci-bot"))
	st, err := os.Stat(ed.Path)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o640), st.Mode().Perm(), "an operator's chosen mode is kept")
}

func TestEditorRefusesInvalidExistingFile(t *testing.T) {
	ed := newTestEditor(t)
	hand := "# written by hand\n[[account]]\nname = \"ci-bot\"  # forgot the prefix\npassword_hash = \"" + hashOf(t, "Passw0rd") + "\"\n"
	require.NoError(t, os.WriteFile(ed.Path, []byte(hand), FileMode))

	_, _, err := ed.Create(NewAccount{Name: "other"}, t0)
	require.ErrorIs(t, err, ErrInvalidFile)
	assert.Contains(t, err.Error(), ed.Path+":3:")
	assert.Contains(t, err.Error(), "nothing was changed")
	data, rerr := os.ReadFile(ed.Path)
	require.NoError(t, rerr)
	assert.Equal(t, hand, string(data), "byte for byte, comments and all")
}

func TestEditorFailureBeforeRenameLeavesFileAlone(t *testing.T) {
	ed := newTestEditor(t)
	before := writeAccounts(t, ed.Path, acct(t, "ci-bot", "Passw0rd"))
	boom := errors.New("disk full")
	var sawTmp string
	ed.beforeRename = func(tmp string) error {
		sawTmp = tmp
		data, err := os.ReadFile(tmp)
		require.NoError(t, err)
		require.Contains(t, string(data), "tcr$other", "the new content was written to the temporary file")
		assert.Equal(t, filepath.Dir(ed.Path), filepath.Dir(tmp), "the temporary file is in the same directory, so rename is atomic")
		return boom
	}

	_, _, err := ed.Create(NewAccount{Name: "other"}, t0)
	require.ErrorIs(t, err, boom)
	require.NotEmpty(t, sawTmp)

	after, rerr := os.ReadFile(ed.Path)
	require.NoError(t, rerr)
	assert.Equal(t, string(before), string(after))
	assert.NoFileExists(t, sawTmp)
	assert.Equal(t, []string{"accounts.toml", "accounts.toml.lock"}, dirNames(t, filepath.Dir(ed.Path)), "no temporary file left behind")
}

func TestEditorConcurrentCreatesLoseNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "accounts.toml")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			// One editor each, as separate `robotgate account create` runs.
			ed := &Editor{Path: path, Prefix: testPrefix, cost: bcrypt.MinCost}
			<-start
			_, _, err := ed.Create(NewAccount{Name: fmt.Sprintf("bot-%02d", i)}, t0)
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got := names(readList(t, path).All())
	sort.Strings(got)
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("tcr$bot-%02d", i)
	}
	assert.Equal(t, want, got, "every create survived")
	assert.Equal(t, []string{"accounts.toml", "accounts.toml.lock"}, dirNames(t, dir))
}

func TestEditorFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real", "accounts.toml")
	require.NoError(t, os.Mkdir(filepath.Dir(real), 0o700))
	writeAccounts(t, real, acct(t, "ci-bot", "Passw0rd"))
	link := filepath.Join(dir, "accounts.toml")
	require.NoError(t, os.Symlink(real, link))

	ed := &Editor{Path: link, Prefix: testPrefix, cost: bcrypt.MinCost}
	_, _, err := ed.Create(NewAccount{Name: "other"}, t0)
	require.NoError(t, err)

	st, err := os.Lstat(link)
	require.NoError(t, err)
	assert.Equal(t, fs.ModeSymlink, st.Mode().Type(), "the link itself survives the edit")
	assert.Equal(t, []string{"tcr$ci-bot", "tcr$other"}, names(readList(t, real).All()))
}

func TestEditorEditFnErrorWritesNothing(t *testing.T) {
	ed := newTestEditor(t)
	before := writeAccounts(t, ed.Path, acct(t, "ci-bot", "Passw0rd"))
	stop := errors.New("stop")
	err := ed.Edit(func(accts []*Account) ([]*Account, error) { return nil, stop })
	require.ErrorIs(t, err, stop)
	after, rerr := os.ReadFile(ed.Path)
	require.NoError(t, rerr)
	assert.Equal(t, before, after)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
