package cmd

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soapsess/soapsess/refserver"
)

// A server whose certificate no trusted CA signed: exit 4, and the hint
// names --cacert (and -k, with its cost).
func TestUnknownCAHint(t *testing.T) {
	ts := httptest.NewTLSServer(refserver.New(refserver.Options{}))
	defer ts.Close()
	code, _, errs := soapsess(t, filepath.Join(t.TempDir(), "state"), "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla")
	if code != ExitTransport || !strings.Contains(errs, "certificate") ||
		!strings.Contains(errs, "hint: the server's certificate is signed by a CA this machine does not trust: --cacert FILE trusts it") {
		t.Errorf("exit %d\n%s", code, errs)
	}
}
