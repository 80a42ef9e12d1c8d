package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/checks"
)

// MaxFileSize is the largest policy file Parse accepts, in bytes.
const MaxFileSize = 64 << 10

// Version is the policy file schema version this package reads.
const Version = 1

// File is one parsed and validated policy file (one layer). Only the
// settings it names are set; Resolve fills in the rest from lower layers.
type File struct {
	// Name is the name the file was parsed under; errors and explanations
	// use it.
	Name string

	digest     string               // SHA-256 of the raw bytes
	set        map[string]fileValue // setting key → value
	exceptions []Exception
	enforce    []enforceEntry
	// environments are the file's environments.<name> overlays, keyed by
	// the lower-cased name (GitHub's environment names ignore case).
	environments map[string]*File
}

// fileValue is a setting's value and the line it was set on.
type fileValue struct {
	val  any
	line int
}

// enforceEntry is one entry of the enforce list.
type enforceEntry struct {
	name string
	line int
}

// Digest is the SHA-256 (hex) of the file's bytes, for evidence.
func (f *File) Digest() string { return f.digest }

// ParseError is a policy file problem, with the line (and column when
// known) it is on. Its message reads "file:line:col: problem".
type ParseError struct {
	File   string
	Line   int // 1-based; 0 when the problem has no line
	Column int // 1-based; 0 when unknown
	Msg    string
}

// Error formats the problem as "file:line:col: msg".
func (e *ParseError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads and parses the policy file at path (at most MaxFileSize
// bytes). Errors about the content are *ParseError.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read policy file: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read policy file %s: %w", path, err)
	}
	return Parse(path, data)
}

// yamlLine pulls the line out of a yaml.v3 syntax error message.
var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// Parse decodes and validates one policy file strictly: unknown keys, wrong
// types, invalid values, a missing reason or a wrong version are errors
// (*ParseError), never ignored.
func Parse(name string, data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, &ParseError{File: name, Msg: fmt.Sprintf("policy file is larger than %d bytes", MaxFileSize)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ParseError{File: name, Line: 1, Msg: `empty policy file (want at least "version: 1")`}
		}
		return nil, syntaxError(name, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &ParseError{File: name, Line: extra.Line, Msg: "more than one YAML document (want one)"}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(name, data, err)
	}
	sum := sha256.Sum256(data)
	f := &File{Name: name, digest: hex.EncodeToString(sum[:]), set: map[string]fileValue{}}
	d := &decoder{file: f}
	if err := d.top(&doc); err != nil {
		return nil, err
	}
	return f, nil
}

// syntaxError turns a yaml.v3 error into a ParseError. yaml.v3 reports
// the line where the enclosing block starts (0-based for parser errors, and
// not at all on the first line), so the line is found again as the first
// line whose prefix of the file fails with the same problem.
func syntaxError(name string, data []byte, err error) *ParseError {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return &ParseError{File: name, Msg: err.Error()}
	}
	line := 1
	if m[1] != "" {
		line, _ = strconv.Atoi(m[1])
	}
	if l := failingLine(data, err.Error()); l > 0 {
		line = l
	}
	return &ParseError{File: name, Line: line, Msg: "invalid YAML: " + m[2]}
}

// maxSyntaxScan bounds the lines failingLine re-parses (quadratic work).
const maxSyntaxScan = 2000

// failingLine returns the first line n such that the file's first n lines
// fail to parse with message msg, or 0.
func failingLine(data []byte, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > maxSyntaxScan {
		return 0
	}
	end := 0
	for i, l := range lines {
		end += len(l)
		dec := yaml.NewDecoder(bytes.NewReader(data[:end]))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if err == nil {
				continue
			}
			if !errors.Is(err, io.EOF) && err.Error() == msg {
				return i + 1
			}
			break
		}
	}
	return 0
}

// decoder walks the YAML tree of one file.
type decoder struct {
	file *File
}

// errf builds a ParseError at node n.
func (d *decoder) errf(n *yaml.Node, format string, args ...any) error {
	return &ParseError{File: d.file.Name, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)}
}

var topKeys = []string{"version", "checks", "new_findings_only", "on_error", "on_limit", "report", "suppressions", "exceptions", "enforce", "environments"}

// envKeys are the keys an environments.<name> overlay may set: the top
// level's settings and exceptions.
var envKeys = []string{"checks", "new_findings_only", "on_error", "on_limit", "report", "suppressions", "exceptions"}

// top decodes the document.
func (d *decoder) top(doc *yaml.Node) error {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	root = deref(root)
	if root.Kind != yaml.MappingNode {
		return d.errf(root, "a policy file must be a mapping of settings, not %s", describe(root))
	}
	pairs, err := d.mapping(root, "", topKeys, nil)
	if err != nil {
		return err
	}
	// The version decides what every other key means: check it first.
	i := slices.IndexFunc(pairs, func(p pair) bool { return p.key.Value == "version" })
	if i < 0 {
		return d.errf(root, `missing version (add "version: %d" at the top)`, Version)
	}
	if err := d.version(pairs[i].val); err != nil {
		return err
	}
	for _, p := range pairs {
		if err := d.entry(p); err != nil {
			return err
		}
	}
	return nil
}

// entry decodes one top-level key (or one key of an environment overlay).
func (d *decoder) entry(p pair) error {
	switch p.key.Value {
	case "version":
		return nil
	case "checks":
		return d.checkSection(p.val)
	case "report":
		return d.section(p.val, "report", []string{"review_comments", "review_event", "summary_comment", "sarif_upload"})
	case "suppressions":
		return d.section(p.val, "suppressions", []string{"from_change", "approvers"})
	case "exceptions":
		return d.exceptions(p.val)
	case "enforce":
		return d.enforce(p.val)
	case "environments":
		return d.environments(p.val)
	}
	// new_findings_only, on_error, on_limit
	return d.setting(p.key, p.val, p.key.Value)
}

// environments decodes the per-environment overlays: each the same keys
// as the top level (but version, enforce and environments), applied over
// the resolved policy when gatehouse decides a deployment to it.
func (d *decoder) environments(n *yaml.Node) error {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return d.errf(n, "environments must be a mapping of environment names, not %s", describe(n))
	}
	d.file.environments = map[string]*File{}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" || strings.TrimSpace(k.Value) == "" {
			return d.errf(k, "environments: keys must be environment names, not %s", describe(k))
		}
		name := strings.ToLower(k.Value)
		if line, dup := lines[name]; dup {
			return d.errf(k, "duplicate environment %q (first on line %d; environment names ignore case)", k.Value, line)
		}
		lines[name] = k.Line
		where := "environments." + k.Value
		sub := &decoder{file: &File{Name: d.file.Name, digest: d.file.digest, set: map[string]fileValue{}}}
		pairs, err := sub.mapping(v, where, envKeys, map[string]string{
			"version":      where + " cannot set version: it is the file's",
			"enforce":      where + " cannot enforce: only the org file's top level can",
			"environments": where + " cannot hold environments",
		})
		if err != nil {
			return err
		}
		for _, p := range pairs {
			if err := sub.entry(p); err != nil {
				return err
			}
		}
		d.file.environments[name] = sub.file
	}
	return nil
}

func (d *decoder) version(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return d.errf(n, "version must be the number %d, not %s", Version, describe(n))
	}
	if n.Value != strconv.Itoa(Version) {
		return d.errf(n, "unsupported version %s (this gatehouse reads version %d)", n.Value, Version)
	}
	return nil
}

// checkSection decodes the checks mapping.
func (d *decoder) checkSection(n *yaml.Node) error {
	pairs, err := d.mapping(n, "checks", checkNames, nil)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		c := p.key.Value
		known := []string{"mode", "paths"}
		for _, k := range []string{"min_severity", "only_fixed", "extra_rules"} {
			if _, ok := defOf("checks." + c + "." + k); ok {
				known = append(known, k)
			}
		}
		hints := map[string]string{}
		if c == checks.Secrets {
			hints["min_severity"] = "checks.secrets has no min_severity: every secret blocks"
		}
		if c != checks.Dependencies {
			hints["only_fixed"] = "checks." + c + " has no only_fixed: it applies to dependencies only"
		}
		if c != checks.Secrets {
			hints["extra_rules"] = "checks." + c + " has no extra_rules: it applies to secrets only"
		}
		cpairs, err := d.mapping(p.val, "checks."+c, known, hints)
		if err != nil {
			return err
		}
		for _, cp := range cpairs {
			key := "checks." + c + "." + cp.key.Value
			if cp.key.Value == "paths" {
				err = d.section(cp.val, "checks."+c+".paths", []string{"ignore"})
			} else {
				err = d.setting(cp.key, cp.val, key)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// section decodes a mapping whose keys are all plain settings under prefix.
func (d *decoder) section(n *yaml.Node, prefix string, known []string) error {
	pairs, err := d.mapping(n, prefix, known, nil)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		if err := d.setting(p.key, p.val, prefix+"."+p.key.Value); err != nil {
			return err
		}
	}
	return nil
}

// setting decodes the value of one setting and records it.
func (d *decoder) setting(k, v *yaml.Node, key string) error {
	dd, ok := defOf(key)
	if !ok {
		return d.errf(k, "unknown setting %q", key) // mapping() filters keys first
	}
	val, err := d.value(v, key, dd.kind)
	if err != nil {
		return err
	}
	d.file.set[key] = fileValue{val: val, line: k.Line}
	return nil
}

var exceptionKeys = []string{"id", "paths", "reason", "owner", "expires"}

// exceptions decodes the exceptions list.
func (d *decoder) exceptions(n *yaml.Node) error {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		return d.errf(n, "exceptions must be a list, not %s", describe(n))
	}
	for i, item := range n.Content {
		where := fmt.Sprintf("exceptions[%d]", i)
		item = deref(item)
		pairs, err := d.mapping(item, where, exceptionKeys, nil)
		if err != nil {
			return err
		}
		e := Exception{File: d.file.Name, Line: item.Line}
		for _, p := range pairs {
			key := where + "." + p.key.Value
			switch p.key.Value {
			case "id":
				e.ID, err = d.text(p.val, key)
			case "reason":
				e.Reason, err = d.text(p.val, key)
			case "owner":
				e.Owner, err = d.text(p.val, key)
			case "paths":
				e.Paths, err = d.globs(p.val, key)
			case "expires":
				e.Expires, err = d.date(p.val, key)
			}
			if err != nil {
				return err
			}
		}
		if e.ID == "" {
			return d.errf(item, "%s needs an id (a rule id, CVE or GHSA id, AVD id or finding fingerprint)", where)
		}
		if e.Reason == "" {
			return d.errf(item, "%s (%s) needs a reason", where, e.ID)
		}
		d.file.exceptions = append(d.file.exceptions, e)
	}
	return nil
}

// enforce decodes the enforce list.
func (d *decoder) enforce(n *yaml.Node) error {
	n = deref(n)
	if n.Kind != yaml.SequenceNode {
		return d.errf(n, "enforce must be a list of settings, not %s", describe(n))
	}
	known := enforceableKeys()
	for i, item := range n.Content {
		item = deref(item)
		if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
			return d.errf(item, "enforce[%d] must be a setting name, not %s", i, describe(item))
		}
		if !slices.Contains(known, item.Value) {
			return d.errf(item, "unknown setting %q in enforce%s", item.Value, suggest(item.Value, known))
		}
		d.file.enforce = append(d.file.enforce, enforceEntry{name: item.Value, line: item.Line})
	}
	return nil
}
