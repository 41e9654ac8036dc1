package main

import (
	"errors"
	"flag"
	"io"
	"strings"

	"github.com/robotgate/robotgate/config"
)

// flags is a FlagSet with --config on every command, parsed so that flags
// may come before or after positional arguments (account create NAME
// --grant ...), as SPEC writes them.
type flags struct {
	*flag.FlagSet
	config    string
	configSet bool
}

func newFlags(name string) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.SetOutput(io.Discard)
	f.StringVar(&f.config, "config", config.DefaultFile, "config file")
	return f
}

// inherit takes --config from the global flags when given there.
func (f *flags) inherit(g *flags) {
	if g.configSet {
		f.config, f.configSet = g.config, true
	}
}

// parseLeading parses flags up to the first positional argument (the
// command word) and returns the rest.
func (f *flags) parseLeading(args []string) ([]string, error) {
	if err := f.Parse(args); err != nil {
		return nil, flagError(err)
	}
	f.markSet()
	return f.Args(), nil
}

// parse parses flags anywhere among args and returns the positionals.
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if err := f.Parse(args); err != nil {
			return nil, flagError(err)
		}
		args = f.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	f.markSet()
	return pos, nil
}

func (f *flags) markSet() {
	f.Visit(func(fl *flag.Flag) {
		if fl.Name == "config" {
			f.configSet = true
		}
	})
}

// loadConfig reads the config the flags name; a missing default file means
// built-in defaults.
func (f *flags) loadConfig() (*config.Config, error) {
	return config.Load(f.config, !f.configSet)
}

// multi collects a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// errHelp asks for the usage text (-h, --help): printed, exit 0.
var errHelp = errors.New("help requested")

// flagError sorts the flag package's errors: -h is a request for help, a
// value the flag could not parse is a bad value (exit 1), anything else
// (an unknown flag) is a usage error (exit 2).
func flagError(err error) error {
	msg := strings.ReplaceAll(err.Error(), " -", " --")
	switch {
	case errors.Is(err, flag.ErrHelp):
		return errHelp
	case strings.HasPrefix(msg, "invalid value"), strings.HasPrefix(msg, "invalid boolean value"):
		return errors.New(msg)
	}
	return usagef("%s", msg)
}
