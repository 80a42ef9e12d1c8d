package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every setting is a flag, and most have a GATEHOUSE_* variable too. The
// variable is read after the command line, through the flag's own parser
// (applyEnv): a value the flag would refuse stops the command with a
// message naming the variable, the value and what is accepted, instead of
// silently leaving the default in place. A flag given on the command line
// wins over its variable; an empty variable counts as unset.

// envAnnotation marks a flag with the variable it reads.
const envAnnotation = "gatehouse-env"

func bindEnv(fs *pflag.FlagSet, name, env string) {
	_ = fs.SetAnnotation(name, envAnnotation, []string{env})
}

// envString is a string flag that also reads env.
func envString(fs *pflag.FlagSet, p *string, name, env, def, usage string) {
	fs.StringVar(p, name, def, usage+" ($"+env+")")
	bindEnv(fs, name, env)
}

// envBool is a boolean flag that also reads env.
func envBool(fs *pflag.FlagSet, p *bool, name, env string, def bool, usage string) {
	*p = def
	f := fs.VarPF(&boolValue{p}, name, "", usage+" ($"+env+")")
	f.NoOptDefVal = "true"
	bindEnv(fs, name, env)
}

// envInt is an integer flag that also reads env.
func envInt(fs *pflag.FlagSet, p *int, name, env string, def int, usage string) {
	*p = def
	fs.Var(&intValue{p}, name, usage+" ($"+env+")")
	bindEnv(fs, name, env)
}

// envDuration is a duration flag that also reads env.
func envDuration(fs *pflag.FlagSet, p *time.Duration, name, env string, def time.Duration, usage string) {
	*p = def
	fs.Var(&durationValue{p}, name, usage+" ($"+env+")")
	bindEnv(fs, name, env)
}

// envChoice is a flag that takes one of choices (case-insensitive) and
// also reads env.
func envChoice(fs *pflag.FlagSet, p *string, name, env, def string, choices []string, usage string) {
	*p = def
	fs.Var(&choiceValue{p, choices}, name, usage+" ($"+env+")")
	bindEnv(fs, name, env)
}

// envSize is a byte-size flag (10MB, 512KiB) kept as text, that also
// reads env.
func envSize(fs *pflag.FlagSet, p *string, name, env, def, usage string) {
	*p = def
	fs.Var(&sizeValue{p}, name, usage+" ($"+env+")")
	bindEnv(fs, name, env)
}

// applyEnv sets each of cmd's flags that the command line left alone from
// its variable, if that is set, through the flag's parser.
func applyEnv(cmd *cobra.Command) error {
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		names := f.Annotations[envAnnotation]
		if len(names) == 0 || f.Changed {
			return
		}
		v, ok := os.LookupEnv(names[0])
		if !ok || v == "" {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %v (the variable of --%s)", names[0], v, err, f.Name))
		}
	})
	return errors.Join(errs...)
}

type boolValue struct{ p *bool }

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return errors.New("want true or false (or 1, 0)")
	}
	*v.p = b
	return nil
}

func (v *boolValue) String() string {
	if v == nil || v.p == nil {
		return "false"
	}
	return strconv.FormatBool(*v.p)
}

func (*boolValue) Type() string { return "bool" }

type intValue struct{ p *int }

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errors.New("want a whole number, such as 4")
	}
	*v.p = n
	return nil
}

func (v *intValue) String() string {
	if v == nil || v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (*intValue) Type() string { return "int" }

type durationValue struct{ p *time.Duration }

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return errors.New("want a duration with its unit, such as 90s, 10m or 1h30m")
	}
	*v.p = d
	return nil
}

func (v *durationValue) String() string {
	if v == nil || v.p == nil {
		return "0s"
	}
	return v.p.String()
}

func (*durationValue) Type() string { return "duration" }

type choiceValue struct {
	p       *string
	choices []string
}

func (v *choiceValue) Set(s string) error {
	s = strings.ToLower(strings.TrimSpace(s))
	if !slices.Contains(v.choices, s) {
		return fmt.Errorf("want %s", orList(v.choices))
	}
	*v.p = s
	return nil
}

func (v *choiceValue) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return *v.p
}

func (*choiceValue) Type() string { return "string" }

type sizeValue struct{ p *string }

func (v *sizeValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if s != "" {
		if n, err := humanize.ParseBytes(s); err != nil || n == 0 || n > 1<<40 {
			return errors.New("want a size such as 10MB or 512KiB")
		}
	}
	*v.p = s
	return nil
}

func (v *sizeValue) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return *v.p
}

func (*sizeValue) Type() string { return "size" }

// orList is "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// readKey loads the app's private key from the variable or the file.
func readKey(pem, path string) ([]byte, error) {
	if strings.TrimSpace(pem) != "" {
		return []byte(strings.ReplaceAll(pem, `\n`, "\n")), nil
	}
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	return b, nil
}

// defaultDataDir is where gatehouse keeps its store and vulnerability DB
// when GATEHOUSE_DATA_DIR is not set: $XDG_DATA_HOME/gatehouse, or
// ~/.local/share/gatehouse, or ./data when there is no home directory.
func defaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "gatehouse")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "gatehouse")
	}
	return "data"
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
