package cmd

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// demoStep is one step of the demo's output: the command after "$ soapsess",
// the lines marked > (sent) and < (received), and the others (messages).
type demoStep struct {
	cmd               string
	sent, got, others []string
}

func (s *demoStep) has(lines []string, want string) bool {
	for _, l := range lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}

// demoSteps reads the demo's output into its steps; a title, a heading or
// a blank line ends a step.
func demoSteps(out string) []*demoStep {
	var steps []*demoStep
	var cur *demoStep
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "$ soapsess "):
			cur = &demoStep{cmd: strings.TrimPrefix(l, "$ soapsess ")}
			steps = append(steps, cur)
		case cur == nil:
		case l == "" || strings.HasPrefix(l, "# "):
			cur = nil
		case l == ">" || strings.HasPrefix(l, "> "):
			cur.sent = append(cur.sent, strings.TrimPrefix(l, "> "))
		case l == "<" || strings.HasPrefix(l, "< "):
			cur.got = append(cur.got, strings.TrimPrefix(l, "< "))
		default:
			cur.others = append(cur.others, l)
		}
	}
	return steps
}

// demoStepOf is the first step whose command starts with prefix.
func demoStepOf(t *testing.T, steps []*demoStep, prefix string) *demoStep {
	t.Helper()
	for _, s := range steps {
		if strings.HasPrefix(s.cmd, prefix) {
			return s
		}
	}
	t.Fatalf("the demo has no step soapsess %s…", prefix)
	return nil
}

// demoCheck is, for one dialect, what its begin and end send (its session
// headers), how its session header writes the ID, and something of the
// reply to send.
type demoCheck struct{ name, begin, id, end, reply string }

func (d demoCheck) idAttr(id string) string { return fmt.Sprintf(d.id, id) }

var demoDialectChecks = []demoCheck{
	{"dsml", `<ad:BeginSession xmlns:ad="urn:schema-microsoft-com:activedirectory:dsmlv2"`, `ad:SessionID="%s"`, `<ad:EndSession `, "<value>ada@example.com</value>"},
	{"xmla", `<BeginSession xmlns="urn:schemas-microsoft-com:xml-analysis"`, `SessionId="%s"`, `<EndSession xmlns="urn:schemas-microsoft-com:xml-analysis"`, "<DataSourceName>soapsess</DataSourceName>"},
	{"sqlsoap", `<sqloptions:sqlSession xmlns:sqloptions="http://schemas.microsoft.com/sqlserver/2004/SOAP/Options" initiate="true"/>`, `sessionId="%s"`, `terminate="true"`, "<sqlrowcount:Count>2</sqlrowcount:Count>"},
}

// beganID is the ID begin's message reports for session name.
func beganID(t *testing.T, s *demoStep, name string) string {
	t.Helper()
	re := regexp.MustCompile(`^soapsess: .*session "` + name + `" began: (\S+)$`)
	for _, l := range s.others {
		if m := re.FindStringSubmatch(l); m != nil {
			return m[1]
		}
	}
	t.Fatalf("begin of %s reports no ID: %q", name, s.others)
	return ""
}

var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*m")

// runDemo runs soapsess with args over io and returns its output; the demo
// must succeed.
func runDemo(t *testing.T, io *IO, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	io.Out, io.Err = &out, &out
	if code := run(context.Background(), append([]string{"soapsess"}, args...), io); code != 0 {
		t.Fatalf("soapsess %s exited %d:\n%s", strings.Join(args, " "), code, out.String())
	}
	return out.String()
}

// On a terminal the demo is in colour, as any command's output is, unless
// NO_COLOR says otherwise.
func TestDemoTerminal(t *testing.T) {
	env := map[string]string{}
	tty := func() *IO {
		return &IO{In: strings.NewReader(""), OutTTY: true, ErrTTY: true, Getenv: func(k string) string { return env[k] }}
	}
	out := runDemo(t, tty(), "--no-pager", "demo")
	if !strings.Contains(out, palette(true).Header.On) {
		t.Errorf("on a terminal, the session headers are not in colour:\n%s", out)
	}
	env["NO_COLOR"] = "1"
	if out := runDemo(t, tty(), "--no-pager", "demo"); strings.Contains(out, "\x1b[") {
		t.Errorf("with NO_COLOR, the demo has escapes:\n%s", out)
	}
}

// demo --wire shows every exchange whole: the HTTP heads, and the bodies as
// they went, every line of them marked.
func TestDemoWire(t *testing.T) {
	out := runDemo(t, &IO{In: strings.NewReader("")}, "demo", "--wire")
	steps := demoSteps(out)
	for _, d := range demoDialectChecks {
		begin := demoStepOf(t, steps, "--session "+d.name+" begin ")
		send := demoStepOf(t, steps, "--session "+d.name+" send ")
		if !begin.has(begin.sent, "POST ") || !begin.has(begin.sent, "Content-Type: ") || !begin.has(begin.sent, "Envelope") {
			t.Errorf("%s begin: the request is not shown whole: %q", d.name, begin.sent)
		}
		if !begin.has(begin.got, "HTTP/1.1 200 OK") || !begin.has(begin.got, "Envelope>") {
			t.Errorf("%s begin: the reply is not shown whole: %q", d.name, begin.got)
		}
		id := beganID(t, begin, d.name)
		if !send.has(send.sent, d.idAttr(id)) {
			t.Errorf("%s send: the ID of begin, %s, did not go over the wire: %q", d.name, id, send.sent)
		}
	}
	// Nothing is glued to the end of a reply, which has no newline of its own.
	glued := regexp.MustCompile(`Envelope>.`)
	for _, l := range strings.Split(out, "\n") {
		if glued.MatchString(l) {
			t.Errorf("a line goes on after the envelope: %q", l)
		}
	}
}
