package cmd

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fatih/color"
	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/printer"
	"github.com/soapsess/soapsess/refserver"
	"github.com/soapsess/soapsess/reply"
)

func (a *appCtx) demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "try it all: begin, send and end against the built-in reference server",
		Description: `Starts the reference server on a free loopback port and, with a temporary
state directory, runs begin, send and end for each dialect. Each step is titled
and shows the command run, the session header it put in the request (lines
marked >), the reply as soapsess prints it on a terminal (marked <) and its
messages; it ends with what send does once a session has ended (exit status 5).
Colour as for any command: on a terminal, unless --color never or NO_COLOR.
Nothing outside the temporary directory is touched.

Examples:
   soapsess demo
   soapsess demo --wire   # every HTTP exchange whole, as it went over the wire
   go run . demo          # from a clone, without installing`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "wire", Usage: "show every request and reply whole, HTTP heads and bodies, as they went over the wire"},
		},
		Action: a.demo,
	}
}

// demoDialect is one dialect the demo walks through: its endpoint on the
// reference server, its session headers (for the titles) and the request
// sent inside the session.
type demoDialect struct {
	name, path, title    string
	begin, session, end  string // the session headers, as the titles name them
	file, about, content string
}

var demoDialects = []demoDialect{
	{"dsml", "/dsml", "DSML: Active Directory's DSML Services for Windows",
		"BeginSession", "Session", "EndSession",
		"search.xml", "Ada Lovelace's mail address, under ou=People", `<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core">
  <searchRequest dn="ou=People,dc=example,dc=com" scope="singleLevel" derefAliases="neverDerefAliases">
    <filter><equalityMatch name="cn"><value>Ada Lovelace</value></equalityMatch></filter>
    <attributes><attribute name="mail"/></attributes>
  </searchRequest>
</batchRequest>
`},
	{"xmla", "/xmla", "XML for Analysis: SSAS, Mondrian, Kylin, Virtuoso",
		"BeginSession", "Session", "EndSession",
		"discover.xml", "which data sources the server has", `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis">
  <RequestType>DISCOVER_DATASOURCES</RequestType>
  <Restrictions/>
  <Properties><PropertyList><Format>Tabular</Format></PropertyList></Properties>
</Discover>
`},
	{"sqlsoap", "/sql", "SQL Server native SOAP (2005 to 2012)",
		`sqlSession initiate="true"`, "sqlSession", `sqlSession terminate="true"`,
		"batch.xml", "two SELECTs in one batch", `<sql:sqlbatch xmlns:sql="http://schemas.microsoft.com/sqlserver/2004/SOAP">
  <sql:BatchCommands>SELECT 1; SELECT 2</sql:BatchCommands>
</sql:sqlbatch>
`},
}

func (a *appCtx) demo(c *cli.Context) error {
	if err := noMoreArgs(c, 0); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "soapsess-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the reference server: %w", err)
	}
	srv := &http.Server{Handler: refserver.New(refserver.Options{})}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	a.startPager(c) // longer than a screen: read from the top
	on := colorOn(a.io.ColorMode, a.io.OutTTY, a.io.getenv)
	v := newDemoView(a.io.Out, on)
	heading := style(colorFor(on, color.Bold, color.Underline))
	title := style(colorFor(on, color.Bold))
	plain := printer.Style{}
	say := func(s printer.Style, format string, args ...any) {
		fmt.Fprintf(v.plain, "%s%s%s\n", s.On, fmt.Sprintf(format, args...), s.Off)
	}

	// The commands see a terminal, as a user's would (the Header and Body
	// indented), with colour as decided for the demo's own stdout.
	sub := &IO{In: strings.NewReader(""), Out: v.reply, Err: v.plain, OutTTY: true, Getenv: a.io.Getenv}
	sub.Trace = &requestTrace{out: v.request, pal: palette(on)}
	colorFlag := "never"
	if on {
		colorFlag = "always"
	}
	// The replies to begin and end are about the session: their SOAP
	// header is enough (an XMLA begin's Discover reply is 15 lines more).
	headerOnly := []string{"--print", "s"}
	wire := c.Bool("wire")
	if wire {
		sub.Out = io.Discard // the reply is shown as it came
		sub.Trace = wireTrace{request: v.request, reply: v.reply}
		headerOnly = nil
	}
	failed := 0
	step := func(want int, about string, args ...string) {
		if v.failed() != nil {
			return // the reader has gone (quit the pager): the demo stops
		}
		say(title, "# %s", about)
		shown := make([]string, len(args))
		for i, arg := range args {
			shown[i] = strings.TrimPrefix(arg, dir+string(filepath.Separator))
		}
		say(plain, "$ soapsess %s", strings.Join(shown, " "))
		full := append([]string{"soapsess", "--state-dir", filepath.Join(dir, "state"), "--color", colorFlag, "--no-pager"}, args...)
		code := run(c.Context, full, sub)
		v.endLine()
		if code != ExitOK {
			say(plain, "[exit status %d]", code)
		}
		if code != want {
			failed++
		}
	}

	say(heading, "soapsess demo: a session in each of three SOAP dialects, against the reference server on %s", base)
	say(plain, "A session header is a SOAP header that carries the session's ID: begin gets one, send and end repeat it.")
	if wire {
		say(plain, "> marks what went to the server and < what came back, whole; the other lines are soapsess's messages.")
	} else {
		say(plain, "> marks the headers soapsess put in a request, < the reply as a terminal shows it (--print s: its SOAP header).")
	}
	var last demoDialect
	for _, d := range demoDialects {
		file := filepath.Join(dir, d.file)
		if err := os.WriteFile(file, []byte(d.content), 0o600); err != nil {
			return err
		}
		fmt.Fprintln(v.plain)
		say(heading, "%s", d.title)
		step(ExitOK, fmt.Sprintf("begin: the %s header asks for a session; the reply's %s header holds its ID", d.begin, d.session),
			append([]string{"--session", d.name, "begin", "--url", base + d.path, "--dialect", d.name}, headerOnly...)...)
		step(ExitOK, fmt.Sprintf("send: the body is %s (%s); a %s header carries the ID", d.file, d.about, d.session),
			"--session", d.name, "send", file)
		step(ExitOK, fmt.Sprintf("end: the %s header, with the ID, closes the session; soapsess keeps its record, marked ended", d.end),
			append([]string{"--session", d.name, "end"}, headerOnly...)...)
		last = d
	}
	step(ExitSession, fmt.Sprintf("after end: send refuses, sending nothing, with exit status %d so that a script can tell", ExitSession),
		"--session", last.name, "send", filepath.Join(dir, last.file))
	fmt.Fprintln(v.plain)
	if err := v.failed(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("the demo went wrong in %d step(s)", failed)
	}
	more := "soapsess demo --wire shows each exchange whole"
	if wire {
		more = "soapsess --help lists the commands"
	}
	say(plain, "Your turn: soapsess serve runs this server on http://127.0.0.1:8808; %s.", more)
	return nil
}

// demoView is the demo's stdout, shared by several writers: the request
// (lines marked >), the reply (marked <), and the rest (soapsess's messages,
// the titles). A writer that takes over from another in the middle of a
// line first ends that line, so a reply without a final newline is never
// glued to what follows.
type demoView struct {
	mu                    sync.Mutex
	w                     io.Writer
	midLine               bool
	last                  *demoWriter
	err                   error // the first write that failed
	request, reply, plain *demoWriter
}

func newDemoView(w io.Writer, on bool) *demoView {
	v := &demoView{w: w}
	marker := style(colorFor(on, color.FgHiBlack))
	v.request = &demoWriter{v: v, mark: "> ", style: marker}
	v.reply = &demoWriter{v: v, mark: "< ", style: marker}
	v.plain = &demoWriter{v: v}
	return v
}

// endLine ends a line left open.
func (v *demoView) endLine() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.midLine {
		v.write([]byte("\n"))
		v.midLine, v.last = false, nil
	}
}

// failed is the first write that failed: the reader has gone.
func (v *demoView) failed() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// write writes b unless a write failed before; it returns that failure.
func (v *demoView) write(b []byte) error {
	if v.err == nil {
		_, v.err = v.w.Write(b)
	}
	return v.err
}

// demoWriter is one writer of a demoView; each line it writes starts with
// its mark.
type demoWriter struct {
	v     *demoView
	mark  string
	style printer.Style
}

func (d *demoWriter) Write(p []byte) (int, error) {
	v := d.v
	v.mu.Lock()
	defer v.mu.Unlock()
	var b bytes.Buffer
	if v.midLine && v.last != d {
		b.WriteByte('\n')
		v.midLine = false
	}
	v.last = d
	for rest := p; len(rest) > 0; {
		line, after, nl := bytes.Cut(rest, []byte("\n"))
		if !v.midLine && d.mark != "" {
			mark := d.mark
			if len(line) == 0 {
				mark = strings.TrimRight(mark, " ")
			}
			b.WriteString(d.style.On + mark + d.style.Off)
		}
		b.Write(line)
		if nl {
			b.WriteByte('\n')
		}
		v.midLine = !nl
		rest = after
	}
	if err := v.write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// requestTrace is the demo's trace (IO.Trace): of each request it shows
// the entries of the SOAP Header, where the session header is, printed as
// a reply's are. The replies are left to the commands.
type requestTrace struct {
	out io.Writer
	pal *printer.Palette
}

func (t *requestTrace) Write(p []byte) (int, error) {
	// Each request comes whole in one write (writeTrace): its head, each
	// line after "> ", a lone ">", then its body. A reply's head starts
	// "< " and its body comes after it.
	if !bytes.HasPrefix(p, []byte("> ")) {
		return len(p), nil
	}
	_, env, _ := bytes.Cut(p, []byte("\n>\n"))
	var b bytes.Buffer
	pr := printer.New(&b, printer.Options{Pretty: true, Palette: t.pal, Trusted: true})
	if _, err := reply.Stream(bytes.NewReader(env), reply.StreamOptions{Header: pr}); err != nil {
		return len(p), nil // not an envelope: nothing to show
	}
	if err := pr.Close(); err != nil {
		return len(p), nil
	}
	// The Header's start and end tags are its first and last lines, each
	// entry indented one level in between.
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) < 3 {
		return len(p), nil
	}
	for _, l := range lines[1 : len(lines)-1] {
		fmt.Fprintln(t.out, strings.TrimPrefix(l, "  "))
	}
	return len(p), nil
}

// wireTrace is the trace of demo --wire: every request and reply, head and
// body, each line marked.
type wireTrace struct{ request, reply io.Writer }

func (t wireTrace) Write(p []byte) (int, error) {
	switch {
	case bytes.HasPrefix(p, []byte("> ")): // a request: head, ">", body
		head, body, _ := bytes.Cut(p, []byte("\n>\n"))
		t.request.Write(append(unmark(head, "> "), '\n', '\n'))
		t.request.Write(body)
	case bytes.HasPrefix(p, []byte("< HTTP/")): // a reply's head, "<"
		t.reply.Write(unmark(p, "< "))
	default: // the reply's body, as it streams
		t.reply.Write(p)
	}
	return len(p), nil
}

// unmark takes the mark writeTrace put before each line of b away.
func unmark(b []byte, mark string) []byte {
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		if string(l) == strings.TrimSpace(mark) {
			l = nil
		}
		lines[i] = bytes.TrimPrefix(l, []byte(mark))
	}
	return bytes.Join(lines, []byte("\n"))
}
