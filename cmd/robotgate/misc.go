package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"runtime/debug"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/robotgate/robotgate/accounts"
	"github.com/robotgate/robotgate/config"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func cmdVersion(e env, _ *flags, args []string) error {
	f := newFlags("version") // accepts --config like every command, and ignores it
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("version takes no arguments")
	}
	rev, when := "unknown", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = " " + s.Value
			}
		}
	}
	fmt.Fprintf(e.stdout, "robotgate %s (commit %s%s, %s, %s/%s)\n", version, rev, when, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// cmdConfigCheck prints every problem of the config and the account file.
func cmdConfigCheck(e env, global *flags, args []string) error {
	f := newFlags("config check")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("config check takes no arguments")
	}
	f.inherit(global)
	cfg, err := f.loadConfig()
	if err != nil {
		return err
	}
	var problems []error
	if err := cfg.Validate(); err != nil {
		problems = append(problems, err)
	}
	data, err := os.ReadFile(cfg.Accounts.File)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(e.stdout, "account file %s does not exist yet; serve will create it\n", cfg.Accounts.File)
	case err != nil:
		problems = append(problems, fmt.Errorf("account file: %w", err))
	default:
		list, err := accounts.Parse(cfg.Accounts.File, data, cfg.Accounts.Prefix)
		if err != nil {
			problems = append(problems, err)
		} else {
			fmt.Fprintf(e.stdout, "account file %s: %d accounts\n", cfg.Accounts.File, list.Len())
		}
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	src := cfg.Path
	if src == "" {
		src = "built-in defaults"
	}
	fmt.Fprintf(e.stdout, "configuration OK (%s)\n", src)
	return nil
}

func newLogger(c config.Log, e env) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	ec := zap.NewProductionEncoderConfig()
	ec.TimeKey = "time"
	ec.EncodeTime = zapcore.RFC3339NanoTimeEncoder
	var enc zapcore.Encoder = zapcore.NewJSONEncoder(ec)
	if c.Format == "console" {
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	}
	core := zapcore.NewCore(enc, zapcore.AddSync(e.stderr), lvl)
	return zap.New(core), nil
}
