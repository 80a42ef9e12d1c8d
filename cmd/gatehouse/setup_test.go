package main

import (
	"os"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/app/setup"
)

func TestSetupCommand(t *testing.T) {
	dir := t.TempDir()
	steps := []struct {
		args     []string
		prep     func()
		contains string
	}{
		{args: []string{"setup"}, contains: "No GitHub App stored"},
		{args: []string{"setup", "--reset"}, contains: "nothing to forget"},
		{
			args: []string{"setup"},
			prep: func() {
				if err := setup.Save(dir, setup.Credentials{AppID: 42, Slug: "gh-acme", PrivateKey: []byte("k"), WebhookSecret: "w"}); err != nil {
					t.Fatal(err)
				}
			},
			contains: "GitHub App 42 (gh-acme) stored in",
		},
		{args: []string{"setup", "--reset"}, contains: "Forgot GitHub App 42 (gh-acme)"},
		{args: []string{"setup"}, contains: "No GitHub App stored"},
	}
	for i, st := range steps {
		if st.prep != nil {
			st.prep()
		}
		out, code := run(t, append(st.args, "--data-dir", dir, "--public-url", "https://gate.example.com")...)
		if code != 0 || !strings.Contains(out, st.contains) {
			t.Errorf("step %d %v: exit %d, want 0 and %q in:\n%s", i, st.args, code, st.contains, out)
		}
		if strings.Contains(out, "https://gate.example.com/setup") != strings.Contains(st.contains, "No GitHub") && i != 3 {
			t.Errorf("step %d: setup URL shown wrongly:\n%s", i, out)
		}
	}
	if _, err := os.Stat(setup.Path(dir)); !os.IsNotExist(err) {
		t.Errorf("credentials file still there after reset: %v", err)
	}
}

func TestParseAppID(t *testing.T) {
	for in, want := range map[string]int64{"42": 42, " 7 ": 7, "0": 0, "-1": 0, "x": 0, "": 0} {
		got, err := parseAppID(in)
		if got != want || (err == nil) != (want > 0) {
			t.Errorf("parseAppID(%q) = %d, %v", in, got, err)
		}
	}
}
