package cmd

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soapsess/soapsess/refserver"
	"github.com/soapsess/soapsess/state"
)

// A send that waits for the session's other request longer than
// --lock-timeout gives up with exit 5, sending nothing; once the other
// request is done it goes through.
func TestLockTimeout(t *testing.T) {
	ts := httptest.NewServer(refserver.New(refserver.Options{}))
	defer ts.Close()
	dir := filepath.Join(t.TempDir(), "state")
	must(t, 0, dir, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla")
	store, err := state.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	release, err := store.Busy(context.Background(), "default", nil) // another request of the session is on the wire
	if err != nil {
		t.Fatal(err)
	}
	const discover = `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>DISCOVER_DATASOURCES</RequestType><Restrictions/><Properties/></Discover>`
	code, out, errs := soapsess(t, dir, discover, "send", "--lock-timeout", "0.2", "-")
	if code != ExitSession || out != "" || !strings.Contains(errs, `session "default" is busy with another request; gave up after`) ||
		!strings.Contains(errs, "hint: another soapsess is using the session") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	if s, _ := store.Get("default"); s.Requests != 1 {
		t.Errorf("%d requests counted; want the begin alone", s.Requests)
	}
	release()
	must(t, 0, dir, discover, "send", "--lock-timeout", "0.2", "-")
	must(t, 0, dir, "", "end")
}
