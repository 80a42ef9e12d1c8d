package iac

import (
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

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"

	"github.com/aquasecurity/trivy/pkg/iac/detection"
	"github.com/aquasecurity/trivy/pkg/mapfs"

	"github.com/gatehouse/gatehouse/checks"
)

// maxSymlinkSkips caps how many skipped symlinks are listed one by one; the
// rest are counted in a note.
const maxSymlinkSkips = 50

// scanOrder is the order file types are scanned and reported in.
var scanOrder = []detection.FileType{
	detection.FileTypeTerraform,
	detection.FileTypeCloudFormation,
	detection.FileTypeAzureARM,
	detection.FileTypeKubernetes,
	detection.FileTypeHelm,
	detection.FileTypeDockerfile,
}

// candidate is a regular file under the target whose name says it may be
// infrastructure code, read through an os.Root so it cannot be outside it.
type candidate struct {
	path string // slash-separated, relative to the target root
	data []byte
}

// fileSet is what one target holds for the IaC scanners: an in-memory
// filesystem per file type (so trivy never opens a path on disk), and what
// was left out.
type fileSet struct {
	fsys     map[detection.FileType]*mapfs.FS
	types    map[string][]detection.FileType // path → the types it is checked as
	sizes    map[string]int64
	tfvars   []string // Terraform variable files Terraform would load itself
	charts   []string // top-level Helm chart directories (subcharts excluded)
	skipped  []checks.Skip
	symlinks int // symlinks seen (not followed)
}

// collect walks target.Dir (or target.Paths inside it) without following
// symlinks, reads the files that may be infrastructure code through an
// os.Root, and sorts them into per-type in-memory filesystems.
func collect(ctx context.Context, dir string, paths []string, maxSize int64) (*fileSet, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open target %s: %w", dir, err)
	}
	defer root.Close()

	set := &fileSet{
		fsys:  make(map[detection.FileType]*mapfs.FS),
		types: make(map[string][]detection.FileType),
		sizes: make(map[string]int64),
	}
	starts, err := startPaths(paths)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	var cands []candidate
	for _, start := range starts {
		found, err := set.walk(ctx, root, start, maxSize, seen)
		if err != nil {
			return nil, err
		}
		cands = append(cands, found...)
	}
	slices.SortFunc(cands, func(a, b candidate) int { return strings.Compare(a.path, b.path) })
	if err := set.classify(cands); err != nil {
		return nil, err
	}
	return set, nil
}

// startPaths validates target.Paths: relative, slash-separated, inside the
// target. No paths means the whole tree.
func startPaths(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return []string{"."}, nil
	}
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		clean := path.Clean(strings.TrimPrefix(p, "./"))
		if !fs.ValidPath(clean) {
			return nil, fmt.Errorf("target path %q is not a relative path inside the target", p)
		}
		out = append(out, clean)
	}
	return out, nil
}

// walk lists the candidate files under start. Symlinks are never followed,
// wherever they point; .git directories are not entered.
func (set *fileSet) walk(ctx context.Context, root *os.Root, start string, maxSize int64, seen map[string]bool) ([]candidate, error) {
	info, err := root.Lstat(start)
	if errors.Is(err, fs.ErrNotExist) {
		set.skipped = append(set.skipped, checks.Skip{Path: start, Reason: "path does not exist"})
		return nil, nil
	}
	if err != nil {
		// Typically a path through a symlink that leaves the target.
		set.skipped = append(set.skipped, checks.Skip{Path: start, Reason: "not readable inside the target: " + err.Error()})
		return nil, nil
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		set.skipSymlink(start)
		return nil, nil
	}

	var cands []candidate
	rfs := root.FS()
	err = fs.WalkDir(rfs, start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			set.skipSymlink(p)
			return nil
		case d.IsDir():
			if d.Name() == ".git" && p != start {
				return fs.SkipDir
			}
			return nil
		case !d.Type().IsRegular() || seen[p] || !candidateName(p):
			return nil
		}
		seen[p] = true
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if fi.Size() > maxSize {
			set.skipped = append(set.skipped, checks.Skip{
				Path:   p,
				Reason: fmt.Sprintf("file is %d bytes, over the %d byte limit", fi.Size(), maxSize),
				Limit:  true,
			})
			return nil
		}
		data, err := readLimited(root, p, maxSize)
		if err != nil {
			return err
		}
		cands = append(cands, candidate{path: p, data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cands, nil
}

// readLimited reads a file through the root (which refuses to leave it) and
// never more than limit bytes, even if the file grew since it was listed.
func readLimited(root *os.Root, p string, limit int64) ([]byte, error) {
	f, err := root.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return data, nil
}

func (set *fileSet) skipSymlink(p string) {
	set.symlinks++
	if set.symlinks <= maxSymlinkSkips {
		set.skipped = append(set.skipped, checks.Skip{Path: p, Reason: "symlink, not followed"})
	}
}

// candidateName reports whether a file's name is one any of trivy's IaC
// analyzers would look at (the union of their Required checks).
func candidateName(p string) bool {
	lower := strings.ToLower(p)
	switch {
	case detection.IsTerraformFile(p), checks.DockerfileName(p), checks.ChartArchiveName(p):
		return true
	}
	switch path.Ext(lower) {
	case ".json", ".yaml", ".yml", ".tpl":
		return true
	}
	base := path.Base(p)
	return strings.EqualFold(base, "Chart.yaml") || strings.EqualFold(base, ".helmignore")
}

// classify decides which scanners see each candidate, using trivy's own
// detection functions as its analyzers do.
func (set *fileSet) classify(cands []candidate) error {
	chartRoots := make(map[string]bool)
	for _, c := range cands {
		if path.Base(c.path) == "Chart.yaml" {
			chartRoots[path.Dir(c.path)] = true
		}
	}
	for dir := range chartRoots {
		if dir == "." || !inChart(dir, chartRoots) {
			set.charts = append(set.charts, dir)
		}
	}
	slices.Sort(set.charts)
	for _, c := range cands {
		for _, ft := range detectTypes(c, chartRoots) {
			if err := set.add(ft, c); err != nil {
				return err
			}
		}
		if isAutoTFVars(c.path) {
			if err := validTFVars(c); err != nil {
				// trivy fails the whole Terraform scan on a variable file it
				// cannot read; leave this one out and say so instead.
				set.skipped = append(set.skipped, checks.Skip{Path: c.path, Reason: "variable file not loaded: " + err.Error()})
				continue
			}
			set.tfvars = append(set.tfvars, c.path)
			if !detection.IsTerraformFile(c.path) { // terraform.tfvars.json
				if err := set.add(detection.FileTypeTerraform, c); err != nil {
					return err
				}
			}
		}
	}
	slices.SortFunc(set.tfvars, compareTFVars)
	return nil
}

// detectTypes returns the file types trivy would scan a candidate as.
func detectTypes(c candidate, chartRoots map[string]bool) []detection.FileType {
	is := func(ft detection.FileType) bool {
		return detection.IsType(c.path, bytes.NewReader(c.data), ft)
	}
	var types []detection.FileType
	ext := strings.ToLower(path.Ext(c.path))
	if detection.IsTerraformFile(c.path) {
		types = append(types, detection.FileTypeTerraform)
	}
	if ext == ".json" || ext == ".yaml" || ext == ".yml" {
		if is(detection.FileTypeCloudFormation) {
			types = append(types, detection.FileTypeCloudFormation)
		}
		if ext == ".json" && !strings.EqualFold(path.Base(c.path), "createUiDefinition.json") && is(detection.FileTypeAzureARM) {
			types = append(types, detection.FileTypeAzureARM)
		}
		if is(detection.FileTypeKubernetes) {
			types = append(types, detection.FileTypeKubernetes)
		}
	}
	if inChart(c.path, chartRoots) || (checks.ChartArchiveName(c.path) && detection.IsHelmChartArchive(c.path, bytes.NewReader(c.data))) {
		if is(detection.FileTypeHelm) {
			types = append(types, detection.FileTypeHelm)
		}
	}
	if checks.DockerfileName(c.path) && is(detection.FileTypeDockerfile) {
		types = append(types, detection.FileTypeDockerfile)
	}
	return types
}

// inChart reports whether p lies in a directory holding a Chart.yaml (or
// below one): the only files trivy's Helm scanner renders.
func inChart(p string, chartRoots map[string]bool) bool {
	for dir := path.Dir(p); ; dir = path.Dir(dir) {
		if chartRoots[dir] {
			return true
		}
		if dir == "." || dir == "/" {
			return false
		}
	}
}

func (set *fileSet) add(ft detection.FileType, c candidate) error {
	fsys, ok := set.fsys[ft]
	if !ok {
		fsys = mapfs.New()
		set.fsys[ft] = fsys
	}
	if err := fsys.MkdirAll(path.Dir(c.path), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("stage %s: %w", c.path, err)
	}
	if err := fsys.WriteVirtualFile(c.path, c.data, 0o444); err != nil {
		return fmt.Errorf("stage %s: %w", c.path, err)
	}
	set.types[c.path] = append(set.types[c.path], ft)
	set.sizes[c.path] = int64(len(c.data))
	return nil
}

// isAutoTFVars reports the variable files Terraform loads by itself:
// terraform.tfvars[.json] and *.auto.tfvars[.json].
func isAutoTFVars(p string) bool {
	base := path.Base(p)
	return base == "terraform.tfvars" || base == "terraform.tfvars.json" ||
		strings.HasSuffix(base, ".auto.tfvars") || strings.HasSuffix(base, ".auto.tfvars.json")
}

// compareTFVars orders variable files as Terraform loads them, directory by
// directory: terraform.tfvars, terraform.tfvars.json, then *.auto.tfvars in
// lexical order. trivy applies them in order, later values winning.
func compareTFVars(a, b string) int {
	if c := strings.Compare(path.Dir(a), path.Dir(b)); c != 0 {
		return c
	}
	rank := func(p string) int {
		switch path.Base(p) {
		case "terraform.tfvars":
			return 0
		case "terraform.tfvars.json":
			return 1
		}
		return 2
	}
	if c := rank(a) - rank(b); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// validTFVars checks a variable file the way trivy's loader reads it
// (attributes only), so a broken one cannot fail the whole scan.
func validTFVars(c candidate) error {
	var file *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(c.path, ".json") {
		file, diags = hcljson.Parse(c.data, c.path)
	} else {
		file, diags = hclsyntax.ParseConfig(c.data, c.path, hcl.Pos{Line: 1, Column: 1})
	}
	if diags != nil {
		return diags
	}
	if _, diags = file.Body.JustAttributes(); diags != nil {
		return diags
	}
	return nil
}
