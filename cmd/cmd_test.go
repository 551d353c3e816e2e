package cmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/soapsess/soapsess/refserver"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"soapsess": func() { os.Exit(Main(os.Args, SystemIO())) },
	})
}

// TestScripts runs cmd/testdata/*.txtar: the real commands against the
// reference server (and a few deliberately broken endpoints) on loopback.
func TestScripts(t *testing.T) {
	base := startServers(t)
	dead := deadURL(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("SERVER", base)
			env.Setenv("DEAD", dead)
			env.Setenv("HOME", env.WorkDir+"/home")
			env.Setenv("SOAPSESS_STATE_DIR", env.WorkDir+"/state")
			// The developer's own settings must not leak into the scripts.
			vars := env.Vars[:0]
			for _, v := range env.Vars {
				if !strings.HasPrefix(v, "SOAPSESS_PASSWORD=") && !strings.HasPrefix(v, "SOAPSESS_SESSION=") &&
					!strings.HasPrefix(v, "XDG_STATE_HOME=") && !strings.HasPrefix(v, "NO_COLOR=") {
					vars = append(vars, v)
				}
			}
			env.Vars = vars
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":    exits,
			"mode":     mode,
			"expire":   expire,
			"overlaps": overlaps,
			"repoint":  repoint,
		},
	})
}

// repoint NAME URL makes session NAME's state file point at URL, as
// though the server had moved or gone.
func repoint(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: repoint NAME URL")
	}
	path := ts.MkAbs(filepath.Join("state", args[0]+".json"))
	var st map[string]any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(path)), &st))
	st["url"] = args[1]
	b, err := json.Marshal(st)
	ts.Check(err)
	ts.Check(os.WriteFile(path, b, 0o600))
}

// expire NAME makes the server at /forget/NAME/ forget every session now,
// as though each had been idle past its timeout.
func expire(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: expire NAME")
	}
	fmt.Fprintf(ts.Stdout(), "%d sessions expired\n", forgetful.server(args[0]).ExpireAll())
}

// forgetful serves /forget/NAME/... with a reference server of its own
// for each NAME, so that scripts running in parallel do not expire each
// other's sessions.
var forgetful = &servers{m: map[string]*refserver.Server{}}

type servers struct {
	mu sync.Mutex
	m  map[string]*refserver.Server
}

func (s *servers) server(name string) *refserver.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[name] == nil {
		s.m[name] = refserver.New(refserver.Options{})
	}
	return s.m[name]
}

func (s *servers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + rest
	s.server(name).ServeHTTP(w, r2)
}

// overlaps prints how many requests reached the /slow/ server while another
// request of the same session was on it: the server's own check.
func overlaps(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: overlaps")
	}
	fmt.Fprintf(ts.Stdout(), "%d overlaps\n", slow.Overlaps())
}

// slow is a server scripts look into (see startServers).
var slow *refserver.Server

// mode FILE prints a file's permission bits in octal, as stat -c %a does
// with GNU coreutils (macOS's stat has no -c).
func mode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mode FILE")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "%o\n", fi.Mode().Perm())
}

// exits N command args... runs a command and checks its exit status is N.
func exits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// startServers serves on one loopback port:
//
//	/dsml /xmla /xmla/virtuoso /sql   the reference server
//	/expiring/...                     a reference server whose clock jumps an hour per look, so every session has expired by its next request
//	/auth/...                         a reference server that wants the password s3cret-pw
//	/big/dsml                          a reference server whose DSML directory has 5,000 users
//	/broken/...                       answers no real server should give
//	/cookie/...                       a reference server behind a balancer that pins a session with a cookie set at begin, refusing later requests without it
//	/short/...                        a reference server whose DSML and XMLA sessions expire after 3 s idle
//	/forget/NAME/...                  a reference server for each NAME that forgets every session on the script command expire NAME
//	/slow/...                         a reference server that holds each request of a session 20 ms and counts overlaps (the script command overlaps)
func startServers(t *testing.T) string {
	t.Helper()
	var ticks atomic.Int64
	start := time.Now()
	mux := http.NewServeMux()
	mux.Handle("/", refserver.New(refserver.Options{GzipMinimum: 1})) // every reply gzipped: the client's gzip path runs in every script
	mux.Handle("/expiring/", http.StripPrefix("/expiring", refserver.New(refserver.Options{
		Now: func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * time.Hour) },
	})))
	mux.Handle("/auth/", http.StripPrefix("/auth", refserver.New(refserver.Options{Password: "s3cret-pw"})))
	mux.Handle("/big/", http.StripPrefix("/big", refserver.New(refserver.Options{DSMLEntries: 5000})))
	mux.Handle("/cookie/", http.StripPrefix("/cookie", cookieNode(refserver.New(refserver.Options{}))))
	mux.Handle("/short/", http.StripPrefix("/short", refserver.New(refserver.Options{IdleTimeout: 3 * time.Second})))
	mux.Handle("/forget/", http.StripPrefix("/forget", forgetful))
	slow = refserver.New(refserver.Options{Latency: 20 * time.Millisecond})
	mux.Handle("/slow/", http.StripPrefix("/slow", slow))
	mux.HandleFunc("/broken/html502", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1><p>upstream went away</p></body></html>\n")
	})
	mux.HandleFunc("/broken/text200", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "everything is fine\n")
	})
	mux.HandleFunc("/broken/nosession", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><ExecuteResponse xmlns="urn:schemas-microsoft-com:xml-analysis"><return/></ExecuteResponse></s:Body></s:Envelope>`)
	})
	mux.HandleFunc("/broken/fault200", func(w http.ResponseWriter, r *http.Request) {
		// node-soap (npm soap 1.13.0) sends a thrown SOAP 1.1 fault with HTTP 200
		// unless the handler sets a statusCode.
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>deliberate 1.1 fault</faultstring><detail><reason>test</reason></detail></soap:Fault></soap:Body></soap:Envelope>`)
	})
	mux.HandleFunc("/broken/empty200", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
	})
	mux.HandleFunc("/broken/windows401", func(w http.ResponseWriter, r *http.Request) {
		// IIS with Windows authentication: two challenges, two headers.
		w.Header().Add("WWW-Authenticate", "Negotiate")
		w.Header().Add("WWW-Authenticate", "NTLM")
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, "<html><body>401 - Unauthorized: Access is denied due to invalid credentials.</body></html>")
	})
	mux.HandleFunc("/broken/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/xmla", http.StatusFound)
	})
	mux.HandleFunc("/broken/bom", func(w http.ResponseWriter, r *http.Request) {
		// .NET stacks start replies with a byte-order mark.
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		fmt.Fprint(w, "\ufeff"+`<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><Session xmlns="urn:schemas-microsoft-com:xml-analysis" SessionId="BOM-1"/></soap:Header><soap:Body><ExecuteResponse xmlns="urn:schemas-microsoft-com:xml-analysis"><return/></ExecuteResponse></soap:Body></soap:Envelope>`)
	})
	var unconfirmed atomic.Int64
	mux.HandleFunc("/broken/noconfirm", func(w http.ResponseWriter, r *http.Request) {
		// Grants a session but never echoes terminate="true".
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><o:sqlSession xmlns:o="http://schemas.microsoft.com/sqlserver/2004/SOAP/Options" sessionId="NC1" timeout="60"/></s:Header><s:Body><answer n="%d"/></s:Body></s:Envelope>`, unconfirmed.Add(1))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// deadURL is a loopback URL nothing listens on.
func deadURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/xmla"
}

// cookieNode is a balancer's node: a begin gets a JSESSIONID cookie (and
// one for another path, which must not come back); any other request
// without that cookie, or with the other one, is refused with 403.
func cookieNode(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		if bytes.Contains(b, []byte("BeginSession")) {
			http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "node-1-s3cret", Path: "/cookie", HttpOnly: true})
			http.SetCookie(w, &http.Cookie{Name: "elsewhere", Value: "e", Path: "/other"})
		} else if c, err := r.Cookie("JSESSIONID"); err != nil || c.Value != "node-1-s3cret" || strings.Contains(r.Header.Get("Cookie"), "elsewhere") {
			http.Error(w, "this node does not know the session", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
