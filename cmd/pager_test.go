package cmd

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soapsess/soapsess/refserver"
)

// On a terminal, output goes through $PAGER; --no-pager and pipes skip it.
func TestPager(t *testing.T) {
	doc := filepath.Join("..", "testdata", "corpus", "dsml", "02-msdsml-beginsession.response.xml")
	t.Setenv("PAGER", "sed 's/^/paged: /'")
	for _, tt := range []struct {
		tty   bool
		args  []string
		paged bool
	}{
		{true, []string{"fmt", doc}, true},
		{true, []string{"--no-pager", "fmt", doc}, false},
		{false, []string{"fmt", doc}, false},
		{true, []string{"fmt", "--xpath", "//*[local-name()='Session']/@*", doc}, false}, // values for scripts: never paged
	} {
		var out, errb bytes.Buffer
		io := &IO{In: strings.NewReader(""), Out: &out, Err: &errb, OutTTY: tt.tty, ColorMode: "never"}
		if code := run(context.Background(), append([]string{"soapsess", "--color", "never"}, tt.args...), io); code != 0 {
			t.Fatalf("%v: exit %d %s", tt.args, code, errb.String())
		}
		if got := strings.Contains(out.String(), "paged: <soap:Envelope"); got != tt.paged {
			t.Errorf("%v (tty=%v): paged=%v, want %v:\n%s", tt.args, tt.tty, got, tt.paged, out.String())
		}
	}
}

// While a reply is slow, a terminal's stderr shows it; a pipe never does.
func TestProgress(t *testing.T) {
	release := make(chan struct{})
	ref := refserver.New(refserver.Options{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("SOAPAction"), "Discover") {
			<-release
		}
		ref.ServeHTTP(w, r)
	}))
	defer ts.Close()
	state := filepath.Join(t.TempDir(), "state")
	must(t, 0, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla")

	errb := &lockedBuffer{}
	var out bytes.Buffer
	io := &IO{In: strings.NewReader(xmlaDiscover), Out: &out, Err: errb, ErrTTY: true}
	done := make(chan int)
	go func() { done <- run(context.Background(), []string{"soapsess", "--state-dir", state, "send"}, io) }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(errb.String(), "waiting for the reply"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no progress shown: %q", errb.String())
		}
	}
	close(release)
	if code := <-done; code != 0 {
		t.Fatalf("send exited %d: %s", code, errb.String())
	}
	if !strings.HasSuffix(errb.String(), "\r\x1b[K") && !strings.Contains(errb.String(), "\r\x1b[K") {
		t.Errorf("the progress line was not cleared: %q", errb.String())
	}
	// On a pipe: nothing but what the command says.
	code, _, errs := soapsess(t, state, xmlaDiscover, "send")
	if code != 0 || strings.Contains(errs, "waiting") {
		t.Errorf("progress on a pipe: %q", errs)
	}
	must(t, 0, state, "", "end")
}
