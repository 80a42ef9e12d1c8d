package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/checks"
)

// pair is one key and its value in a YAML mapping.
type pair struct{ key, val *yaml.Node }

// mapping checks that n is a mapping whose keys are all in known, without
// duplicates, and returns its pairs in file order. where names the mapping
// in messages ("" for the top level); hints gives a specific message for a
// key that is known elsewhere but not here.
func (d *decoder) mapping(n *yaml.Node, where string, known []string, hints map[string]string) ([]pair, error) {
	n = deref(n)
	name := where
	if name == "" {
		name = "the top level"
	}
	if n.Kind != yaml.MappingNode {
		return nil, d.errf(n, "%s must be a mapping, not %s", name, describe(n))
	}
	seen := map[string]int{}
	var out []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return nil, d.errf(k, "keys in %s must be names, not %s", name, describe(k))
		}
		if h, ok := hints[k.Value]; ok {
			return nil, d.errf(k, "%s", h)
		}
		if !slices.Contains(known, k.Value) {
			in := ""
			if where != "" {
				in = " in " + where
			}
			return nil, d.errf(k, "unknown key %q%s%s", k.Value, in, suggest(k.Value, known))
		}
		if line, dup := seen[k.Value]; dup {
			return nil, d.errf(k, "duplicate key %q in %s (first on line %d)", k.Value, name, line)
		}
		seen[k.Value] = k.Line
		out = append(out, pair{k, v})
	}
	return out, nil
}

// value decodes a setting's value of the given kind.
func (d *decoder) value(n *yaml.Node, key string, k kind) (any, error) {
	switch k {
	case kindMode:
		s, err := d.enum(n, key, []string{"block", "warn", "off"})
		return Mode(s), err
	case kindSeverity:
		s, err := d.enum(n, key, policySeverities)
		if err != nil {
			return nil, err
		}
		return checks.ParseSeverity(s)
	case kindOnError:
		s, err := d.enum(n, key, []string{"fail", "neutral"})
		return OnError(s), err
	case kindReviewEvent:
		return d.enum(n, key, []string{ReviewRequestChanges, ReviewComment})
	case kindGlobs:
		return d.globs(n, key)
	case kindFromChange:
		s, err := d.enum(n, key, []string{string(FromChangeApproval), string(FromChangeAllow), string(FromChangeDeny)})
		return FromChange(s), err
	case kindNames:
		return d.names(n, key)
	case kindRuleSets:
		return d.ruleSets(n, key)
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return nil, d.errf(n, "%s must be true or false, not %s", key, describe(n))
	}
	return strings.EqualFold(n.Value, "true"), nil
}

// enum decodes a scalar that must be one of want.
func (d *decoder) enum(n *yaml.Node, key string, want []string) (string, error) {
	if n.Kind == yaml.ScalarNode && slices.Contains(want, n.Value) {
		return n.Value, nil
	}
	return "", d.errf(n, "%s must be %s, not %s", key, orList(want), describe(n))
}

// text decodes a non-empty scalar as a string.
func (d *decoder) text(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", d.errf(n, "%s must be text, not %s", key, describe(n))
	}
	s := strings.TrimSpace(n.Value)
	if s == "" {
		return "", d.errf(n, "%s is empty", key)
	}
	return s, nil
}

// globs decodes a list of doublestar patterns, relative to the repository
// root.
func (d *decoder) globs(n *yaml.Node, key string) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, d.errf(n, "%s must be a list of path globs, not %s", key, describe(n))
	}
	out := []string{}
	for i, item := range n.Content {
		item = deref(item)
		where := fmt.Sprintf("%s[%d]", key, i)
		g, err := d.text(item, where)
		if err != nil {
			return nil, err
		}
		g = cleanPath(g)
		if g == "" || !doublestar.ValidatePattern(g) {
			return nil, d.errf(item, "%s is not a valid path glob: %q", where, item.Value)
		}
		out = append(out, g)
	}
	return out, nil
}

// nameRE is a GitHub login ("octocat") or an org team ("octo/security");
// a leading @ is allowed and dropped.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:/[A-Za-z0-9._-]{1,100})?$`)

// names decodes a list of GitHub logins and org/team slugs.
func (d *decoder) names(n *yaml.Node, key string) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, d.errf(n, "%s must be a list of GitHub users or org/team names, not %s", key, describe(n))
	}
	out := []string{}
	for i, item := range n.Content {
		item = deref(item)
		where := fmt.Sprintf("%s[%d]", key, i)
		s, err := d.text(item, where)
		if err != nil {
			return nil, err
		}
		s = strings.TrimPrefix(s, "@")
		if !nameRE.MatchString(s) {
			return nil, d.errf(item, "%s must be a GitHub user (octocat) or an org team (octo/security), not %q", where, item.Value)
		}
		out = append(out, s)
	}
	return out, nil
}

// ruleSets decodes a list of extra rule set names (checks.SecretRuleSets),
// each at most once, in the order written.
func (d *decoder) ruleSets(n *yaml.Node, key string) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, d.errf(n, "%s must be a list of rule sets (%s), not %s", key, orList(checks.SecretRuleSets), describe(n))
	}
	out := []string{}
	for i, item := range n.Content {
		item = deref(item)
		where := fmt.Sprintf("%s[%d]", key, i)
		s, err := d.text(item, where)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(checks.SecretRuleSets, s) {
			return nil, d.errf(item, "%s: unknown rule set %q%s", where, s, suggest(s, checks.SecretRuleSets))
		}
		if slices.Contains(out, s) {
			return nil, d.errf(item, "%s: rule set %q is listed twice", where, s)
		}
		out = append(out, s)
	}
	return out, nil
}

// date decodes a YYYY-MM-DD date (UTC midnight).
func (d *decoder) date(n *yaml.Node, key string) (time.Time, error) {
	if n.Kind == yaml.ScalarNode {
		if t, err := time.Parse(dateLayout, n.Value); err == nil {
			return t, nil
		}
	}
	return time.Time{}, d.errf(n, "%s must be a date like 2026-12-31, not %s", key, describe(n))
}

// deref follows YAML aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// describe says what a node is, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "empty"
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return n.Value
		}
		return strconv.Quote(n.Value)
	}
	return "empty"
}

// orList writes "a, b or c".
func orList(xs []string) string {
	if len(xs) == 1 {
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// suggest returns ` (did you mean "x"?)` for the known name closest to s,
// or the list of known names when none is close.
func suggest(s string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if dist := editDistance(s, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if len(known) > 8 {
		return ""
	}
	return " (known: " + strings.Join(known, ", ") + ")"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
