package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// discoverBody is the request of the start-up measurement: the smallest
// XMLA DISCOVER, whose reply from the reference server is a few hundred
// bytes and the same every time.
const discoverBody = `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis">` +
	`<RequestType>DISCOVER_DATASOURCES</RequestType><Restrictions/>` +
	`<Properties><PropertyList><Format>Tabular</Format></PropertyList></Properties></Discover>`

type startup struct {
	hello, curl *timed
	floors      []*timed // floorMains
	// The floors that bound the status and send goals from below (see
	// floorMain).
	statusFloors, sendFloors []*timed
	// Per build, in the order of b.builds: --version, status, send.
	version, status, send []*timed
	replyBytes            int
	url                   string
}

// ss runs a soapsess build with its own state directory (SOAPSESS_STATE_DIR),
// so that the measured command line is exactly what a user types and the
// user's own sessions are never touched.
func (b *bench) ss(bd *build, args ...string) *exec.Cmd {
	cmd := b.command(bd.bin, args...)
	cmd.Env = append(cmd.Env, "SOAPSESS_STATE_DIR="+bd.state, "SOAPSESS_SESSION=bench")
	return cmd
}

// startup times whole processes against one reference server process
// answering a small fixed reply: a hello-world Go binary, curl posting the
// envelope soapsess sends, and for each build `soapsess --version`,
// `soapsess status` and `soapsess send body.xml` inside an open XMLA
// session.
func (b *bench) startup(rounds int, hello *build, floors []*build, skipped map[string]string) (*startup, error) {
	srv, err := b.startServer(b.builds[0].bin, "xmla-server")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	url := srv.base + "/xmla"
	res := &startup{url: url}

	body := filepath.Join(b.tmp, "body.xml")
	if err := os.WriteFile(body, []byte(discoverBody), 0o600); err != nil {
		return nil, err
	}
	for i, bd := range b.builds {
		version := &timed{name: "`soapsess --version`", cmd: func() *exec.Cmd { return b.ss(bd, "--version") }}
		status := &timed{name: "`soapsess status`", cmd: func() *exec.Cmd { return b.ss(bd, "status") }}
		send := &timed{name: "`soapsess send body.xml`", cmd: func() *exec.Cmd { return b.ss(bd, "send", body) }}
		res.version, res.status, res.send = append(res.version, version), append(res.status, status), append(res.send, send)
		err := b.beginXMLA(bd, url, body)
		if err != nil && i == 0 {
			return nil, err
		}
		if err != nil { // -before's build: its rows say so, the rest goes on
			b.toolFailed("%v", err)
			for _, t := range []*timed{version, status, send} {
				t.cmd, t.note = nil, "failed, see stderr"
			}
			continue
		}
		defer func() {
			if out, err := b.ss(bd, "end").CombinedOutput(); err != nil {
				b.toolFailed("%s: soapsess end: %v: %s", bd.label, err, out)
			}
		}()
	}

	res.hello = &timed{name: "Go hello world", cmd: func() *exec.Cmd { return b.command(hello.bin) }}
	res.curl = &timed{name: "curl posting the same envelope"}
	if why, ok := skipped["curl"]; ok {
		res.curl.note = "skipped: " + why
	} else if args, n, err := b.curlArgs(url); err != nil {
		b.toolFailed("curl: %v", err)
		res.curl.note = "failed, see stderr"
	} else {
		res.replyBytes = n
		res.curl.cmd = func() *exec.Cmd { return b.command("curl", args...) }
	}

	tools := []*timed{res.hello, res.curl}
	for _, fl := range floors {
		t := &timed{name: fl.label + fmt.Sprintf(" (%.1f MB, %d inits)", float64(fl.size)/mb, fl.inits),
			cmd: func() *exec.Cmd { return b.command(fl.bin) }}
		if fl.runs != "" {
			if args, err := b.floorArgs(fl, url, body); err != nil {
				b.toolFailed("%v", err)
				t.cmd, t.note = nil, "failed, see stderr"
			} else {
				t.cmd = func() *exec.Cmd { return b.command(fl.bin, args...) }
			}
		}
		switch fl.bounds {
		case "status":
			res.statusFloors = append(res.statusFloors, t)
		case "send":
			res.sendFloors = append(res.sendFloors, t)
		}
		res.floors = append(res.floors, t)
	}
	tools = append(tools, res.floors...)
	for i := range b.builds {
		tools = append(tools, res.version[i], res.status[i], res.send[i])
	}
	logf("start-up: %d rounds of %d commands against %s", rounds, len(tools), url)
	b.interleave("start-up", tools, rounds)
	return res, nil
}

// beginXMLA opens the build's session on url and checks once that send
// really gets the DISCOVER reply.
func (b *bench) beginXMLA(bd *build, url, body string) error {
	if out, err := b.ss(bd, "begin", "--url", url, "--dialect", "xmla").CombinedOutput(); err != nil {
		return fmt.Errorf("%s: soapsess begin: %v: %s", bd.label, err, out)
	}
	out, err := b.ss(bd, "send", body).Output()
	if err != nil || !bytes.Contains(out, []byte("DiscoverResponse")) {
		b.ss(bd, "end").Run()
		return fmt.Errorf("%s: soapsess send: %v: %.300s", bd.label, err, out)
	}
	return nil
}

// floorArgs returns the arguments of a floor that runs (see floorMain): a
// JSON file of its own holding the first build's session as `soapsess
// status --json` shows it (session_id, requests), so that a send posts in
// the same session, and URL and BODY before it for a send; after checking
// once that a send gets the DISCOVER reply, and that a status prints the
// session's ID.
func (b *bench) floorArgs(fl *build, url, body string) ([]string, error) {
	st, err := b.ss(b.builds[0], "status", "--json").Output()
	if err != nil {
		return nil, fmt.Errorf("soapsess status --json: %v", err)
	}
	var sess struct {
		ID string `json:"session_id"`
	}
	if err := json.Unmarshal(st, &sess); err != nil || sess.ID == "" {
		return nil, fmt.Errorf("soapsess status --json: no session_id in %.300s", st)
	}
	state := filepath.Join(filepath.Dir(fl.bin), "state.json")
	if err := os.WriteFile(state, st, 0o600); err != nil {
		return nil, err
	}
	args, want := []string{state}, sess.ID
	if fl.runs == "send" {
		args, want = []string{url, body, state}, "DiscoverResponse"
	}
	out, err := b.command(fl.bin, args...).Output()
	if err != nil || !bytes.Contains(out, []byte(want)) {
		return nil, fmt.Errorf("%s: %v: %.300s", fl.label, err, out)
	}
	return args, nil
}

// lowest is the lowest median of the floors that were measured, or 0.
func lowest(floors []*timed) time.Duration {
	var low time.Duration
	for _, t := range floors {
		if m := t.median(); m > 0 && (low == 0 || m < low) {
			low = m
		}
	}
	return low
}

// curlArgs returns curl's arguments to post exactly what `soapsess send
// --dry-run` says soapsess would send (the envelope with the session's id,
// Content-Type and SOAPAction), after checking once that curl gets the same
// kind of reply, and the reply's size.
func (b *bench) curlArgs(url string) ([]string, int, error) {
	cur := b.builds[0]
	out, err := b.ss(cur, "send", "--dry-run", filepath.Join(b.tmp, "body.xml")).Output()
	if err != nil {
		return nil, 0, fmt.Errorf("soapsess send --dry-run: %v", err)
	}
	r := bufio.NewReader(bytes.NewReader(out))
	if _, err := r.ReadString('\n'); err != nil { // POST /xmla HTTP/1.1
		return nil, 0, fmt.Errorf("soapsess send --dry-run: %q: %v", out, err)
	}
	hdr, err := textproto.NewReader(r).ReadMIMEHeader()
	if err != nil {
		return nil, 0, fmt.Errorf("soapsess send --dry-run: headers: %v", err)
	}
	var env bytes.Buffer
	env.ReadFrom(r)
	if !bytes.Contains(env.Bytes(), []byte("SessionId=")) {
		return nil, 0, fmt.Errorf("soapsess send --dry-run: no SessionId in the envelope %q", env.Bytes())
	}
	envFile := filepath.Join(b.tmp, "envelope.xml")
	if err := os.WriteFile(envFile, env.Bytes(), 0o600); err != nil {
		return nil, 0, err
	}
	args := []string{"-s", "-S", "--fail"}
	for _, h := range []string{"Content-Type", "Soapaction"} {
		if v := hdr.Get(h); v != "" {
			args = append(args, "-H", h+": "+v)
		}
	}
	args = append(args, "--data-binary", "@"+envFile, url)
	check, err := b.command("curl", append([]string{"-w", "\n%{http_code}"}, args...)...).Output()
	if err != nil || !bytes.HasSuffix(check, []byte("\n200")) || !bytes.Contains(check, []byte("DiscoverResponse")) {
		return nil, 0, fmt.Errorf("%v: %.300s", err, check)
	}
	n := len(check) - len("\n200")
	return append([]string{"-o", os.DevNull}, args...), n, nil
}

func printStartup(res *startup, builds []*build, rounds int) {
	fmt.Printf("Whole-process wall time, %s, against `soapsess serve` on loopback answering a fixed %d-byte reply:\n\n",
		plural(rounds, "interleaved round"), res.replyBytes)
	fmt.Println("| command | min | median | max | vs curl | vs hello world |")
	fmt.Println("|---|---|---|---|---|---|")
	ref, hello := res.curl.median(), res.hello.median()
	row := func(t *timed, suffix string) {
		if !t.ok() {
			fmt.Printf("| %s%s | %s | | | | |\n", t.name, suffix, t.note)
			return
		}
		fmt.Printf("| %s%s | %s | %s | %s |\n", t.name, suffix, t.span(ms), ratio(t.median(), ref), ratio(t.median(), hello))
	}
	row(res.hello, "")
	row(res.curl, "")
	for _, t := range res.floors {
		row(t, "")
	}
	for _, list := range [][]*timed{res.version, res.status, res.send} {
		for i, t := range list {
			suffix := ""
			if len(builds) > 1 {
				suffix = ", " + builds[i].label
			}
			row(t, suffix)
		}
	}
}

// printBuilds lists what each binary is made of, with its start-up medians:
// the before/after of a change.
func printBuilds(builds []*build, hello *build, res *startup) {
	fmt.Println("| binary | size | packages (`go list -deps`) | of which std | package inits (`GODEBUG=inittrace=1`) | init clock | `--version` | `status` | `send` |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	if res == nil {
		res = &startup{hello: &timed{}} // not measured: the wall columns stay empty
	}
	med := func(ts []*timed, i int) string {
		if i >= len(ts) || !ts[i].ok() {
			return ""
		}
		return ms(ts[i].median())
	}
	for i, bd := range builds {
		fmt.Printf("| soapsess, %s | %.1f MB | %d | %d | %d | %.2f ms | %s | %s | %s |\n", bd.label, float64(bd.size)/mb,
			bd.pkgs, bd.stdPkgs, bd.inits, bd.initTime.Seconds()*1000, med(res.version, i), med(res.status, i), med(res.send, i))
	}
	helloWall := ""
	if res.hello.ok() {
		helloWall = ms(res.hello.median())
	}
	fmt.Printf("| Go hello world | %.1f MB | %d | %d | %d | %.2f ms | %s | | |\n", float64(hello.size)/mb,
		hello.pkgs, hello.stdPkgs, hello.inits, hello.initTime.Seconds()*1000, helloWall)
}
