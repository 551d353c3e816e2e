package reply

import (
	"bytes"
	"errors"
	"io"
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

// at puts the streamer inside the open elements of path.
func at(s *streamer, path []string) {
	s.names, s.path = s.names[:0], s.path[:0]
	for _, p := range path {
		s.names = append(s.names, p...)
		s.path = append(s.path, len(s.names))
	}
}

// Stream asks Watch only about what mayWatch lets through: whatever Watch
// wants must pass mayWatch, which is exact but for faults.
func TestMayWatchCoversWatch(t *testing.T) {
	user, err := NewErrorRule(ErrorDecl{Kind: "x", Element: QNames{"u:err", "bare"}, Parent: "result", InBody: true}, map[string]string{"u": "urn:u"})
	if err != nil {
		t.Fatal(err)
	}
	rules := append(builtin(t), user)
	s := &streamer{watch: watchNames(rules), opt: StreamOptions{Errors: rules}}
	paths := [][]string{nil, {"Envelope"}, {"Envelope", "Body"}, {"Envelope", "Body", "x", "root"}, {"Envelope", "Body", "result"},
		{"Envelope", "Header", "result"}, {"Envelope", "Body", "Fault", "detail"}, {"Envelope", "Body", "r", "root", "row"}}
	nss := []string{"", NSSOAP11, NSSOAP12, "urn:oasis:names:tc:DSML:2:0:core", "urn:schemas-microsoft-com:xml-analysis:exception",
		"urn:schemas-microsoft-com:xml-analysis:rowset", "http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlResultStream", "urn:u"}
	for _, local := range []string{"Fault", "errorResponse", "Messages", "SqlMessage", "Exception", "Error", "Warning", "row", "Body", "fault", "SqlRowCount", "err", "bare"} {
		for _, ns := range nss {
			for _, p := range paths {
				at(s, p)
				w, m := Watch(rules, ns, local, p), s.mayWatch(ns, []byte(local))
				if w && !m {
					t.Errorf("Watch wants <%s> in %q at %v, but mayWatch does not let it through", local, ns, p)
				}
				if local != "Fault" && m && !w {
					t.Errorf("mayWatch lets <%s> in %q at %v through, but Watch does not want it", local, ns, p)
				}
			}
		}
	}
	none := &streamer{watch: watchNames(nil)}
	if !none.mayWatch(NSSOAP11, []byte("Fault")) || none.mayWatch("urn:schemas-microsoft-com:xml-analysis:exception", []byte("Messages")) {
		t.Error("without rules, mayWatch should let Fault through and nothing else")
	}
}

// The first look at a start tag allocates nothing, so a large document
// costs no garbage per element.
func TestMayWatchDoesNotAllocate(t *testing.T) {
	rules := builtin(t)
	s := &streamer{watch: watchNames(rules), opt: StreamOptions{Errors: rules}}
	at(s, []string{"Envelope", "Body", "ExecuteResponse", "return", "root"})
	names := [][]byte{[]byte("row"), []byte("Messages"), []byte("C0"), []byte("SqlMessage"), []byte("errorResponse"), []byte("Fault")}
	if n := testing.AllocsPerRun(1000, func() {
		for _, b := range names {
			s.mayWatch("urn:schemas-microsoft-com:xml-analysis:exception", b)
			s.mayWatch("urn:schemas-microsoft-com:xml-analysis:rowset", b)
		}
	}); n != 0 {
		t.Errorf("mayWatch allocates %v times per run", n)
	}
}

// Streaming ten times as many rows costs no more allocations: nothing is
// allocated per start tag, with every built-in rule watched, not even for
// columns named like the elements the rules read.
func TestStreamAllocationsDoNotGrowWithElements(t *testing.T) {
	rules := builtin(t)
	doc := func(rows int) []byte {
		var b bytes.Buffer
		b.WriteString(`<s:Envelope xmlns:s="` + NSSOAP11 + `"><s:Body><ExecuteResponse xmlns="urn:schemas-microsoft-com:xml-analysis"><return><root xmlns="urn:schemas-microsoft-com:xml-analysis:rowset">`)
		for range rows {
			b.WriteString(`<row><C0>a</C0><C1 a="1"/><Messages>a column</Messages><SqlMessage>a column</SqlMessage><errorResponse/></row>`)
		}
		b.WriteString(`</root></return></ExecuteResponse></s:Body></s:Envelope>`)
		return b.Bytes()
	}
	small, large := doc(1000), doc(10000)
	allocs := func(d []byte) float64 {
		return testing.AllocsPerRun(5, func() {
			st, err := Stream(bytes.NewReader(d), StreamOptions{RequireSOAP: true, NotSOAP: io.Discard, Errors: rules})
			if err != nil || len(st.Problems) != 0 {
				t.Fatalf("Stream: %v, %v", st, err)
			}
		})
	}
	a, b := allocs(small), allocs(large)
	if b > a+50 {
		t.Errorf("%v allocations for 1000 rows, %v for 10000: something is allocated per element", a, b)
	}
}
