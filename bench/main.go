// Command bench measures issue 17's goals for soapsess in one run, as ratios
// to other programs measured alongside, and prints Markdown tables ready to
// paste into README's "### Speed" section, then a PASS/FAIL list of the
// goals. It exits 1 when a goal is missed or could not be measured.
//
// Three parts, each interleaving the commands it compares (every round runs
// each once, starting one further along), so that load drift hits all alike:
//
//   - Start-up (-rounds, 40): whole-process wall time of a Go "hello, world"
//     built with the same toolchain, curl posting the envelope soapsess sends
//     (taken from `soapsess send --dry-run`), and `soapsess --version`,
//     `soapsess status` and `soapsess send body.xml` inside an open XMLA
//     session, all against one `soapsess serve` process on loopback
//     answering the same small DISCOVER reply. Seven floors are timed with
//     them (built with go build -overlay, nothing written into the tree):
//     soapsess's packages initialised and nothing run, and all of its code
//     linked and nothing run, which no change short of linking less can
//     beat; then what any soapsess must link and do, which none can beat:
//     the fixed libraries (urfave/cli, xmlquery, color, isatty) linked and
//     nothing run; the least status (those, plus a JSON state file read
//     and printed); those and net/http's client linked and nothing run;
//     and the least send in two forms (a JSON state file read and
//     rewritten and the envelope posted with net/http's client, or by hand
//     on a TCP connection). Each start-up goal's line says whether its
//     lowest floor is within the goal's limit. soapsess is a real `go
//     build` with a state directory of its own (SOAPSESS_STATE_DIR), so the
//     user's sessions are never touched. Goals, on the medians: send ≤ 0.6× curl and
//     ≤ 2× hello world, status ≤ 1.5× hello world.
//   - fmt (-size MB, -runs): `soapsess fmt FILE` on a generated compact XMLA
//     rowset against `xmllint --stream --noout FILE` (libxml2's streaming
//     parse alone; the goal: ≤ 1.0× its median wall time, peak RSS ≤ 64 MB),
//     with `xmllint --format` and `xmlstarlet fo` as anchors; and once, that
//     fmt writes xmllint --format's lines, but for attribute order.
//   - Paging (-entries, -small-entries, -page-runs): `soapsess send
//     --all-pages` through every entry of `soapsess serve --dsml-entries N`,
//     each N its own server process: entries/s, the client's CPU and peak
//     RSS from its rusage, the server's CPU over the same run (/proc).
//     Goal: the client's peak RSS at -entries is at most 4 MB over its peak at
//     -small-entries (see pagingRSSSlack).
//
// With -before REV it also builds soapsess from that git revision (git
// archive into a temporary directory; the working tree is not touched),
// times its start-up in the same rounds, and lists both binaries' size,
// package count (go list -deps) and package inits (GODEBUG=inittrace=1).
// -startup-only leaves fmt and paging out. -rev REV measures that revision
// instead of the working tree (which others may be editing); every
// reference server is the soapsess under test's own `serve`.
//
// Missing xmllint, xmlstarlet or curl are installed with apt-get when
// possible; a tool that stays missing is skipped, and its goals are reported
// as not measured.
//
// Run from the repository root:
//
//	go run ./bench                                # everything, as the goals are set
//	go run ./bench -quick                         # a quick look: 5 MB, 1 run, 10 rounds
//	go run ./bench -startup-only -before 2847ea2  # start-up, before and after
//
// Progress goes to stderr, the report to stdout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

const mb = 1 << 20

func main() { os.Exit(run()) }

func run() int {
	size := flag.Int("size", 100, "`MB` of rowset to format")
	runs := flag.Int("runs", 5, "interleaved runs of each formatter")
	rounds := flag.Int("rounds", 40, "interleaved rounds of the start-up commands")
	entries := flag.Int("entries", 100_000, "DSML `N` entries to page through")
	smallEntries := flag.Int("small-entries", 10_000, "the smaller DSML count whose client RSS -entries' is held to")
	pageRuns := flag.Int("page-runs", 3, "interleaved runs of each paging count")
	pageSize := flag.Int("page-size", 1000, "--page-size of the paged search")
	startupOnly := flag.Bool("startup-only", false, "measure start-up only (no fmt, no paging)")
	before := flag.String("before", "", "also build and time the start-up of git revision `REV`")
	rev := flag.String("rev", "", "measure git revision `REV` instead of the working tree")
	quick := flag.Bool("quick", false, "a quick look: -size 5 -runs 1 -rounds 10 -page-runs 1 unless given")
	keep := flag.Bool("keep", false, "keep the temporary directory")
	flag.Parse()
	if *quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]*int{"size": size, "runs": runs, "rounds": rounds, "page-runs": pageRuns} {
			if !set[name] {
				*v = map[string]int{"size": 5, "runs": 1, "rounds": 10, "page-runs": 1}[name]
			}
		}
	}
	if *size < 1 || *runs < 1 || *rounds < 1 || *pageRuns < 1 || *smallEntries < 1 || *entries <= *smallEntries ||
		*pageSize < 1 || flag.NArg() > 0 {
		flag.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tmp, err := os.MkdirTemp("", "soapsess-bench-")
	if err != nil {
		return fatal(err)
	}
	if *keep {
		defer logf("kept %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	loadStart := loadAverage()

	skipped := ensureTools(ctx)
	b := &bench{ctx: ctx, tmp: tmp}
	cur, err := b.buildSoapsess(*rev, "current", soapsessTags)
	if err != nil {
		return fatal(err)
	}
	b.builds = []*build{cur}
	if *before != "" {
		old, err := b.buildSoapsess(*before, "before", "") // as it was built then
		if err != nil {
			return fatal(err)
		}
		b.builds = append(b.builds, old)
	}
	hello, err := b.helloWorld(filepath.Join(cur.src, "go.mod"))
	if err != nil {
		return fatal(err)
	}
	if hello.goVersion != cur.goVersion {
		b.toolFailed("hello world built with %s, soapsess with %s", hello.goVersion, cur.goVersion)
	}

	floors, err := b.floors(cur)
	if err != nil {
		b.toolFailed("%v", err) // the floor rows say "not built"
	}

	f := figures{startupRun: true, smallEntries: *smallEntries, largeEntries: *entries}
	start, err := b.startup(*rounds, hello, floors, skipped)
	if err != nil {
		b.toolFailed("start-up: %v", err)
	} else {
		f.send, f.curl, f.hello, f.status = start.send[0].median(), start.curl.median(), start.hello.median(), start.status[0].median()
		f.statusFloor, f.sendFloor = lowest(start.statusFloors), lowest(start.sendFloors)
	}

	var fmts *fmtResult
	var pages []*pagingRow
	if !*startupOnly {
		file := filepath.Join(tmp, "rowset.xml")
		logf("generating %d MB XMLA rowset in %s", *size, file)
		n, err := generate(file, int64(*size)*mb)
		if err != nil {
			return fatal(err)
		}
		fmts = b.formatters(file, n, *runs, skipped)
		os.Remove(file)
		f.fmtRun = true
		f.fmtWall, f.streamWall, f.fmtRSS = fmts.ours.median(), fmts.stream.median(), fmts.ours.rss
		f.fmtCompared, f.fmtSame, f.fmtDiff = fmts.compared, fmts.same, fmts.diff

		pages, err = b.paging([]int{*smallEntries, *entries}, *pageSize, *pageRuns)
		if err != nil {
			b.toolFailed("paging: %v", err)
		}
		f.pagingRun = true
		if len(pages) == 2 && pages[0].ok() && pages[1].ok() {
			f.smallRSS, f.largeRSS = pages[0].rss, pages[1].rss
			f.extraOutput = pages[1].outBytes - pages[0].outBytes
		}
	}
	verdicts := evaluate(f)

	fmt.Printf("`go run ./bench%s`, %s: soapsess built from %s, %s %s/%s, %d CPUs, load average %s at the start, %s at the end\n\n",
		strings.Join(append([]string{""}, os.Args[1:]...), " "), time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		cur.describe, cur.goVersion, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadStart, loadAverage())
	fmt.Println("#### Start-up")
	fmt.Println()
	if start != nil {
		printStartup(start, b.builds, *rounds)
	} else {
		fmt.Println("Not measured: see stderr.")
	}
	fmt.Println()
	printBuilds(b.builds, hello, start)
	if fmts != nil {
		fmt.Println()
		fmt.Println("#### fmt")
		fmt.Println()
		printFormatters(fmts, *runs)
	}
	if f.pagingRun {
		fmt.Println()
		fmt.Println("#### Paging")
		fmt.Println()
		printPaging(pages, *pageSize, *pageRuns)
	}
	fmt.Println()
	fmt.Println("#### Goals")
	fmt.Println()
	for _, v := range verdicts {
		line := fmt.Sprintf("- **%s** %s", v.result, v.goal)
		if v.detail != "" {
			line += ": " + v.detail
		}
		fmt.Println(line)
	}
	fmt.Println()
	var tools []string
	for _, tool := range []string{"xmllint", "xmlstarlet", "curl"} {
		if _, ok := skipped[tool]; !ok {
			tools = append(tools, tool+" "+version(tool))
		}
	}
	fmt.Println("Tools:", strings.Join(tools, "; "))
	for _, name := range sortedKeys(skipped) {
		fmt.Printf("\nskipped %s: %s\n", name, skipped[name])
	}

	code := 0
	if missed(verdicts) {
		var which []string
		for _, v := range verdicts {
			if v.result == fail || v.result == unmeasured {
				which = append(which, v.goal+" ("+v.result.String()+")")
			}
		}
		logf("goals missed: %s", strings.Join(which, "; "))
		code = 1
	}
	if b.failed {
		logf("a tool failed (see FAILED above): the figures are incomplete")
		code = 1
	}
	return code
}

// loadAverage is the 1-minute load average (Linux), or "n/a".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	first, _, _ := strings.Cut(string(b), " ")
	return first
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...) }

func fatal(err error) int {
	logf("error: %v", err)
	return 1
}

// ensureTools installs the missing tools with apt-get and returns the ones
// still missing, with the reason.
func ensureTools(ctx context.Context) map[string]string {
	// GNU time measures the peak RSS of fmt and paging (see measureRSS).
	pkgs := map[string]string{"xmllint": "libxml2-utils", "xmlstarlet": "xmlstarlet", "curl": "curl", "time": "time"}
	missing := func() []string {
		var m []string
		for _, tool := range sortedKeys(pkgs) {
			if _, err := exec.LookPath(tool); err != nil {
				m = append(m, tool)
			}
		}
		return m
	}
	need := missing()
	if len(need) == 0 {
		return nil
	}
	why := "not on PATH"
	if _, err := exec.LookPath("apt-get"); err != nil {
		why = "not on PATH, and no apt-get to install it"
	} else {
		args := []string{"install", "-y", "--no-install-recommends"}
		for _, tool := range need {
			args = append(args, pkgs[tool])
		}
		apt := func(args ...string) error {
			logf("apt-get %s", strings.Join(args, " "))
			cmd := exec.CommandContext(ctx, "apt-get", args...)
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			return cmd.Run()
		}
		if err := apt(args...); err != nil {
			if err = apt("update"); err == nil {
				err = apt(args...)
			}
			if err != nil {
				why = fmt.Sprintf("not on PATH, and apt-get failed (%v; not root, or no network?)", err)
			}
		}
		if err == nil && len(missing()) > 0 {
			why = "not on PATH even after apt-get install"
		}
	}
	skipped := map[string]string{}
	for _, tool := range missing() {
		skipped[tool] = why + " (package " + pkgs[tool] + ")"
		logf("skipping %s: %s", tool, skipped[tool])
	}
	return skipped
}

type bench struct {
	ctx    context.Context
	tmp    string
	builds []*build // the soapsess under test first; then -before's
	failed bool
}

func (b *bench) toolFailed(format string, args ...any) {
	b.failed = true
	logf("FAILED: "+format, args...)
}

func (b *bench) command(name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(b.ctx, name, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	return cmd
}

// version returns the version number in the first line of `tool --version`
// (xmllint writes it to stderr, as "using libxml version 20914").
func version(tool string) string {
	out, _ := exec.Command(tool, "--version").CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	for _, w := range strings.Fields(line) {
		if w != "" && w[0] >= '0' && w[0] <= '9' {
			return w
		}
	}
	return line
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
