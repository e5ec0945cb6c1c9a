package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// docCommands returns the bias command lines of a Markdown file's sh
// blocks: a line (or a part of one between &&) that starts with bias or
// ./bias, without its comment.
func docCommands(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, line := range strings.Split(joinContinued(string(b)), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			in = !in && strings.HasPrefix(trimmed, "```sh")
			continue
		}
		if !in {
			continue
		}
		if i := strings.Index(trimmed, " #"); i >= 0 {
			trimmed = strings.TrimSpace(trimmed[:i])
		}
		for _, part := range strings.Split(trimmed, "&&") {
			part = strings.TrimPrefix(strings.TrimSpace(part), "./")
			if strings.HasPrefix(part, "bias ") {
				out = append(out, part)
			}
		}
	}
	return out
}

// cutShell cuts a command line at a pipe or a redirection, which are the
// shell's (a > inside a word, as in <placeholder>, is not one).
func cutShell(line string) string {
	for _, op := range []string{" | ", " > "} {
		if i := strings.Index(line, op); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
	}
	return line
}

// joinContinued joins the lines that end with a backslash to the next.
func joinContinued(s string) string {
	return strings.ReplaceAll(s, "\\\n", " ")
}

// shellWords splits a command line as sh would for these examples: on
// blanks, with '...' and "..." quoting.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	quote, in := rune(0), false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in || cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
		}
	}
	if in || cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words
}

// TestDocExamplesParse takes every bias command of the README's and
// docs/operations.md's sh blocks, and of every command's --help example:
// each names a command that exists, with flags it has and the arguments it
// takes. (TestDocExamplesRun runs the docs' lines against real nodes;
// the --help examples run in the tests named beside them in the docs:
// TestDeviceLifecycle, TestEnroll*, TestTestnetSurvivesANodeDown,
// TestGenesisTooling, TestContexts, TestNodeBootstrapAndPrecedence.)
func TestDocExamplesParse(t *testing.T) {
	t.Parallel()
	var lines []string
	for _, doc := range []string{filepath.Join("..", "..", "README.md"), filepath.Join("..", "..", "docs", "operations.md")} {
		got := docCommands(t, doc)
		if len(got) < 5 {
			t.Fatalf("%s: found only %d bias commands: %q", doc, len(got), got)
		}
		lines = append(lines, got...)
	}
	walk(newRoot(Env{Getenv: func(string) string { return "" }}), func(c *cobra.Command) {
		for _, line := range strings.Split(joinContinued(c.Example), "\n") {
			if l := strings.TrimSpace(line); strings.HasPrefix(l, "bias ") {
				lines = append(lines, cutShell(l))
			}
		}
	})
	t.Logf("%d documented command lines", len(lines))
	for _, line := range lines {
		line = cutShell(line)
		root := newRoot(Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }})
		args := shellWords(line)[1:]
		cmd, rest, err := root.Find(args)
		if err != nil || (cmd == root && len(args) > 0 && !strings.HasPrefix(args[0], "-")) {
			t.Errorf("%q: no such command (%v)", line, err)
			continue
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("%q: %v", line, err)
			continue
		}
		if cmd.Args != nil {
			if err := cmd.Args(cmd, cmd.Flags().Args()); err != nil {
				t.Errorf("%q: %v", line, err)
			}
		}
	}
}
