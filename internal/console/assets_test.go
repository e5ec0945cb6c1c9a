package console

import (
	"io/fs"
	"regexp"
	"testing"
)

// TestNoInlineScript: the pages hold no inline script, event handler
// attribute or javascript: URL (the CSP would block them: script-src
// 'self'), no inline style, and load nothing from another host.
func TestNoInlineScript(t *testing.T) {
	t.Parallel()
	bad := map[string]*regexp.Regexp{
		"inline script":  regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`),
		"script no src":  regexp.MustCompile(`<script(?:\s(?:[^s>]|s[^r]|sr[^c])*)?>`),
		"event handler":  regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
		"javascript URL": regexp.MustCompile(`(?i)javascript:`),
		"inline style":   regexp.MustCompile(`(?i)<style|\sstyle\s*=`),
		"other host":     regexp.MustCompile(`(?i)(?:src|href|action)\s*=\s*"(?:https?:)?//`),
	}
	n := 0
	err := fs.WalkDir(assets, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for what, re := range bad {
			if m := re.Find(b); m != nil {
				t.Errorf("%s: %s: %q", path, what, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(pageNames)+1 { // and the layout
		t.Errorf("%d templates, want %d", n, len(pageNames)+1)
	}
}
