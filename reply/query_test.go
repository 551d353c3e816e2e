package reply

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/soapsess/soapsess/xmltok"
)

// queryNS are the prefixes the tests' expressions use: cmd's defaults and
// a few of their own.
var queryNS = map[string]string{
	"soap": NSSOAP11, "soap12": NSSOAP12,
	"dsml": "urn:oasis:names:tc:DSML:2:0:core",
	"ad":   "urn:schema-microsoft-com:activedirectory:dsmlv2",
	"xa":   "urn:schemas-microsoft-com:xml-analysis",
	"sql":  "http://schemas.microsoft.com/sqlserver/2004/SOAP",
	"r":    "urn:schemas-microsoft-com:xml-analysis:rowset",
	"p":    "u", "q": "v",
}

// streamedExprs stream, and are what the README, the help and the cmd
// scripts use, and more of the same kind.
var streamedExprs = []string{
	// cmd/testdata, README, help
	`//Column1`,
	`//xa:DiscoverResponse//*[local-name()="DataSourceName"]`,
	`//xa:Session/@SessionId`,
	`count(//row)`,
	`//r:row/r:n`,
	`count(//*[local-name()="SET_NAME"])`,
	`//*[local-name()="SET_NAME"]`,
	`count(//dsml:searchResultEntry)`,
	`count(//dsml:searchResultEntry[@dn="cn=User 04321,cn=Users,dc=example,dc=com"])`,
	`//dsml:resultCode/@descr`,
	`string(//xa:Session/@SessionId)`,
	`count(//r:row)`,
	`//*[local-name()='Session']/@*`,
	`count(//a)`,
	`/soap:Envelope/soap:Header/ad:Session/@ad:SessionID`,
	`/soap:Envelope/soap:Header/xa:Session/@SessionId`,
	// more
	`/soap:Envelope/soap:Body/*`, `//soap:Body//*`, `//*`, `/*`, `//@*`, `count(//@*)`,
	`//soap:Fault/faultstring`, `//faultstring/text()`, `//soap:Body//text()`, `count(//text())` + "", // (see treeExprs)
	`//a`, `//a//b`, `//a/b`, `//b`, `count(//a//b)`, `//a//@x`, `//a/@x`, `//@x`, `/r//b`, `//a/text()`, `//a//text()`,
	`//x`, `string(//a)`, `//r//*`, `count(//*)`, `//p:x`, `//*[@x]`, `//*[@p:x="1"]`, `//a[@x='2']/b`, `//*[local-name()='x'][@y]`,
	`string(//a/b)`, `count(//a/@*)`, `count(//a//text())`, `//xmlns`, `//*/@xmlns`,
}

// treeExprs need the tree.
var treeExprs = []string{
	`count(//text())`, `//text()`, `concat("x", //a)`, `//a[1]`, `//a | //b`, `/`, `//a/..`, `//p:*`, `//a[not(@x)]`,
	`//node()`, `//comment()`, `boolean(//a)`, `//a[@x = 'v' and @y]`, `/descendant::a`, `//a[.='x']`, `sum(//a)`,
	`//a[@x != 'v']`, `//*[name()='a']`, `/@x`, `//q:*`,
}

// quirkDocs are small documents on the corners where the tree has ways of
// its own.
var quirkDocs = []string{
	`<r><a><a><b>1</b></a><b>2</b></a><b>3</b></r>`,
	`<r><a x="1"><a x="2"><b x="3"/></a></a></r>`,
	"<r><a> <b/> t <!--c--> </a><a>  </a><a><![CDATA[ ]]> </a></r>",
	`<?pi a="b"?><r xmlns="u" xmlns:p="u"><p:x/><x/><?x?></r>`,
	`<?xml version="1.0"?><!--c--><?a?><r xmlns:p="u" xmlns:q="u"><p:x p:x="1" q:y="2"/><q:x x="3"/></r><?b?>`,
	"<r>&lt;&amp;&#65;&#x42;\r\n\rc<![CDATA[d\r\ne]]><a>&quot;</a></r>",
	`<r xmlns="v"><x xmlns=""><x/></x><p:x xmlns:p="v"/><a xmlns:p="u" p:x="&amp;"><b x="1" xmlns="u"/></a></r>`,
	"\xef\xbb\xbf<r><a>x</a></r>",
	`<r><a>![CDATA[x</a><a> <?p?> </a><a><!--c--> </a></r>`,
	`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>bad</faultstring></soap:Fault></soap:Body></soap:Envelope>`,
	`<r xmlns:xmlns="x"><xmlns/><xmlns:a/><a xmlns="u" xmlns:z="u" x="1"/></r>`,
	`<a><a><a><b/><a><b>x</b></a></a></a></a>`,
	`<r><a><!DOCTYPE x> <b/></a><a xmlns:p="&#117;"><p:x p:y="1"/></a><a xmlns="u"><x xmlns="u"/></a></r>`,
	`<r xmlns:p="u"><a xmlns:q="u"><q:x/></a><p:x/><x xmlns=""/></r>`,
	"<r><a x=\"a&#13;&#10;b\r\nc\"/><a x='\"'/><a>&#xD;&#xA;</a></r>",
}

func corpusDocs(t testing.TB) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(corpus, "*", "*.xml"))
	if len(files) < 30 {
		t.Fatalf("only %d corpus files", len(files))
	}
	docs := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[filepath.Base(f)] = b
	}
	for i, d := range quirkDocs {
		docs[fmt.Sprintf("quirk %d", i)] = []byte(d)
	}
	return docs
}

func TestQueryPlans(t *testing.T) {
	for _, src := range streamedExprs {
		q, err := CompileQuery(src, queryNS)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if want := src != `count(//text())`; q.Streams() != want {
			t.Errorf("%s: Streams() = %v", src, q.Streams())
		}
	}
	for _, src := range treeExprs {
		q, err := CompileQuery(src, queryNS)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if q.Streams() {
			t.Errorf("%s streams; it needs the tree", src)
		}
	}
	var xe *XPathError
	if _, err := CompileQuery(`//zz:x`, queryNS); !errors.As(err, &xe) {
		t.Errorf("an unbound prefix: %v", err)
	}
}

// Every way of evaluating gives what the library gives over the tree, on
// every corpus message and every corner.
func TestQueryStreamsAsTheTree(t *testing.T) {
	docs := corpusDocs(t)
	for name, doc := range docs {
		for _, src := range append(slices.Clone(streamedExprs), treeExprs...) {
			checkQuery(t, name, doc, src)
		}
	}
}

// checkQuery compares the tree's values with the query's, given the
// document three ways: in memory, token by token as Stream reads it
// (async, as fmt does), and through a Reader as a reply is.
func checkQuery(t *testing.T, name string, doc []byte, src string) {
	t.Helper()
	q, err := CompileQuery(src, queryNS)
	if err != nil {
		return
	}
	want, werr := Values(doc, q.Expr())
	if werr != nil {
		return // the tree cannot be built; the query may do better
	}
	if _, err := Stream(bytes.NewReader(doc), StreamOptions{}); err != nil {
		return // never given to a query: fmt and send stop here
	}
	if !sameDeclarations(doc) {
		return // see Query: a malformed <!...> is read as xmltok reads it
	}
	const limit = 1 << 30
	got, err := q.Values(doc, limit)
	same(t, name, src, "in memory", want, got, err)

	ev := q.Evaluate(limit)
	if _, err := Stream(bytes.NewReader(doc), StreamOptions{Document: ev, Async: true}); err != nil {
		t.Fatalf("%s: streamed: %v", name, err)
	}
	got, err = ev.Values()
	same(t, name, src, "streamed", want, got, err)

	ev = q.Evaluate(limit)
	var read bytes.Buffer
	if _, err := read.ReadFrom(ev.Reader(&fewBytes{b: doc})); err != nil || !bytes.Equal(read.Bytes(), doc) {
		t.Fatalf("%s: the reader changed the document: %v", name, err)
	}
	got, err = ev.Values()
	same(t, name, src, "read through", want, got, err)
}

// sameDeclarations says whether encoding/xml (under the tree) and xmltok
// read the document's <!...> declarations alike. They do for a well-formed
// one (<!DOCTYPE ...> with its internal subset); not always for others,
// <!>> for one, which encoding/xml reads as the declaration ">".
func sameDeclarations(doc []byte) bool {
	if !bytes.Contains(doc, []byte("<!")) {
		return true
	}
	var theirs, ours []string
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := d.RawToken()
		if err != nil {
			break
		}
		if dir, ok := tok.(xml.Directive); ok {
			theirs = append(theirs, string(dir))
		}
	}
	lx := xmltok.NewBytesLexer(doc)
	for {
		tok, err := lx.Next()
		if err != nil {
			break
		}
		if tok.Kind == xmltok.Directive {
			ours = append(ours, string(tok.Raw[2:len(tok.Raw)-1]))
		}
	}
	return slices.Equal(theirs, ours)
}

func same(t *testing.T, name, src, how string, want, got []string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %s (%s): %v; the tree gives %q", name, src, how, err, want)
		return
	}
	if !slices.Equal(want, got) {
		t.Errorf("%s: %s (%s):\n got %q\nwant %q", name, src, how, got, want)
	}
}

// fewBytes reads a few bytes at a time, so that tokens and entity
// references are cut.
type fewBytes struct {
	b []byte
	n int
}

func (o *fewBytes) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	o.n++
	k := 1 + o.n%7
	if k > len(p) {
		k = len(p)
	}
	if k > len(o.b) {
		k = len(o.b)
	}
	copy(p, o.b[:k])
	o.b = o.b[k:]
	return k, nil
}

// Long text comes from the lexer in pieces; values and text() still come
// whole, with an entity reference or a \r\n cut between pieces.
func TestQueryLongText(t *testing.T) {
	for _, cut := range []string{"&amp;", "\r\n", "é"} {
		var b strings.Builder
		b.WriteString("<r><a>")
		for b.Len() < 200<<10 {
			b.WriteString("xyz" + cut)
		}
		b.WriteString("</a><a>z</a></r>")
		for _, src := range []string{`//a`, `//a/text()`, `string(//r)`, `count(//a/text())`} {
			checkQuery(t, "long text "+cut, []byte(b.String()), src)
		}
	}
}

func TestQueryLimits(t *testing.T) {
	doc := []byte("<r>" + strings.Repeat("<a>xxxxxxxxxx</a>", 1000) + "</r>")
	// A streamed path holds only what it selects: count() nothing.
	q, _ := CompileQuery(`count(//a)`, nil)
	if got, err := q.Values(doc, 100); err != nil || !slices.Equal(got, []string{"1000"}) {
		t.Errorf("count in 100 bytes: %q, %v", got, err)
	}
	q, _ = CompileQuery(`//a`, nil)
	var le *LimitError
	if _, err := q.Values(doc, 5000); !errors.As(err, &le) || le.Whole || le.Limit != 5000 {
		t.Errorf("//a in 5000 bytes: %v", err)
	}
	if got, err := q.Values(doc, 100000); err != nil || len(got) != 1000 {
		t.Errorf("//a in 100000 bytes: %d values, %v", len(got), err)
	}
	// A tree: the document itself is bounded.
	q, _ = CompileQuery(`concat(//a, "")`, nil)
	if _, err := q.Values(doc, 1<<10); !errors.As(err, &le) || !le.Whole ||
		le.Error() != "the expression needs the whole document in memory, as a tree, and the document is larger than 1 KiB" {
		t.Errorf("a tree in 1 KiB: %v", err)
	}
	if got, err := q.Values(doc, 1<<20); err != nil || !slices.Equal(got, []string{"xxxxxxxxxx"}) {
		t.Errorf("a tree in 1 MiB: %q, %v", got, err)
	}
}

// What the tree refuses, the query refuses too where it reads it.
func TestQueryBadText(t *testing.T) {
	for _, doc := range []string{`<r><a>&nbsp;</a></r>`, "<r><a>\x01</a></r>", `<r><a x="&bad;"/></r>`, `<r><a>&#0;</a></r>`} {
		for _, src := range []string{`//a`, `//a/@x`} {
			q, _ := CompileQuery(src, nil)
			_, terr := Values([]byte(doc), q.Expr())
			got, err := q.Values([]byte(doc), 1<<20)
			if terr != nil && err == nil && len(got) > 0 && got[0] != "" {
				t.Errorf("%s over %s: %q; the tree says %v", src, doc, got, terr)
			}
		}
	}
}

// A reader given up half way gives an error, and no goroutine is left.
func TestQueryReaderUnfinished(t *testing.T) {
	q, _ := CompileQuery(`count(//a)`, nil)
	ev := q.Evaluate(1 << 20)
	r := ev.Reader(strings.NewReader("<r><a/><a/>"))
	buf := make([]byte, 4)
	r.Read(buf)
	if _, err := ev.Values(); err == nil {
		t.Error("no error for a document read half way")
	}
}

// FuzzQuery checks the streamed evaluation against the tree on fuzzed
// documents and paths built from fuzzed bytes.
func FuzzQuery(f *testing.F) {
	for name, doc := range corpusDocs(f) {
		f.Add(doc, []byte(name))
	}
	for i, src := range streamedExprs {
		f.Add([]byte(quirkDocs[i%len(quirkDocs)]), []byte(src))
	}
	f.Fuzz(func(t *testing.T, doc, shape []byte) {
		if len(doc) > 1<<14 {
			return
		}
		checkQuery(t, "fuzzed", doc, pathOf(shape))
	})
}

// pathOf builds a path the plan takes from bytes.
func pathOf(shape []byte) string {
	names := []string{"*", "a", "b", "x", "p:x", "q:a", "r", "soap:Body", "Envelope", "xmlns", "p:a"}
	preds := []string{"", "", "", "[@x]", "[@x='1']", "[local-name()='a']", "[@p:x]", "[@*='2']", `["b"=local-name()]`}
	var b strings.Builder
	fn := 0
	if len(shape) > 0 {
		fn = int(shape[0]) % 4
		shape = shape[1:]
	}
	switch fn {
	case 1:
		b.WriteString("count(")
	case 2:
		b.WriteString("string(")
	}
	steps, below := 0, 0
	for i := 0; i+1 < len(shape) && steps < 4; i += 2 {
		c, d := shape[i], shape[i+1]
		// Both the library and the chains kept here grow as the depth to
		// the power of the // steps: two keep the fuzzer going.
		if c&1 == 0 || below == 2 {
			b.WriteString("/")
		} else {
			b.WriteString("//")
			below++
		}
		b.WriteString(names[int(c>>1)%len(names)])
		b.WriteString(preds[int(d)%len(preds)])
		steps++
	}
	if steps == 0 {
		b.WriteString("//a")
	}
	if len(shape)%3 == 1 {
		ends := []string{"/@x", "//@x", "/@*", "/text()", "//text()", "/@p:x", "//@*"}
		end := ends[int(shape[len(shape)-1])%len(ends)]
		if below == 2 {
			end = strings.Replace(end, "//", "/", 1)
		}
		b.WriteString(end)
	}
	if fn == 1 || fn == 2 {
		b.WriteString(")")
	}
	return b.String()
}
