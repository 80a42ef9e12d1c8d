package iac

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// The guide's examples are the files the tests run: each code block under
// a "<!-- file: PATH -->" marker in docs/custom-checks.md is PATH, byte for
// byte, and every example file is shown.
func TestGuideShowsTheTestedExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/custom-checks.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)<!-- file: (\\S+) -->\n```[a-z]*\n(.*?)```\n").FindAllSubmatch(doc, -1)
	shown := map[string]bool{}
	for _, b := range blocks {
		path := string(b[1])
		shown[path] = true
		want, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(path)))
		if err != nil {
			t.Errorf("the guide shows %s: %v", path, err)
			continue
		}
		if string(b[2]) != string(want) {
			t.Errorf("the guide's copy of %s differs from the file", path)
		}
	}
	files, err := filepath.Glob(filepath.Join(examplesDir, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		rel, _ := filepath.Rel("../..", f)
		if !shown[filepath.ToSlash(rel)] {
			t.Errorf("the guide does not show %s", filepath.ToSlash(rel))
		}
	}
	if len(blocks) < 6 {
		t.Errorf("found %d example blocks in the guide", len(blocks))
	}
}
