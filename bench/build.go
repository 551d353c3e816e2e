package main

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// build is a soapsess binary under test and what it is made of.
type build struct {
	label     string // "working tree", or the revision
	describe  string // the label with HEAD and whether files are changed
	src       string // the module's directory it was built from
	bin       string
	state     string // its own SOAPSESS state directory
	size      int64
	goVersion string
	pkgs      int // go list -deps, standard library included
	stdPkgs   int // ... of which standard library
	inits     int // package inits that GODEBUG=inittrace=1 reports
	initTime  time.Duration
	tags      string // the build tags it was built with
	bounds    string // a floor's: the goal it bounds from below (see floorMain)
	runs      string // a floor's: what it does when run (see floorMain)
}

// soapsessTags are the build tags README's install and build commands give:
// urfave_cli_no_docs leaves out urfave/cli's Markdown and man renderer
// (go-md2man, blackfriday), which soapsess does not use at run time and
// whose package init every run paid for; on Linux, netgo and osusergo make
// the binary static (Go's own resolver and user lookup, no libc to load).
var soapsessTags = func() string {
	if runtime.GOOS == "linux" {
		return "urfave_cli_no_docs,netgo,osusergo"
	}
	return "urfave_cli_no_docs"
}()

// goBuild builds package pkg of the module in src into out with the go on
// PATH, with the build tags given (none when "") and, when not "", an
// -overlay file.
func (b *bench) goBuild(src, pkg, out, tags, overlay string) error {
	args := []string{"build", "-o", out}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	args = append(args, pkg)
	logf("go %s (in %s)", strings.Join(args, " "), src)
	cmd := exec.CommandContext(b.ctx, "go", args...)
	cmd.Dir = src
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %v\n%s", src, err, msg)
	}
	return nil
}

// inspect fills in what a built binary is: its size, its Go version and
// how many package inits it runs with initArgs (and how long they take).
func (b *bench) inspect(bd *build, initArgs ...string) {
	if fi, err := os.Stat(bd.bin); err == nil {
		bd.size = fi.Size()
	}
	if bi, err := buildinfo.ReadFile(bd.bin); err == nil {
		bd.goVersion = bi.GoVersion
	}
	bd.inits, bd.initTime = b.initTrace(bd.bin, initArgs...)
}

// buildSoapsess builds soapsess from the working tree (rev "") or from a git
// revision, exported with git archive into a directory of its own so that
// the working tree (which others may be editing) is not touched; with the
// build tags given.
func (b *bench) buildSoapsess(rev, name, tags string) (*build, error) {
	dir := filepath.Join(b.tmp, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	bd := &build{label: "working tree", src: ".", bin: filepath.Join(dir, "soapsess"), state: filepath.Join(dir, "state")}
	bd.describe = bd.label
	if head, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		bd.describe = "working tree at " + strings.TrimSpace(string(head))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			bd.describe += fmt.Sprintf(" with uncommitted changes in %d files", bytes.Count(st, []byte("\n")))
		}
	}
	if rev != "" {
		full, err := exec.Command("git", "rev-parse", "--short", rev+"^{commit}").Output()
		if err != nil {
			return nil, fmt.Errorf("git rev-parse %s: %v", rev, err)
		}
		bd.label = strings.TrimSpace(string(full))
		bd.describe = bd.label
		bd.src = filepath.Join(dir, "src")
		if err := os.MkdirAll(bd.src, 0o755); err != nil {
			return nil, err
		}
		logf("git archive %s into %s", rev, bd.src)
		archive := exec.CommandContext(b.ctx, "sh", "-c", `git archive --format=tar "$1" | tar -x -C "$2"`, "sh", rev, bd.src)
		if out, err := archive.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("git archive %s: %v: %s", rev, err, out)
		}
	}
	if tags != "" {
		bd.tags = tags
		bd.describe += ", -tags " + tags
	}
	if err := b.goBuild(bd.src, ".", bd.bin, tags, ""); err != nil {
		return nil, err
	}
	b.inspect(bd, "--version")
	b.countPackages(bd)
	return bd, nil
}

// countPackages counts the packages the binary links, as the issue counts
// them: go list -deps of its main package.
func (b *bench) countPackages(bd *build) {
	list := exec.CommandContext(b.ctx, "go", "list", "-tags", bd.tags, "-deps", "-f", "{{.Standard}}", ".")
	list.Dir = bd.src
	out, err := list.Output()
	if err != nil {
		logf("go list -deps in %s: %v", bd.src, err)
		return
	}
	bd.pkgs = bytes.Count(out, []byte("\n"))
	bd.stdPkgs = bytes.Count(out, []byte("true\n"))
}

var initLine = regexp.MustCompile(`^init \S+ @[0-9.]+ ms, ([0-9.]+) ms clock`)

// initTrace runs bin args with GODEBUG=inittrace=1 and returns the number
// of package inits the runtime reports and the clock time they took.
func (b *bench) initTrace(bin string, args ...string) (int, time.Duration) {
	cmd := exec.CommandContext(b.ctx, bin, args...)
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, _ := cmd.CombinedOutput()
	n, total := 0, 0.0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := initLine.FindStringSubmatch(sc.Text()); m != nil {
			n++
			f, _ := strconv.ParseFloat(m[1], 64)
			total += f
		}
	}
	return n, time.Duration(total * float64(time.Millisecond))
}

// helloWorld builds a Go "hello, world" with the same toolchain and the same
// go line as soapsess's go.mod (so the go command picks the same toolchain
// for both).
func (b *bench) helloWorld(goMod string) (*build, error) {
	dir := filepath.Join(b.tmp, "hello")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	goLine := "go 1.22"
	if mod, err := os.ReadFile(goMod); err == nil {
		if m := regexp.MustCompile(`(?m)^go [0-9.]+\s*$`).Find(mod); m != nil {
			goLine = strings.TrimSpace(string(m))
		}
	}
	files := map[string]string{
		"go.mod":  "module hello\n\n" + goLine + "\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello, world\") }\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	bd := &build{label: "hello world", src: dir, bin: filepath.Join(dir, "hello")}
	if err := b.goBuild(dir, ".", bd.bin, "", ""); err != nil {
		return nil, err
	}
	b.inspect(bd)
	b.countPackages(bd)
	return bd, nil
}

// floorMain is a program built inside soapsess's module to show what its
// start-up cannot go below.
type floorMain struct {
	name, src string
	// bounds is the goal this floor bounds from below ("status" or "send"),
	// or "": the goal's line compares the lowest floor that bounds it.
	bounds string
	// runs is what it does when run: "send" posts to the server, with the
	// arguments URL BODY STATE, "status" prints STATE (see floorArgs); the
	// others ("") run with no arguments and do nothing.
	runs string
}

// floorMains: soapsess's packages initialised and nothing run; all of its
// code linked (reachable) and nothing run; then what any soapsess would
// have to link and do, whatever its own code. The libraries fixed for the
// project (urfave/cli, xmlquery, color, isatty) linked and nothing run; the
// least status: the same, a JSON state file read and its fields printed (a
// lower bound for status); the libraries and net/http's client linked and
// nothing run. The least send, in two forms: those libraries, a JSON state
// file read and rewritten and the envelope posted, its reply copied to
// stdout (no flags parsed, no lock, no template, no printer, no auth, no
// TLS), with net/http's client or written to a TCP connection by hand; the
// lower of the two bounds send. The "nothing run" ones link a least send's
// code too (linkedOnly), so that each differs from the program it
// measures against only in what runs. xmlquery imports net/http, so its
// package inits run in every one of them.
var floorMains = []floorMain{
	{name: "soapsess's packages initialised, nothing run",
		src: "package main\n\nimport _ \"github.com/soapsess/soapsess/cmd\"\n\nfunc main() {}\n"},
	{name: "all of soapsess linked, nothing run",
		src: "package main\n\nimport (\n\t\"os\"\n\n\t\"github.com/soapsess/soapsess/cmd\"\n)\n\n" +
			"func main() {\n\tif len(os.Args) > 1000 { // never: the code is linked, not run\n\t\tos.Exit(cmd.Main(os.Args, cmd.SystemIO()))\n\t}\n}\n"},
	{name: "urfave/cli, xmlquery, color and isatty linked, nothing run",
		src: leastSrc(tcpImports, linkedOnly, tcpPost)},
	{name: "the least status: the same, plus a JSON state file read and its fields printed", bounds: "status", runs: "status",
		src: leastSrc(tcpImports, leastStatusMain, tcpPost+leastStatus)},
	{name: "urfave/cli, xmlquery, color, isatty and net/http's client linked, nothing run",
		src: leastSrc(httpImports, linkedOnly, httpPost)},
	{name: "the least send with net/http: the libraries and net/http's client, plus a JSON state file read and rewritten and the envelope posted", bounds: "send", runs: "send",
		src: leastSrc(httpImports, leastSendMain, httpPost)},
	{name: "the least send by hand: the libraries, a JSON state file read and rewritten and HTTP/1.1 written to a TCP connection", bounds: "send", runs: "send",
		src: leastSrc(tcpImports, leastSendMain, tcpPost)},
}

// leastSrc is a floor program: imports, main's body, and post, the way the
// envelope reaches the server.
func leastSrc(imports, main, post string) string {
	return "package main\n\nimport (" + imports + `
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/antchfx/xmlquery"
	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"
)

func main() {
	` + main + `
}

func libraries() {
	doc, _ := xmlquery.Parse(strings.NewReader(os.Args[1]))
	color.New(color.FgRed).Println(xmlquery.Find(doc, os.Args[2]), isatty.IsTerminal(os.Stdout.Fd()))
	(&cli.App{Commands: []*cli.Command{{Name: os.Args[3]}}}).Run(os.Args)
}

// send posts BODY inside an XMLA session header carrying the session_id of
// the JSON file STATE, copies the reply's body to stdout, and counts the
// request in STATE.
func send(url, bodyFile, stateFile string) error {
	s, err := readState(stateFile)
	if err != nil {
		return err
	}
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		return err
	}
	id, _ := s["session_id"].(string)
	env := "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header>" +
		"<Session xmlns=\"urn:schemas-microsoft-com:xml-analysis\" SessionId=\"" + id + "\"/>" +
		"</soap:Header><soap:Body>" + string(body) + "</soap:Body></soap:Envelope>"
	if err := post(url, env); err != nil {
		return err
	}
	n, _ := s["requests"].(float64)
	s["requests"] = n + 1
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(stateFile+".tmp", out, 0o600); err != nil {
		return err
	}
	return os.Rename(stateFile+".tmp", stateFile)
}

func readState(stateFile string) (map[string]any, error) {
	raw, err := os.ReadFile(stateFile)
	if err != nil {
		return nil, err
	}
	var s map[string]any
	return s, json.Unmarshal(raw, &s)
}
` + post
}

// linkedOnly is the body of a floor's main that links the libraries and a
// least send and runs nothing.
const linkedOnly = `if len(os.Args) > 1000 { // never: the code is linked, not run
		libraries()
		send(os.Args[1], os.Args[2], os.Args[3])
	}`

const leastStatusMain = linkedOnly + `
	if err := status(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}`

const leastStatus = `
// status prints the session in the JSON file STATE, a field a line.
func status(stateFile string) error {
	s, err := readState(stateFile)
	if err != nil {
		return err
	}
	for _, k := range []string{"name", "dialect", "url", "session_id", "created", "last_used", "requests", "state"} {
		fmt.Printf("%-11s %v\n", k+":", s[k])
	}
	return nil
}
`

const leastSendMain = `if len(os.Args) > 1000 { // never: the code is linked, not run
		libraries()
	}
	if err := send(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}`

const httpImports = `
	"io"
	"net/http"`

const httpPost = `
func post(url, env string) error {
	req, err := http.NewRequest("POST", url, strings.NewReader(env))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", "\"urn:schemas-microsoft-com:xml-analysis:Discover\"")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	return nil
}
`

const tcpImports = `
	"bytes"
	"io"
	"net"
	"net/url"
	"strconv"`

const tcpPost = `
func post(rawURL, env string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return err
	}
	defer c.Close()
	req := "POST " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n" +
		"Content-Type: text/xml; charset=utf-8\r\nSOAPAction: \"urn:schemas-microsoft-com:xml-analysis:Discover\"\r\n" +
		"Connection: close\r\nContent-Length: " + strconv.Itoa(len(env)) + "\r\n\r\n" + env
	if _, err := io.WriteString(c, req); err != nil {
		return err
	}
	reply, err := io.ReadAll(c) // Connection: close, so the reply ends with the connection
	if err != nil {
		return err
	}
	head, body, ok := bytes.Cut(reply, []byte("\r\n\r\n"))
	if !ok || !bytes.HasPrefix(head, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("not a 200 reply: %.200q", reply)
	}
	_, err = os.Stdout.Write(body)
	return err
}
`

// floors builds floorMains inside cur's module with cur's tags, adding the
// main package through go build -overlay so that nothing is written into
// the source tree (others may be editing it).
func (b *bench) floors(cur *build) ([]*build, error) {
	src, err := filepath.Abs(cur.src)
	if err != nil {
		return nil, err
	}
	var out []*build
	for i, f := range floorMains {
		dir := filepath.Join(b.tmp, fmt.Sprintf("floor%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		mainGo, overlay := filepath.Join(dir, "main.go"), filepath.Join(dir, "overlay.json")
		pkg := filepath.Join(src, "internal", fmt.Sprintf("benchfloor%d", i))
		spec, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(pkg, "main.go"): mainGo}})
		if err := os.WriteFile(mainGo, []byte(f.src), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(overlay, spec, 0o644); err != nil {
			return nil, err
		}
		bd := &build{label: f.name, src: src, bin: filepath.Join(dir, "floor"), tags: cur.tags, bounds: f.bounds, runs: f.runs}
		if err := b.goBuild(src, "./internal/"+filepath.Base(pkg), bd.bin, cur.tags, overlay); err != nil {
			return nil, fmt.Errorf("floor %q: %w", f.name, err)
		}
		b.inspect(bd)
		out = append(out, bd)
	}
	return out, nil
}
