package reply

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

const corpus = "../testdata/corpus"

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNotSOAP(t *testing.T) {
	for _, src := range []string{
		`<html><body><h1>502 Bad Gateway</h1></body></html>`,
		`plain text`,
		``,
		`<Envelope xmlns="urn:not-soap"/>`,
		`<soap:Envelope xmlns:soap="` + NSSOAP11 + `"><soap:Body>`,
	} {
		var ns *NotSOAPError
		if _, err := Parse([]byte(src)); !errors.As(err, &ns) {
			t.Errorf("Parse(%q) = %v, want NotSOAPError", src, err)
		}
	}
}

// Stream asks Watch only about names mayWatch lets through: every name Watch
// can want must pass mayWatch.
func TestMayWatchCoversWatch(t *testing.T) {
	paths := [][]string{nil, {"Envelope"}, {"Envelope", "Body"}, {"Envelope", "Body", "x", "root"}}
	nss := []string{"", NSSOAP11, NSSOAP12, "urn:oasis:names:tc:DSML:2:0:core", "urn:schemas-microsoft-com:xml-analysis:exception",
		"urn:schemas-microsoft-com:xml-analysis:rowset", "http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlResultStream"}
	for _, local := range []string{"Fault", "errorResponse", "Messages", "SqlMessage", "Exception", "Error", "Warning", "row", "Body", "fault", "SqlRowCount"} {
		for _, ns := range nss {
			for _, p := range paths {
				if Watch(ns, local, p) && !mayWatch([]byte(local)) {
					t.Errorf("Watch wants <%s> in %q at %v, but mayWatch never lets it through", local, ns, p)
				}
			}
		}
	}
}
