package bounded

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/checks"
)

// plan is what the child's pre-scan of the checkout decided: whether the
// checkout may be scanned at all, and which files the structure-parsing
// checks (dependencies, iac) must not be handed.
type plan struct {
	// fatal, when set, is why no check runs (too many files, too many bytes).
	fatal string
	// skipped are the files kept from the structure-parsing checks.
	skipped []checks.Skip
	// structured are the paths those checks scan instead of the request's:
	// the same tree minus the skipped files. Nil when nothing is skipped.
	structured []string
}

// prescan walks the checkout through an os.Root (never following a
// symlink, never leaving it), counts files and bytes against the limits
// and measures the nesting of JSON and YAML files. In the sandbox it runs
// in the child, after Landlock, like every other read of the checkout.
func prescan(ctx context.Context, dir string, paths []string, lim checks.Limits) (*plan, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open checkout: %w", err)
	}
	defer root.Close()
	starts := []string{"."}
	if len(paths) > 0 {
		starts = nil
		for _, p := range paths {
			c := path.Clean(p)
			if !fs.ValidPath(c) {
				return nil, fmt.Errorf("target path %q is not a relative path inside the checkout", p)
			}
			starts = append(starts, c)
		}
	}
	p := &plan{}
	excluded := map[string]bool{}
	var files int
	var total int64
	walk := func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && slices.Contains(starts, rel) {
				return nil // the checks report missing paths themselves
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" && rel != "." {
				return fs.SkipDir
			}
			return nil
		}
		files++
		if files > lim.MaxFiles {
			p.fatal = fmt.Sprintf("limit: the checkout holds more than %d files (max files); not scanned", lim.MaxFiles)
			return fs.SkipAll
		}
		if !d.Type().IsRegular() {
			return nil // symlinks and special files are never followed or read
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		if total > lim.MaxTotalBytes {
			p.fatal = fmt.Sprintf("limit: the checkout holds more than %d bytes (max total bytes); not scanned", lim.MaxTotalBytes)
			return fs.SkipAll
		}
		if reason := measure(root, rel, info.Size(), lim); reason != "" {
			excluded[rel] = true
			p.skipped = append(p.skipped, checks.Skip{Path: rel, Reason: reason, Limit: true})
		}
		return nil
	}
	for _, s := range starts {
		if err := fs.WalkDir(root.FS(), s, walk); err != nil {
			return nil, fmt.Errorf("pre-scan %s: %w", s, err)
		}
		if p.fatal != "" {
			return p, nil
		}
	}
	if len(excluded) > 0 {
		if p.structured, err = coverExcept(root, starts, excluded); err != nil {
			return nil, fmt.Errorf("pre-scan: %w", err)
		}
	}
	return p, nil
}

// measure returns why a file must not be parsed (too deep, too many YAML
// nodes once aliases expand, too large to measure), or "".
func measure(root *os.Root, rel string, size int64, lim checks.Limits) string {
	kind := structuredKind(rel)
	if kind == "" || size == 0 {
		return ""
	}
	if kind == "yaml" && size > lim.MaxYAMLBytes {
		return fmt.Sprintf("limit: YAML file of %d bytes, over the %d-byte limit for YAML; not parsed", size, lim.MaxYAMLBytes)
	}
	f, err := root.Open(rel)
	if err != nil {
		return "" // the checks report unreadable files themselves
	}
	defer f.Close()
	r := io.LimitReader(f, size)
	if kind == "json" {
		if depth := jsonDepth(bufio.NewReader(r), lim.MaxNesting); depth > lim.MaxNesting {
			return fmt.Sprintf("limit: JSON nested deeper than %d levels (max nesting); not parsed", lim.MaxNesting)
		}
		return ""
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return ""
	}
	return yamlReason(data, lim)
}

// structuredKind says whether a file is JSON or YAML by its name, as the
// dependency and IaC analyzers pick their inputs.
func structuredKind(rel string) string {
	base := strings.ToLower(path.Base(rel))
	switch {
	case strings.HasSuffix(base, ".json"), base == "composer.lock", base == "pipfile.lock":
		return "json"
	case strings.HasSuffix(base, ".yaml"), strings.HasSuffix(base, ".yml"):
		return "yaml"
	}
	return ""
}

// jsonDepth returns the deepest bracket nesting of a JSON text, counting
// only brackets outside strings, and stops as soon as it passes stop.
// Malformed text is measured all the same: the parsers reject it later.
func jsonDepth(r io.ByteReader, stop int) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for {
		b, err := r.ReadByte()
		if err != nil {
			return deepest
		}
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '[' || b == '{':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > stop {
					return deepest
				}
			}
		case b == ']' || b == '}':
			if depth > 0 {
				depth--
			}
		}
	}
}

// yamlReason parses every document of a YAML file into nodes (aliases are
// not expanded by the parse) and returns why it must not be handed to the
// parsers: nesting deeper than the limit, or more nodes than the limit once
// aliases are expanded ("billion laughs"). A file the parse rejects is
// left to the checks, which report their own parse errors.
func yamlReason(data []byte, lim checks.Limits) string {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	total := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			if strings.Contains(err.Error(), "depth") {
				return fmt.Sprintf("limit: YAML nested deeper than %d levels (max nesting); not parsed", lim.MaxNesting)
			}
			return ""
		}
		m := yamlMeasure{memo: map[*yaml.Node]int{}, limit: lim.MaxYAMLNodes}
		if d := yamlDepth(&doc, 0, lim.MaxNesting); d > lim.MaxNesting {
			return fmt.Sprintf("limit: YAML nested deeper than %d levels (max nesting); not parsed", lim.MaxNesting)
		}
		total += m.size(&doc)
		if total > lim.MaxYAMLNodes {
			return fmt.Sprintf("limit: YAML expands to more than %d nodes once its aliases are resolved (billion laughs); not parsed", lim.MaxYAMLNodes)
		}
	}
}

// yamlDepth is the nesting of collections under n; aliases count as leaves
// (their target is measured where it is defined).
func yamlDepth(n *yaml.Node, depth, stop int) int {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		depth++
	}
	deepest := depth
	if deepest > stop {
		return deepest
	}
	for _, c := range n.Content {
		if d := yamlDepth(c, depth, stop); d > deepest {
			deepest = d
			if deepest > stop {
				return deepest
			}
		}
	}
	return deepest
}

// yamlMeasure counts the nodes a document expands to, each anchor's
// subtree counted once and reused for every alias to it; sizes saturate at
// limit+1 so the count cannot overflow.
type yamlMeasure struct {
	memo  map[*yaml.Node]int
	limit int
}

func (m *yamlMeasure) size(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	if v, ok := m.memo[n]; ok {
		return v
	}
	m.memo[n] = m.limit + 1 // a cycle counts as unbounded
	total := 1
	if n.Kind == yaml.AliasNode {
		total += m.size(n.Alias)
	}
	for _, c := range n.Content {
		total += m.size(c)
		if total > m.limit {
			total = m.limit + 1
			break
		}
	}
	m.memo[n] = total
	return total
}

// coverExcept returns paths that together cover the trees under starts
// except the excluded files: directories holding no excluded file stay
// whole, the ones that do are replaced by their entries, recursively.
func coverExcept(root *os.Root, starts []string, excluded map[string]bool) ([]string, error) {
	var out []string
	var visit func(p string) error
	visit = func(p string) error {
		if excluded[p] {
			return nil
		}
		if !holdsExcluded(p, excluded) {
			out = append(out, p)
			return nil
		}
		entries, err := fs.ReadDir(root.FS(), p)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := visit(path.Join(p, e.Name())); err != nil {
				return err
			}
		}
		return nil
	}
	for _, s := range starts {
		if err := visit(s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func holdsExcluded(dir string, excluded map[string]bool) bool {
	prefix := dir + "/"
	if dir == "." {
		prefix = ""
	}
	for p := range excluded {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}
