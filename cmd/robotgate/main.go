// Command robotgate is the registry gateway: `serve` runs it, `account`
// manages service accounts, `config check` validates the configuration.
// This package parses flags and wires the other packages together; the
// logic lives in config, accounts, policy and proxy.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

const usage = `usage: robotgate [--config FILE] COMMAND [ARGS]

commands:
  serve                         run the gateway
  account create NAME --grant NS=ACCESS ... [--days N | --expires DATE | --permanent]
                 [--description TEXT] [--disabled] [--password-stdin] [--json]
  account list [--json]
  account show NAME [--json]
  account update NAME [--grant NS=ACCESS ...] [--revoke NS ...]
                 [--days N | --expires DATE | --permanent] [--description TEXT]
  account disable NAME | enable NAME | delete NAME
  account rotate NAME [--password-stdin] [--grace DURATION] [--json]
  config check                  validate the config and the account file
  version                       print version and build info

ACCESS is read-only (ro), read-write (rw) or read-write-delete (rwd).
Every command takes --config FILE (default robotgate.toml).
`

// errUsage marks a usage error (exit status 2); other errors exit 1.
var errUsage = errors.New("usage")

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Unwrap() error { return errUsage }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// env is what a command may touch, so tests can run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func main() {
	e := env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(run(e, os.Args[1:]))
}

func run(e env, args []string) int {
	err := dispatch(e, args)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		fmt.Fprint(e.stdout, usage)
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(e.stderr, "robotgate: %v\nrun 'robotgate help' for usage\n", err)
		return 2
	default:
		fmt.Fprintf(e.stderr, "robotgate: %v\n", err)
		return 1
	}
}

func dispatch(e env, args []string) error {
	global := newFlags("robotgate")
	rest, err := global.parseLeading(args)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		fmt.Fprint(e.stderr, usage)
		return usagef("no command given")
	}
	cmd, rest := rest[0], rest[1:]
	switch cmd {
	case "serve":
		return cmdServe(e, global, rest)
	case "account":
		return cmdAccount(e, global, rest)
	case "config":
		if len(rest) == 0 || rest[0] != "check" {
			return usagef("unknown config command; use 'robotgate config check'")
		}
		return cmdConfigCheck(e, global, rest[1:])
	case "version":
		return cmdVersion(e, global, rest)
	case "help", "-h", "--help":
		fmt.Fprint(e.stdout, usage)
		return nil
	}
	return usagef("unknown command %q", cmd)
}
