package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
)

type fmtResult struct {
	stream, ours, format, star *timed // xmllint --stream --noout, soapsess fmt, xmllint --format, xmlstarlet fo
	bytes                      int64
	compared, same             bool
	diff                       string
}

// formatters times `soapsess fmt` against libxml2's streaming parse alone
// (xmllint --stream --noout, the goal) and the two formatters (anchors),
// interleaved, stdout to /dev/null; then compares soapsess's output with
// xmllint --format's.
func (b *bench) formatters(file string, n int64, runs int, skipped map[string]string) *fmtResult {
	cur := b.builds[0]
	res := &fmtResult{
		stream: &timed{name: "`xmllint --stream --noout` (parse only)", withRSS: true, cmd: func() *exec.Cmd { return b.command("xmllint", "--stream", "--noout", file) }},
		ours:   &timed{name: "`soapsess fmt`", withRSS: true, cmd: func() *exec.Cmd { return b.ss(cur, "fmt", file) }},
		format: &timed{name: "`xmllint --format`", withRSS: true, cmd: func() *exec.Cmd { return b.command("xmllint", "--format", file) }},
		star:   &timed{name: "`xmlstarlet fo`", withRSS: true, cmd: func() *exec.Cmd { return b.command("xmlstarlet", "fo", file) }},
		bytes:  n,
	}
	for tool, ts := range map[string][]*timed{"xmllint": {res.stream, res.format}, "xmlstarlet": {res.star}} {
		if why, ok := skipped[tool]; ok {
			for _, t := range ts {
				t.cmd, t.note = nil, "skipped: "+why
			}
		}
	}
	b.interleave("fmt", []*timed{res.stream, res.ours, res.format, res.star}, runs)
	if _, ok := skipped["xmllint"]; ok {
		res.diff = "not compared (xmllint skipped)"
	} else if res.ours.ok() && res.format.ok() {
		res.compared = true
		res.same, res.diff = b.compare(file)
	} else {
		res.diff = "not compared (a formatter failed)"
	}
	return res
}

func printFormatters(res *fmtResult, runs int) {
	fmt.Printf("A %.0f MB XMLA rowset reply (compact, one line), stdout to /dev/null, %s:\n\n", float64(res.bytes)/mb, plural(runs, "interleaved run"))
	fmt.Println("| command | min | median | max | MB/s (median) | peak RSS (max) | vs `xmllint --stream` |")
	fmt.Println("|---|---|---|---|---|---|---|")
	ref := res.stream.median()
	for _, t := range []*timed{res.stream, res.ours, res.format, res.star} {
		if !t.ok() {
			fmt.Printf("| %s | %s | | | | | |\n", t.name, t.note)
			continue
		}
		fmt.Printf("| %s | %s | %.1f | %s | %s |\n", t.name, t.span(secs),
			float64(res.bytes)/mb/t.median().Seconds(), mbs(t.rss), ratio(t.median(), ref))
	}
	fmt.Println()
	fmt.Println("`soapsess fmt` output vs `xmllint --format`'s:", res.diff)
}

// compare streams `soapsess fmt` and `xmllint --format` side by side. same
// is true when every line is the same, or differs only in the order of its
// space-separated parts (xmllint moves namespace declarations ahead of other
// attributes; soapsess keeps the server's order). diff says what was found.
func (b *bench) compare(file string) (same bool, diff string) {
	start := func(cmd *exec.Cmd) (*bufio.Reader, error) {
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		return bufio.NewReaderSize(out, 1<<16), cmd.Start()
	}
	ours, theirs := b.ss(b.builds[0], "fmt", file), b.command("xmllint", "--format", file)
	a, err := start(ours)
	if err != nil {
		b.toolFailed("soapsess fmt: %v", err)
		return false, "not compared"
	}
	z, err := start(theirs)
	if err != nil {
		ours.Process.Kill()
		ours.Wait()
		b.toolFailed("xmllint --format: %v", err)
		return false, "not compared"
	}
	var off, lines, reordered, differ int64
	first := ""
	for {
		la, errA := a.ReadBytes('\n')
		lz, errZ := z.ReadBytes('\n')
		if errA != nil && errZ != nil && len(la) == 0 && len(lz) == 0 {
			break
		}
		lines++
		if i := firstDiff(la, lz); i >= 0 {
			if sameParts(la, lz) {
				reordered++
			} else {
				if differ == 0 {
					first = fmt.Sprintf("first at byte %d (line %d): soapsess `%s`, xmllint `%s`",
						off+int64(i)+1, lines, clip(la, i), clip(lz, i))
				}
				differ++
			}
		}
		off += int64(len(la))
		if errA != nil || errZ != nil {
			if errA == nil || errZ == nil {
				differ++ // one output is longer: count that as one more
				if first == "" {
					first = fmt.Sprintf("one output ends at line %d", lines)
				}
			}
			break
		}
	}
	io.Copy(io.Discard, a) // let both finish
	io.Copy(io.Discard, z)
	for _, c := range []*exec.Cmd{ours, theirs} {
		if err := c.Wait(); err != nil {
			b.toolFailed("%s: %v", strings.Join(c.Args, " "), err)
			return false, "not compared: " + err.Error()
		}
	}
	switch {
	case differ > 0:
		return false, fmt.Sprintf("%d of %d lines differ (%d more only in attribute order); %s", differ, lines, reordered, first)
	case reordered > 0:
		return true, fmt.Sprintf("the same %d lines, %d of them with attributes in another order", lines, reordered)
	default:
		return true, fmt.Sprintf("identical (%d lines)", lines)
	}
}

// sameParts reports whether two lines hold the same space-separated parts,
// in any order (a tag's closing > or /> counted as a part of its own).
func sameParts(a, b []byte) bool {
	parts := func(line []byte) [][]byte {
		line = bytes.ReplaceAll(line, []byte(`"/>`), []byte(`" />`))
		line = bytes.ReplaceAll(line, []byte(`">`), []byte(`" >`))
		return bytes.Fields(line)
	}
	pa, pb := parts(a), parts(b)
	if len(pa) != len(pb) {
		return false
	}
	slices.SortFunc(pa, bytes.Compare)
	slices.SortFunc(pb, bytes.Compare)
	for i := range pa {
		if !bytes.Equal(pa[i], pb[i]) {
			return false
		}
	}
	return true
}

// firstDiff returns the index of the first byte where a and b differ
// (including one being shorter), or -1.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// clip returns up to 60 bytes of line around index i, without the newline.
func clip(line []byte, i int) string {
	line = bytes.TrimSuffix(line, []byte("\n"))
	lo, hi := max(i-30, 0), min(i+30, len(line))
	return string(line[lo:hi])
}
