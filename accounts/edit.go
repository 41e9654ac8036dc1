package accounts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// FileMode is the mode of every account file robotgate creates.
const FileMode = 0o600

// ErrNotFound is returned for a name that has no account.
var ErrNotFound = errors.New("no service account")

// ErrExists is returned when creating a name that is taken.
var ErrExists = errors.New("service account already exists")

// Editor changes the account file on disk, one locked transaction at a time.
type Editor struct {
	Path   string
	Prefix string
	// beforeRename, when set, runs after the temporary file is written and
	// before it replaces the account file (tests inject failures here).
	beforeRename func(tmp string) error
	// cost is the bcrypt cost of new hashes; zero means BcryptCost (tests
	// lower it to stay fast under -race).
	cost int
}

// Edit runs fn on the current accounts and writes the result: lock (flock
// on a file beside it), read, change, validate, write a temporary file in
// the same directory, fsync, rename over the file, fsync the directory. A
// missing file is an empty list; an invalid file is refused so an edit never
// throws away what a person wrote. If fn returns an error nothing is written.
func (e *Editor) Edit(fn func(accts []*Account) ([]*Account, error)) error {
	path, err := e.target()
	if err != nil {
		return err
	}
	unlock, err := lock(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()

	mode := fs.FileMode(FileMode)
	var current []*Account
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read account file: %w", err)
	default:
		list, err := Parse(path, data, e.Prefix)
		if err != nil {
			return fmt.Errorf("%w\nfix the file by hand first; nothing was changed", err)
		}
		for _, a := range list.All() {
			current = append(current, a.clone())
		}
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
	}
	next, err := fn(current)
	if err != nil {
		return err
	}
	out := Encode(next)
	if _, err := Parse(path, out, e.Prefix); err != nil {
		return fmt.Errorf("refusing to write an invalid account file: %w", err)
	}
	return e.replace(path, out, mode)
}

// target resolves a symlinked account file so the link itself survives.
func (e *Editor) target() (string, error) {
	p, err := filepath.EvalSymlinks(e.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return e.Path, nil
	}
	if err != nil {
		return "", fmt.Errorf("account file: %w", err)
	}
	return p, nil
}

func (e *Editor) replace(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write account file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(mode); err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && e.beforeRename != nil {
		err = e.beforeRename(tmp.Name())
	}
	if err != nil {
		return fmt.Errorf("write account file: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write account file: %w", err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// lock takes an exclusive flock on path, creating it.
func lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, FileMode)
	if err != nil {
		return nil, fmt.Errorf("lock account file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock account file: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
