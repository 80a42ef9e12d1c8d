package deps

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	tlog "github.com/aquasecurity/trivy/pkg/log"
)

// TestLogHandler: trivy's lines, told apart by where they were logged or
// by trivy's prefix, come out at the level they mean for a gatehouse user
// with engine=trivy and their prefix as a component; gatehouse's own lines
// through slog's default, and other "prefix" attributes, are untouched.
func TestLogHandler(t *testing.T) {
	prev := slog.Default()
	t.Cleanup(func() { slog.SetDefault(prev) })
	var b bytes.Buffer
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	RouteLogs(slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: noTime})))

	// As trivy's terraform evaluator logs it: a prefixed logger, a
	// second prefix, an attribute of the logger and one of the line.
	tlog.WithPrefix("terraform parser").With("module", "root").With(tlog.Prefix("terraform evaluator")).
		Error("Failed to load module. Maybe try 'terraform init'?", tlog.String("loc", "main.tf:1-3"))
	tlog.Infof("Loading %s", "the DB") // logged by trivy's own code
	tlog.Warnf("A warning")
	slog.Error("gatehouse's own error", "k", "v")
	slog.Default().With("prefix", "[not trivy's] ").Info("a plain prefix attribute")

	want := []string{
		`level=WARN msg="Failed to load module. Maybe try 'terraform init'?" module=root engine=trivy component="terraform evaluator" loc=main.tf:1-3`,
		`level=DEBUG msg="Loading the DB" engine=trivy`,
		`level=WARN msg="A warning" engine=trivy`,
		`level=ERROR msg="gatehouse's own error" k=v`,
		`level=INFO msg="a plain prefix attribute" prefix="[not trivy's] "`,
	}
	got := strings.Split(strings.TrimSpace(b.String()), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLogHandlerLevels: a trivy line is filtered at the level it is
// lowered to, so a user's --log-level warn hides trivy's progress.
func TestLogHandlerLevels(t *testing.T) {
	var b bytes.Buffer
	l := slog.New(LogHandler(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelWarn})))
	l = l.With(tlog.Prefix("misconfig"))
	l.Info("progress")
	l.Debug("detail")
	l.Error("could not parse")
	if got := b.String(); strings.Contains(got, "progress") || strings.Contains(got, "detail") ||
		!strings.Contains(got, `level=WARN msg="could not parse" engine=trivy component=misconfig`) {
		t.Errorf("at warn: %s", got)
	}
}
