package envelope

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/soapsess/soapsess/reply"
)

// userDialect is a dialect directory with this manifest and empty templates.
func userDialect(manifest string) fstest.MapFS {
	return fstest.MapFS{
		"manifest.toml": {Data: []byte(manifest)},
		"begin.xml":     {Data: nil},
		"session.xml":   {Data: nil},
		"end.xml":       {Data: nil},
	}
}

const acmeManifest = `description = "Acme sessions"

[namespaces]
soap = "http://schemas.xmlsoap.org/soap/envelope/"
a = "urn:acme"

[session]
id = "/soap:Envelope/soap:Header/a:Session/@id"

# Acme answers HTTP 200 with <a:errors><a:error code="..." severity="...">text</a:error></a:errors>.
[[errors]]
kind = "Acme error"
warning_kind = "Acme warning"
element = "a:errors"
in_body = true
each = "a:error"
severity = "not(@severity = 'warning')"
code = "@code"
message = "."
`

// A user's dialect declares its own in-body errors, and a reply streamed
// with its conventions reports them.
func TestUserDialectErrors(t *testing.T) {
	d, err := Load(userDialect(acmeManifest), "acme", "/home/u/.config/soapsess/dialects/acme")
	if err != nil {
		t.Fatal(err)
	}
	const doc = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><a:queryResponse xmlns:a="urn:acme">
	<a:row>1</a:row><a:errors><a:error code="E42">the disk is full</a:error><a:error code="W7" severity="warning">slow</a:error></a:errors>
	</a:queryResponse></soap:Body></soap:Envelope>`
	st, err := reply.Stream(strings.NewReader(doc), reply.StreamOptions{RequireSOAP: true, Errors: d.Errors()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range st.Problems {
		got = append(got, p.Summary())
	}
	want := []string{"Acme error E42: the disk is full", "Acme warning W7: slow"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || !anyError(st.Problems) || st.Problems[1].Severity != reply.SeverityWarning {
		t.Errorf("problems %q (%+v), want %q", got, st.Problems, want)
	}
	// The built-in dialects know nothing of it.
	st, err = reply.Stream(strings.NewReader(doc), reply.StreamOptions{RequireSOAP: true, Errors: BuiltinErrors()})
	if err != nil || len(st.Problems) != 0 {
		t.Errorf("with the built-ins' conventions: %+v, %v", st, err)
	}
}

// A mistake in a declaration is found when the dialect is loaded, and named
// by file and line.
func TestUserDialectErrorsRefused(t *testing.T) {
	const src = "/home/u/dialects/acme"
	tests := []struct {
		name, old, new string
		want           string
	}{
		{"bad XPath", `code = "@code"`, `code = "@code["`,
			src + `/manifest.toml:18: [[errors]] #1: code: bad XPath "@code["`},
		{"unknown prefix in an XPath", `each = "a:error"`, `each = "b:error"`,
			src + `/manifest.toml:16: [[errors]] #1: each: bad XPath "b:error"`},
		{"each selects no elements", `each = "a:error"`, `each = "count(a:error)"`,
			src + `/manifest.toml:16: [[errors]] #1: each: XPath "count(a:error)" selects no elements`},
		{"prefix not in [namespaces]", `element = "a:errors"`, `element = "x:errors"`,
			src + `/manifest.toml:14: [[errors]] #1: element: "x:errors": prefix "x" is not in [namespaces]`},
		{"no kind: the line of the table", `kind = "Acme error"`, ``,
			src + `/manifest.toml:11: [[errors]] #1: kind: a label for the summary is required`},
		{"unknown key", `in_body = true`, `in_bdy = true`,
			src + `/manifest.toml:15: unknown key "errors.in_bdy"`},
		{"second table", `message = "."`, "message = \".\"\n\n[[errors]]\nkind = \"Acme other\"\nelement = \"a:other\"\nsource = '''concat(\n  @a,\n  @b'''",
			src + `/manifest.toml:24: [[errors]] #2: source: bad XPath "concat(\n  @a,\n  @b"`},
	}
	for _, tt := range tests {
		m := strings.Replace(acmeManifest, tt.old, tt.new, 1)
		if m == acmeManifest {
			t.Fatalf("%s: %q not in the manifest", tt.name, tt.old)
		}
		_, err := Load(userDialect(m), "acme", src)
		var de *DialectError
		if !errors.As(err, &de) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: %v\nwant a DialectError starting %q", tt.name, err, tt.want)
		}
	}
}

// BuiltinErrors (what fmt watches) reports the built-in dialects' in-body
// errors in real replies, and each built-in dialect its own.
func TestBuiltinErrorsInRealReplies(t *testing.T) {
	tests := []struct{ dialect, file, want string }{
		{"dsml", "dsml/12-dsee62-errorresponse-notattempted.response.xml", "DSML errorResponse notAttempted: 'abandonRequest' is not implemented, abandonID = ''"},
		{"dsml", "dsml/15-opends-errorresponse-authenticationfailed.response.xml", "DSML errorResponse authenticationFailed: org.opends.server.types.LDAPException: Unable to retrieve credentials."},
		{"dsml", "dsml/11-dsee62-add.response.xml", ""},
		{"xmla", "xmla/ssas_discover_mdschema_cubes_response.xml", ""},
		{"sqlsoap", "sqlsoap/08-fault-sessionidisinvalid.response.xml", "SOAP 1.1 fault SOAP-ENV:Client"},
	}
	for _, tt := range tests {
		raw := read(t, tt.file)
		for _, rules := range [][]reply.ErrorRule{BuiltinErrors(), dialect(t, tt.dialect).Errors()} {
			st, err := reply.Stream(bytes.NewReader(raw), reply.StreamOptions{RequireSOAP: true, Errors: rules})
			if err != nil {
				t.Fatalf("%s: %v", tt.file, err)
			}
			var got []string
			for _, p := range st.Problems {
				got = append(got, p.Summary())
			}
			if tt.want == "" && len(got) != 0 || tt.want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tt.want)) {
				t.Errorf("%s: %q, want %q", tt.file, got, tt.want)
			}
		}
	}
	const sql = `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:rs="http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlResultStream" xmlns:m="http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlMessage"><SOAP-ENV:Body><r><rs:SqlMessage><m:Class>0</m:Class><m:Message>hello</m:Message><m:Number>0</m:Number><m:State>1</m:State></rs:SqlMessage></r></SOAP-ENV:Body></SOAP-ENV:Envelope>`
	for name, rules := range map[string][]reply.ErrorRule{"built-ins": BuiltinErrors(), "sqlsoap": dialect(t, "sqlsoap").Errors(), "xmla": dialect(t, "xmla").Errors()} {
		st, err := reply.Stream(strings.NewReader(sql), reply.StreamOptions{Errors: rules})
		if err != nil {
			t.Fatal(err)
		}
		n := 1
		if name == "xmla" {
			n = 0
		}
		if len(st.Problems) != n || n == 1 && (st.Problems[0].Summary() != "SQL Server message 0 (class 0, state 1): hello" || anyError(st.Problems)) {
			t.Errorf("%s: %+v", name, st.Problems)
		}
	}
}

// Every built-in dialect declares its in-body errors, and loads.
func TestBuiltinsDeclareErrors(t *testing.T) {
	total := 0
	for _, name := range Builtins() {
		n := len(dialect(t, name).Errors())
		if n == 0 {
			t.Errorf("%s declares no [[errors]]", name)
		}
		total += n
	}
	if got := len(BuiltinErrors()); got != total {
		t.Errorf("BuiltinErrors has %d rules, the dialects %d", got, total)
	}
}

func anyError(ps []reply.Problem) bool {
	for _, p := range ps {
		if p.Severity == reply.SeverityError {
			return true
		}
	}
	return false
}

// A user's dialect that says nothing of [[errors]] (a copy of a built-in
// made before they were data) watches the built-ins' conventions, as all
// dialects did; errors = [] watches none.
func TestUserDialectWithoutErrorsKey(t *testing.T) {
	const manifest = "[session]\nid = \"//@SessionId\"\n"
	const doc = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><ExecuteResponse xmlns="urn:schemas-microsoft-com:xml-analysis"><return><root xmlns="urn:schemas-microsoft-com:xml-analysis:empty"><Messages xmlns="urn:schemas-microsoft-com:xml-analysis:exception"><Error ErrorCode="1" Description="no"/></Messages></root></return></ExecuteResponse></s:Body></s:Envelope>`
	for _, tt := range []struct {
		manifest string
		problems int
	}{
		{manifest, 1},
		{"errors = []\n" + manifest, 0},
	} {
		d, err := Load(userDialect(tt.manifest), "old", "/home/u/.config/soapsess/dialects/old")
		if err != nil {
			t.Fatal(err)
		}
		st, err := reply.Stream(strings.NewReader(doc), reply.StreamOptions{RequireSOAP: true, Errors: d.Errors()})
		if err != nil || len(st.Problems) != tt.problems {
			t.Errorf("%q: %d problems (%v), want %d", tt.manifest, len(st.Problems), err, tt.problems)
		}
	}
}

// [[captures]] are checked when the dialect loads: a name templates can
// use, an XPath that compiles, value or clear.
func TestCapturesDeclared(t *testing.T) {
	base := "[namespaces]\ntx = \"urn:tx\"\n[session]\nid = \"//@SessionId\"\n"
	d, err := Load(userDialect(base+"[[captures]]\nname = \"transaction\"\nvalue = \"//tx:Begin/tx:Descriptor\"\nclear = \"//tx:Commit\"\n"), "tx", "/d/tx")
	if err != nil {
		t.Fatal(err)
	}
	if cs := d.Captures(); len(cs) != 1 || cs[0].Name != "transaction" || cs[0].Value == nil || cs[0].Clear == nil {
		t.Errorf("captures %+v", cs)
	}
	for _, tt := range []struct{ decl, want string }{
		{"[[captures]]\nname = \"1x\"\nvalue = \"//a\"\n", "/d/tx/manifest.toml:6: [[captures]] #1: name"},
		{"[[captures]]\nname = \"x\"\nvalue = \"//[\"\n", "/d/tx/manifest.toml:7: [[captures]] #1: value: bad XPath"},
		{"[[captures]]\nname = \"x\"\n", "[[captures]] #1: give value, clear or both"},
		{"[[captures]]\nname = \"x\"\nclear = \"//nope:a\"\n", "/d/tx/manifest.toml:7: [[captures]] #1: clear: bad XPath"},
	} {
		_, err := Load(userDialect(base+tt.decl), "tx", "/d/tx")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v; want %q", tt.decl, err, tt.want)
		}
	}
}
