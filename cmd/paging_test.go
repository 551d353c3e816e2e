package cmd

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/antchfx/xmlquery"

	"github.com/soapsess/soapsess/refserver"
)

const usersSearch = `<searchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core" dn="cn=Users,dc=example,dc=com" scope="singleLevel" derefAliases="neverDerefAliases"><filter><present name="objectClass"/></filter><attributes><attribute name="cn"/></attributes></searchRequest>`

func entryDNs(t *testing.T, doc string) []string {
	t.Helper()
	root, err := xmlquery.Parse(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("stdout is not well-formed: %v", err)
	}
	var dns []string
	for _, e := range xmlquery.Find(root, "/*[local-name()='batchResponse']/*[local-name()='searchResponse']/*[local-name()='searchResultEntry']") {
		dns = append(dns, e.SelectAttr("dn"))
	}
	return dns
}

// Every entry of the directory, once, in its order, in pages of 500.
func TestAllPagesAgainstTheDirectory(t *testing.T) {
	ref := refserver.New(refserver.Options{DSMLEntries: 5000})
	ts := httptest.NewServer(ref)
	defer ts.Close()
	state := filepath.Join(t.TempDir(), "state")
	must(t, 0, state, "", "begin", "--url", ts.URL+"/dsml", "--dialect", "dsml")
	out := must(t, 0, state, usersSearch, "send", "--all-pages", "--page-size", "500", "-")
	got, want := entryDNs(t, out), ref.DSMLEntryDNs(refserver.DSMLUsersDN, "singleLevel")
	if len(want) != 5000 || !slices.Equal(got, want) {
		t.Errorf("%d entries paged, the directory has %d; equal: %v", len(got), len(want), slices.Equal(got, want))
	}
	if n := ref.Cursors(); n != 0 {
		t.Errorf("%d cursors left open after the last page", n)
	}
	must(t, 0, state, "", "end")
}

// Ctrl-C mid-paging: the page on its way arrives, the search is abandoned
// on the server with its cookie (the cursor freed), soapsess exits 130, and
// stdout is well-formed, ending after the last complete entry without a
// searchResultDone.
func TestAllPagesInterrupted(t *testing.T) {
	ref := refserver.New(refserver.Options{DSMLEntries: 5000})
	var pages atomic.Int64
	third := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("SOAPAction"), "batchRequest") && pages.Add(1) == 3 {
			close(third) // Ctrl-C while the third page is on its way
		}
		ref.ServeHTTP(w, r)
	}))
	defer ts.Close()
	state := filepath.Join(t.TempDir(), "state")
	must(t, 0, state, "", "begin", "--url", ts.URL+"/dsml", "--dialect", "dsml")
	pages.Store(0) // the begin went through the same handler: count pages from here

	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-third; cancel() }()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"soapsess", "--state-dir", state, "send", "--all-pages", "--page-size", "100", "-"},
		&IO{In: strings.NewReader(usersSearch), Out: &out, Err: &errb})
	if code != ExitInterrupt {
		t.Fatalf("exit %d, want %d: %s", code, ExitInterrupt, errb.String())
	}
	if n := ref.Cursors(); n != 0 {
		t.Errorf("%d cursors left open: the search was not abandoned", n)
	}
	got := entryDNs(t, out.String())
	if len(got)%100 != 0 || len(got) < 200 || strings.Contains(out.String(), "searchResultDone") {
		t.Errorf("%d entries, and stdout:\n%.400s", len(got), out.String())
	}
	must(t, 0, state, "", "status") // the session is still open
	must(t, 0, state, "", "end")
}
