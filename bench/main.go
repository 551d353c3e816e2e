// Command bench measures soapsess against the usual command-line tools and
// prints a Markdown table ready to paste into README.
//
// It measures two things:
//
//   - Formatting: `soapsess fmt`, `xmllint --format` and `xmlstarlet fo` on a
//     generated, compact XMLA DISCOVER rowset reply of -size MB (deterministic):
//     wall time (median of -runs), MB/s and peak RSS (max over the runs, from
//     the child's rusage). It also checks once that `soapsess fmt` writes the
//     same bytes as `xmllint --format`.
//   - One request: `soapsess send` inside an XMLA session against curl posting
//     the same envelope, both to the reference server on loopback, alternated
//     -sends times each: median and p90 wall time per process.
//
// Missing xmllint, xmlstarlet or curl are installed with apt-get when
// possible; tools that stay missing are skipped, and the report says so.
// soapsess itself is measured as a real `go build`, not `go run`.
//
// Run from the repository root:
//
//	go run ./bench                          # 100 MB, 5 runs, 30 sends
//	go run ./bench -size 5 -runs 1 -sends 5 # a quick look
//
// Progress goes to stderr, the report to stdout. The exit status is 0 even
// when a target is missed (benchmarks print figures), and non-zero when a
// tool that is present fails.
package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/soapsess/soapsess/refserver"
)

const mb = 1 << 20

func main() { os.Exit(run()) }

func run() int {
	size := flag.Int("size", 100, "`MB` of rowset to format")
	runs := flag.Int("runs", 5, "repetitions per formatter (median wall time, max peak RSS)")
	sends := flag.Int("sends", 30, "requests per client in the send benchmark")
	keep := flag.Bool("keep", false, "keep the temporary directory")
	flag.Parse()
	if *size < 1 || *runs < 1 || *sends < 1 || flag.NArg() > 0 {
		flag.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tmp, err := os.MkdirTemp("", "soapsess-bench-")
	if err != nil {
		return fail(err)
	}
	if *keep {
		defer logf("kept %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	skipped := ensureTools(ctx)

	bin := filepath.Join(tmp, "soapsess")
	logf("go build -o %s .", bin)
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return fail(fmt.Errorf("go build: %v\n%s", err, out))
	}

	file := filepath.Join(tmp, "rowset.xml")
	logf("generating %d MB XMLA rowset in %s", *size, file)
	n, err := generate(file, int64(*size)*mb)
	if err != nil {
		return fail(err)
	}

	b := &bench{ctx: ctx, bin: bin, tmp: tmp}
	fmts := b.formatters(file, n, *runs, skipped)
	same := b.compare(file, skipped)
	sendRows, sendErr := b.sends(*sends, skipped)
	if sendErr != nil {
		b.toolFailed("send benchmark: %v", sendErr)
	}

	goVersion := runtime.Version()
	if bi, err := buildinfo.ReadFile(bin); err == nil {
		goVersion = bi.GoVersion
	}
	fmt.Printf("soapsess benchmark: %d MB XMLA rowset (%d bytes), median of %d runs, %d CPUs, %s %s/%s\n\n",
		*size, n, *runs, runtime.NumCPU(), goVersion, runtime.GOOS, runtime.GOARCH)
	printFormatters(fmts)
	fmt.Println()
	printSends(sendRows, *sends)
	fmt.Println()
	fmt.Println("fmt output vs xmllint --format:", same)
	fmt.Println()
	fmt.Println(targets(fmts, sendRows))
	fmt.Println()
	for _, tool := range []string{"xmllint", "xmlstarlet", "curl"} {
		if _, ok := skipped[tool]; !ok {
			fmt.Printf("%s: %s\n", tool, version(tool))
		}
	}
	for _, name := range sortedKeys(skipped) {
		fmt.Printf("skipped %s: %s\n", name, skipped[name])
	}
	if b.failed {
		return 1
	}
	return 0
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...) }

func fail(err error) int {
	logf("error: %v", err)
	return 1
}

// ensureTools installs the missing tools with apt-get and returns the ones
// still missing, with the reason.
func ensureTools(ctx context.Context) map[string]string {
	pkgs := map[string]string{"xmllint": "libxml2-utils", "xmlstarlet": "xmlstarlet", "curl": "curl"}
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
	bin    string
	tmp    string
	failed bool
}

func (b *bench) toolFailed(format string, args ...any) {
	b.failed = true
	logf("FAILED: "+format, args...)
}

// measure runs cmd with stdout to /dev/null (unless set) and returns its wall
// time and peak RSS in bytes.
func measure(cmd *exec.Cmd) (time.Duration, int64, error) {
	if cmd.Stdout == nil {
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return 0, 0, err
		}
		defer null.Close()
		cmd.Stdout = null
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return wall, 0, fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return wall, peakRSS(cmd.ProcessState), nil
}

func (b *bench) command(name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(b.ctx, name, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	return cmd
}

type fmtRow struct {
	tool  string
	wall  time.Duration // median
	rss   int64         // max
	bytes int64
	note  string // why there are no figures
}

func (b *bench) formatters(file string, n int64, runs int, skipped map[string]string) []*fmtRow {
	type tool struct {
		row  *fmtRow
		name string
		args []string
		ok   bool
	}
	tools := []*tool{
		{&fmtRow{tool: "soapsess fmt"}, b.bin, []string{"fmt", file}, true},
		{&fmtRow{tool: "xmllint --format"}, "xmllint", []string{"--format", file}, true},
		{&fmtRow{tool: "xmlstarlet fo"}, "xmlstarlet", []string{"fo", file}, true},
	}
	walls := make([][]time.Duration, len(tools))
	for r := 1; r <= runs; r++ { // interleaved, so that drift hits every tool alike
		for i, t := range tools {
			if why, ok := skipped[t.name]; ok {
				t.row.note, t.ok = "skipped: "+why, false
			}
			if !t.ok {
				continue
			}
			logf("run %d/%d: %s", r, runs, t.row.tool)
			wall, rss, err := measure(b.command(t.name, t.args...))
			if err != nil {
				b.toolFailed("%v", err)
				t.row.note, t.ok = "failed", false
				continue
			}
			walls[i] = append(walls[i], wall)
			t.row.rss = max(t.row.rss, rss)
		}
	}
	var rows []*fmtRow
	for i, t := range tools {
		if t.ok {
			t.row.wall, t.row.bytes = percentile(walls[i], 50), n
		}
		rows = append(rows, t.row)
	}
	return rows
}

// compare streams `soapsess fmt` and `xmllint --format` side by side and
// reports the first differing byte.
func (b *bench) compare(file string, skipped map[string]string) string {
	if _, ok := skipped["xmllint"]; ok {
		return "not checked (xmllint skipped)"
	}
	start := func(name string, args ...string) (*exec.Cmd, *bufio.Reader, error) {
		cmd := b.command(name, args...)
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, err
		}
		return cmd, bufio.NewReaderSize(out, 1<<16), cmd.Start()
	}
	ours, a, err := start(b.bin, "fmt", file)
	if err != nil {
		b.toolFailed("soapsess fmt: %v", err)
		return "not checked"
	}
	theirs, z, err := start("xmllint", "--format", file)
	if err != nil {
		ours.Process.Kill()
		ours.Wait()
		b.toolFailed("xmllint --format: %v", err)
		return "not checked"
	}
	// Line by line, to say where the first difference is and how many
	// lines differ in all.
	var off, lines, differ int64
	result := ""
	for {
		la, errA := a.ReadBytes('\n')
		lz, errZ := z.ReadBytes('\n')
		if errA != nil && errZ != nil && len(la) == 0 && len(lz) == 0 {
			break
		}
		lines++
		if i := firstDiff(la, lz); i >= 0 {
			if differ == 0 {
				result = fmt.Sprintf("differs at byte %d (line %d): soapsess `%s`, xmllint `%s`",
					off+int64(i)+1, lines, clip(la, i), clip(lz, i))
			}
			differ++
		}
		off += int64(len(la))
		if errA != nil || errZ != nil {
			if errA == nil || errZ == nil {
				differ++ // one output is longer: count that as one more
			}
			break
		}
	}
	if differ == 0 {
		result = "identical"
	} else {
		result += fmt.Sprintf("; %d of %d lines differ", differ, lines)
	}
	io.Copy(io.Discard, a) // let both finish
	io.Copy(io.Discard, z)
	for _, c := range []*exec.Cmd{ours, theirs} {
		if err := c.Wait(); err != nil {
			b.toolFailed("%s: %v", strings.Join(c.Args, " "), err)
		}
	}
	return result
}

type sendRow struct {
	tool      string
	med, p90  time.Duration
	note      string
	completed bool
}

const (
	discoverBody = `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis">` +
		`<RequestType>DISCOVER_DATASOURCES</RequestType><Restrictions/>` +
		`<Properties><PropertyList><Format>Tabular</Format></PropertyList></Properties></Discover>`
	envelopeFmt = `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">
<SOAP-ENV:Header><Session xmlns="urn:schemas-microsoft-com:xml-analysis" mustUnderstand="1" SessionId="%s"/></SOAP-ENV:Header>
<SOAP-ENV:Body>%s</SOAP-ENV:Body>
</SOAP-ENV:Envelope>
`
)

// sends times one `soapsess send` against one curl POST of the same envelope
// to the in-process reference server.
func (b *bench) sends(count int, skipped map[string]string) ([]*sendRow, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: refserver.New(refserver.Options{})}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + refserver.PathXMLA

	state := filepath.Join(b.tmp, "state")
	ss := func(args ...string) *exec.Cmd {
		return b.command(b.bin, append([]string{"--state-dir", state}, args...)...)
	}
	if out, err := ss("begin", "--url", url, "--dialect", "xmla").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("soapsess begin: %v: %s", err, out)
	}
	defer func() {
		if out, err := ss("end").CombinedOutput(); err != nil {
			b.toolFailed("soapsess end: %v: %s", err, out)
		}
	}()
	out, err := ss("status", "--json").Output()
	if err != nil {
		return nil, fmt.Errorf("soapsess status --json: %v", err)
	}
	var st struct {
		ID string `json:"session_id"`
	}
	if err := json.Unmarshal(out, &st); err != nil || st.ID == "" {
		return nil, fmt.Errorf("soapsess status --json: no session_id in %q (%v)", out, err)
	}
	body, env := filepath.Join(b.tmp, "discover.xml"), filepath.Join(b.tmp, "envelope.xml")
	if err := os.WriteFile(body, []byte(discoverBody), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(env, fmt.Appendf(nil, envelopeFmt, st.ID, discoverBody), 0o600); err != nil {
		return nil, err
	}

	send := func() *exec.Cmd { return ss("send", body) }
	curlArgs := []string{"-s", "-H", "Content-Type: text/xml; charset=utf-8",
		"-H", `SOAPAction: "urn:schemas-microsoft-com:xml-analysis:Discover"`, "--data-binary", "@" + env, url}
	curl := func() *exec.Cmd { return b.command("curl", append([]string{"-o", os.DevNull}, curlArgs...)...) }

	// Check once that both really get a DISCOVER_DATASOURCES reply.
	if out, err := send().Output(); err != nil || !bytes.Contains(out, []byte("DiscoverResponse")) {
		return nil, fmt.Errorf("soapsess send: %v: %.300s", err, out)
	}
	rows := []*sendRow{{tool: "soapsess send"}, {tool: "curl"}}
	cmds := []func() *exec.Cmd{send, curl}
	if why, ok := skipped["curl"]; ok {
		rows[1].note, cmds[1] = "skipped: "+why, nil
	} else {
		check := b.command("curl", append([]string{"-w", "\n%{http_code}"}, curlArgs...)...)
		out, err := check.Output()
		if err != nil || !bytes.HasSuffix(out, []byte("\n200")) || !bytes.Contains(out, []byte("DiscoverResponse")) {
			b.toolFailed("curl: %v: %.300s", err, out)
			rows[1].note, cmds[1] = "failed", nil
		}
	}

	logf("timing %d sends each against %s", count, url)
	walls := make([][]time.Duration, len(cmds))
	for range count {
		for i, mk := range cmds {
			if mk == nil {
				continue
			}
			wall, _, err := measure(mk())
			if err != nil {
				b.toolFailed("%v", err)
				rows[i].note, cmds[i] = "failed", nil
				continue
			}
			walls[i] = append(walls[i], wall)
		}
	}
	for i, r := range rows {
		if cmds[i] != nil {
			r.med, r.p90, r.completed = percentile(walls[i], 50), percentile(walls[i], 90), true
		}
	}
	return rows, nil
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

// percentile returns the nearest-rank p-th percentile of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100 // ceil(n*p/100), 1-based
	return s[max(i, 1)-1]
}

func printFormatters(rows []*fmtRow) {
	var ref time.Duration
	for _, r := range rows {
		if r.tool == "xmlstarlet fo" {
			ref = r.wall
		}
	}
	fmt.Println("| tool | wall | MB/s | peak RSS | time vs xmlstarlet fo |")
	fmt.Println("|---|---|---|---|---|")
	for _, r := range rows {
		if r.wall == 0 {
			fmt.Printf("| %s | %s | | | |\n", r.tool, r.note)
			continue
		}
		fmt.Printf("| %s | %.2f s | %.1f | %d MB | %s |\n", r.tool, r.wall.Seconds(),
			float64(r.bytes)/mb/r.wall.Seconds(), r.rss/mb, ratio(r.wall, ref))
	}
}

func printSends(rows []*sendRow, count int) {
	var ref time.Duration
	if len(rows) == 2 && rows[1].completed {
		ref = rows[1].med
	}
	fmt.Printf("| one request (loopback, median of %d) | median | p90 | vs curl |\n", count)
	fmt.Println("|---|---|---|---|")
	if len(rows) == 0 {
		fmt.Println("| soapsess send | failed, see stderr | | |")
	}
	for _, r := range rows {
		if !r.completed {
			fmt.Printf("| %s | %s | | |\n", r.tool, r.note)
			continue
		}
		fmt.Printf("| %s | %s | %s | %s |\n", r.tool, ms(r.med), ms(r.p90), ratio(r.med, ref))
	}
}

func targets(fmts []*fmtRow, sends []*sendRow) string {
	verdict := func(ok bool, fig string) string {
		if ok {
			return "PASS (" + fig + ")"
		}
		return "FAIL (" + fig + ")"
	}
	ours, star := fmts[0], fmts[2]
	var t []string
	if ours.wall > 0 && star.wall > 0 {
		r := ours.wall.Seconds() / star.wall.Seconds()
		t = append(t, "fmt ≤ 0.5× xmlstarlet: "+verdict(r <= 0.5, fmt.Sprintf("%.2f×", r)))
	} else {
		t = append(t, "fmt ≤ 0.5× xmlstarlet: not measured")
	}
	if ours.wall > 0 {
		t = append(t, "fmt peak RSS ≤ 64 MB: "+verdict(ours.rss <= 64*mb, fmt.Sprintf("%d MB", ours.rss/mb)))
	} else {
		t = append(t, "fmt peak RSS ≤ 64 MB: not measured")
	}
	if len(sends) == 2 && sends[0].completed && sends[1].completed {
		r := sends[0].med.Seconds() / sends[1].med.Seconds()
		t = append(t, "send ≤ curl: "+verdict(r <= 1, fmt.Sprintf("%.2f×", r)))
	} else {
		t = append(t, "send ≤ curl: not measured")
	}
	return "targets: " + strings.Join(t, "; ")
}

func ratio(d, ref time.Duration) string {
	if ref == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", d.Seconds()/ref.Seconds())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", d.Seconds()*1000) }

// version returns the first line of `tool --version` (xmllint writes it to
// stderr).
func version(tool string) string {
	out, _ := exec.Command(tool, "--version").CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimPrefix(line, tool+": ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
