package reply

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/BurntSushi/toml"
)

// captured is one element the streaming caller hands to ProblemsIn.
type captured struct {
	el      []byte
	path    []string
	version string
}

// builtinRules are the [[errors]] conventions of the built-in dialects,
// read from their manifests as envelope.Load reads them (envelope imports
// reply, so it cannot be used here).
var builtinRules = sync.OnceValues(func() ([]ErrorRule, error) {
	files, err := filepath.Glob("../envelope/dialects/*/manifest.toml")
	if err != nil || len(files) < 3 {
		return nil, fmt.Errorf("built-in manifests: %v (%d found)", err, len(files))
	}
	var rules []ErrorRule
	for _, f := range files {
		rs, err := rulesOf(f)
		if err != nil {
			return nil, err
		}
		rules = append(rules, rs...)
	}
	return rules, nil
})

// rulesOf reads the [[errors]] tables of a manifest.
func rulesOf(file string) ([]ErrorRule, error) {
	var m struct {
		Namespaces map[string]string `toml:"namespaces"`
		Errors     []ErrorDecl       `toml:"errors"`
	}
	if _, err := toml.DecodeFile(file, &m); err != nil {
		return nil, err
	}
	var rules []ErrorRule
	for i, d := range m.Errors {
		r, err := NewErrorRule(d, m.Namespaces)
		if err != nil {
			return nil, fmt.Errorf("%s: [[errors]] #%d: %w", file, i+1, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func builtin(t *testing.T) []ErrorRule {
	t.Helper()
	rules, err := builtinRules()
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// capture does what the streaming caller does: it asks Watch about every
// start tag and takes each watched element out of the document, adding the
// namespace declarations in scope to its start tag. Watch is asked inside
// captured elements too, so a nested selection shows up as an extra capture.
func capture(t *testing.T, src []byte) []captured {
	t.Helper()
	rules := builtin(t)
	type open struct {
		local string
		scope map[string]string
		out   int    // index in out when captured, else -1
		tag   []byte // start tag with the declarations added
		end   int64  // offset just past the start tag
	}
	d := xml.NewDecoder(bytes.NewReader(src))
	var (
		stack   []open
		out     []captured
		version string
	)
	for {
		start := d.InputOffset()
		tok, err := d.RawToken()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("test document: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			scope := map[string]string{}
			if len(stack) > 0 {
				scope = stack[len(stack)-1].scope
			}
			own := map[string]bool{}
			for _, a := range tok.Attr {
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					if len(own) == 0 {
						scope = maps(scope)
					}
					p := a.Name.Local
					if a.Name.Space == "" {
						p = ""
					}
					own[p] = true
					scope[p] = a.Value
				}
			}
			ns := scope[tok.Name.Space]
			path := make([]string, len(stack))
			for i, o := range stack {
				path[i] = o.local
			}
			if len(stack) == 0 && tok.Name.Local == "Envelope" {
				version = soapVersionOf(ns)
			}
			o := open{local: tok.Name.Local, scope: scope, out: -1}
			if Watch(rules, ns, tok.Name.Local, path) {
				tag := src[start:d.InputOffset()]
				var extra strings.Builder
				for p, u := range scope {
					if own[p] || p == "" && u == "" {
						continue
					}
					if p == "" {
						extra.WriteString(` xmlns="` + u + `"`)
					} else {
						extra.WriteString(` xmlns:` + p + `="` + u + `"`)
					}
				}
				cut := len(tag) - 1
				if bytes.HasSuffix(tag, []byte("/>")) {
					cut--
				}
				o.tag = slices.Concat(tag[:cut], []byte(extra.String()), tag[cut:])
				o.out, o.end = len(out), d.InputOffset()
				out = append(out, captured{path: path, version: version})
			}
			stack = append(stack, o)
		case xml.EndElement:
			o := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if o.out >= 0 {
				out[o.out].el = slices.Concat(o.tag, src[o.end:d.InputOffset()])
			}
		}
	}
}

func maps(m map[string]string) map[string]string {
	c := make(map[string]string, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	return c
}

// problemsOf captures the watched elements of a whole reply and reads them.
func problemsOf(t *testing.T, src []byte) []Problem {
	t.Helper()
	var all []Problem
	for _, c := range capture(t, src) {
		ps, err := ProblemsIn(builtin(t), c.el, c.version, c.path)
		if err != nil {
			t.Fatalf("ProblemsIn(%s): %v", c.el, err)
		}
		all = append(all, ps...)
	}
	return all
}

// want is what a test checks of a Problem; Subcodes nil means none.
type want struct {
	Kind, Code, CodeNS, Message, Actor, Source, Detail, Mixed string
	Subcodes                                                  []string
	Warning                                                   bool
}

func checkProblems(t *testing.T, name string, got []Problem, wants ...want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Errorf("%s: %d problems, want %d: %+v", name, len(got), len(wants), got)
		return
	}
	for i, w := range wants {
		g := got[i]
		sev := SeverityError
		if w.Warning {
			sev = SeverityWarning
		}
		gw := want{g.Kind, g.Code, g.CodeNS, g.Message, g.Actor, g.Source, g.Detail, g.Mixed, g.Subcodes, g.Severity == SeverityWarning}
		if g.Kind != w.Kind || g.Code != w.Code || g.CodeNS != w.CodeNS || g.Message != w.Message ||
			g.Actor != w.Actor || g.Source != w.Source || g.Detail != w.Detail || g.Mixed != w.Mixed ||
			!slices.Equal(g.Subcodes, w.Subcodes) || g.Severity != sev {
			t.Errorf("%s: problem %d\n got %+v\nwant %+v", name, i, gw, w)
		}
	}
}

func TestProblemsInCorpus(t *testing.T) {
	const (
		sqlActor = "http://schemas.microsoft.com/sqlserver/2004/SOAP"
		sqlfc    = "sqlsoapfaultcode:"
	)
	tests := []struct {
		file  string
		paths [][]string // where the captured elements were
		want  []want
	}{
		{"dsml/07-msdsml-fault-bad-session-request.response.xml", [][]string{{"Envelope", "Body"}},
			[]want{{Kind: "SOAP 1.1 fault", Code: "SOAP:Client", CodeNS: NSSOAP11, Message: "SOAP Invalid Request", Detail: "Bad Session Request"}}},
		{"dsml/08-msdsml-fault-bad-request.response.xml", [][]string{{"Envelope", "Body"}},
			[]want{{Kind: "SOAP 1.1 fault", Code: "SOAP:Client", CodeNS: NSSOAP11, Message: "SOAP Invalid Request", Detail: "Bad Request"}}},
		{"dsml/09-msdsml-fault-internal-server-error.response.xml", [][]string{{"Envelope", "Body"}},
			[]want{{Kind: "SOAP 1.1 fault", Code: "SOAP:Server", CodeNS: NSSOAP11, Message: "SOAP Server Application Faulted", Detail: "Internal DSML Server Error"}}},
		{"dsml/12-dsee62-errorresponse-notattempted.response.xml", [][]string{{"Envelope", "Body", "batchResponse"}},
			[]want{{Kind: "DSML errorResponse", Code: "notAttempted", Message: "'abandonRequest' is not implemented, abandonID = ''"}}},
		{"dsml/13-dsee62-errorresponse-malformedrequest.response.xml", [][]string{{"Envelope", "Body", "batchResponse"}},
			[]want{{Kind: "DSML errorResponse", Code: "malformedRequest", Message: "ParsingError @ line 5, col 5, The prefix 'soap-env' has not been mapped to any URI"}}},
		{"dsml/14-opends-errorresponse-couldnotconnect.response.xml", [][]string{{"Envelope", "Body", "batchResponse"}},
			[]want{{Kind: "DSML errorResponse", Code: "couldNotConnect", Message: "org.opends.server.tools.LDAPConnectionException: The simple bind attempt failed"}}},
		{"dsml/15-opends-errorresponse-authenticationfailed.response.xml", [][]string{{"Envelope", "Body", "batchResponse"}},
			[]want{{Kind: "DSML errorResponse", Code: "authenticationFailed", Message: "org.opends.server.types.LDAPException: Unable to retrieve credentials."}}},
		{"sqlsoap/08-fault-sessionidisinvalid.response.xml", [][]string{{"Envelope", "Body"}},
			[]want{{Kind: "SOAP 1.1 fault", Code: "SOAP-ENV:Client", CodeNS: NSSOAP11,
				Message:  "There was an error in the incoming SOAP request packet:  Client, SoapHeader, SessionIdIsInvalid",
				Actor:    sqlActor,
				Subcodes: []string{sqlfc + "SoapHeader", sqlfc + "SessionIdIsInvalid"}}}},
		{"sqlsoap/09-fault-invalidxml-soap12.fragment.xml", [][]string{{}},
			[]want{{Kind: "SOAP 1.2 fault", Code: "SOAP-1_2-ENV:Sender", CodeNS: NSSOAP12,
				Message: "There was an error in the incoming SOAP request packet:  Sender, InvalidXml"}}},
		{"xmla/msdocs_soap_fault_example.xml", [][]string{{"Envelope"}},
			[]want{{Kind: "SOAP 1.1 fault", Code: "XMLAnalysisError.0x80000005",
				Message: "The XML for Analysis provider encountered an error.", Actor: "XML for Analysis Provider",
				Source: "XML for Analysis Provider", Detail: "An unexpected error has occurred."}}},
	}
	withProblems := map[string]bool{}
	for _, tt := range tests {
		withProblems[tt.file] = true
		cs := capture(t, read(t, tt.file))
		if len(cs) != len(tt.paths) {
			t.Errorf("%s: captured %d elements, want %d", tt.file, len(cs), len(tt.paths))
			continue
		}
		var got []Problem
		for i, c := range cs {
			if !slices.Equal(c.path, tt.paths[i]) {
				t.Errorf("%s: captured at %q, want %q", tt.file, c.path, tt.paths[i])
			}
			ps, err := ProblemsIn(builtin(t), c.el, c.version, c.path)
			if err != nil {
				t.Fatalf("%s: %v", tt.file, err)
			}
			got = append(got, ps...)
		}
		checkProblems(t, tt.file, got, tt.want...)
	}
	// Every other message in the corpus reports nothing and is not captured:
	// Body, batchResponse, searchResponse, rows, headers...
	files, _ := filepath.Glob(filepath.Join(corpus, "*", "*.xml"))
	if len(files) < 40 {
		t.Fatalf("only %d corpus files", len(files))
	}
	for _, f := range files {
		rel, _ := filepath.Rel(corpus, f)
		if withProblems[filepath.ToSlash(rel)] {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if cs := capture(t, src); len(cs) != 0 {
			t.Errorf("%s: captured %d elements, first at %q", rel, len(cs), cs[0].path)
		}
	}
}

// The fault shapes of real stacks, as PHP SoapServer 8.2, Spyne 2.14,
// SOAP::Lite 1.27 and node-soap 1.13 sent them to a loopback client.
func TestProblemsInStackFaults(t *testing.T) {
	const (
		env11 = `xmlns:soap="` + NSSOAP11 + `"`
		env12 = `xmlns:soap="` + NSSOAP12 + `"`
	)
	wrap := func(decl, fault string) string {
		return `<soap:Envelope ` + decl + ` xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>` + fault + `</soap:Body></soap:Envelope>`
	}
	tests := []struct {
		name, reply string
		want        want
	}{
		{"PHP 1.1",
			`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode><faultstring>deliberate failure</faultstring><detail><item><key>reason</key><value>test</value></item></detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
			want{Kind: "SOAP 1.1 fault", Code: "SOAP-ENV:Client", CodeNS: NSSOAP11, Message: "deliberate failure", Detail: "reason test"}},
		{"PHP 1.2 (Text without xml:lang)",
			`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value></env:Code><env:Reason><env:Text>deliberate 1.2 failure</env:Text></env:Reason><env:Detail>some detail</env:Detail></env:Fault></env:Body></env:Envelope>`,
			want{Kind: "SOAP 1.2 fault", Code: "env:Sender", CodeNS: NSSOAP12, Message: "deliberate 1.2 failure", Detail: "some detail"}},
		{"Spyne 1.1",
			`<soap11env:Envelope xmlns:soap11env="http://schemas.xmlsoap.org/soap/envelope/"><soap11env:Body><soap11env:Fault><faultcode>soap11env:Client.BadThing</faultcode><faultstring>deliberate spyne fault</faultstring><faultactor></faultactor><detail><reason>test</reason></detail></soap11env:Fault></soap11env:Body></soap11env:Envelope>`,
			want{Kind: "SOAP 1.1 fault", Code: "soap11env:Client.BadThing", CodeNS: NSSOAP11, Message: "deliberate spyne fault", Detail: "test"}},
		{"Spyne 1.2 with subcode",
			`<soap12env:Envelope xmlns:soap12env="http://www.w3.org/2003/05/soap-envelope"><soap12env:Body><soap12env:Fault><soap12env:Code><soap12env:Value>soap12env:Sender</soap12env:Value><soap12env:Subcode><soap12env:Value>BadThing</soap12env:Value></soap12env:Subcode></soap12env:Code><soap12env:Reason><soap12env:Text xml:lang="en">deliberate spyne fault</soap12env:Text></soap12env:Reason><soap12env:Role></soap12env:Role><soap12env:Detail><reason>test</reason></soap12env:Detail></soap12env:Fault></soap12env:Body></soap12env:Envelope>`,
			want{Kind: "SOAP 1.2 fault", Code: "soap12env:Sender", CodeNS: NSSOAP12, Subcodes: []string{"BadThing"}, Message: "deliberate spyne fault", Detail: "test"}},
		{"SOAP::Lite 1.1",
			wrap(env11, `<soap:Fault><faultcode>soap:Server.Custom</faultcode><faultstring>deliberate failure</faultstring><faultactor>http://127.0.0.1:8082/</faultactor><detail><reason xsi:type="xsd:string">test</reason></detail></soap:Fault>`),
			want{Kind: "SOAP 1.1 fault", Code: "soap:Server.Custom", CodeNS: NSSOAP11, Message: "deliberate failure", Actor: "http://127.0.0.1:8082/", Detail: "test"}},
		{"SOAP::Lite 1.1 shape in a 1.2 envelope",
			wrap(env12, `<soap:Fault><faultcode>soap:Client</faultcode><faultstring>unknown session</faultstring><faultactor>http://127.0.0.1:8082/</faultactor><detail><session xsi:type="xsd:string">S0001</session></detail></soap:Fault>`),
			want{Kind: "SOAP 1.1 fault", Code: "soap:Client", CodeNS: NSSOAP12, Message: "unknown session", Actor: "http://127.0.0.1:8082/", Detail: "S0001",
				Mixed: "1.1-shaped fault in a SOAP 1.2 envelope"}},
		{"node-soap 1.1",
			wrap(env11, `<soap:Fault><faultcode>soap:Client</faultcode><faultstring>bad input</faultstring><detail><why>empty text</why></detail></soap:Fault>`),
			want{Kind: "SOAP 1.1 fault", Code: "soap:Client", CodeNS: NSSOAP11, Message: "bad input", Detail: "empty text"}},
		{"node-soap 1.2 lowercase Subcode value",
			wrap(env12, `<soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value><soap:Subcode><soap:value>rpc:BadArguments</soap:value></soap:Subcode></soap:Code><soap:Reason><soap:Text>Processing Error</soap:Text></soap:Reason></soap:Fault>`),
			want{Kind: "SOAP 1.2 fault", Code: "soap:Sender", CodeNS: NSSOAP12, Subcodes: []string{"rpc:BadArguments"}, Message: "Processing Error",
				Mixed: "lowercase value"}},
		{"node-soap uncaught error: 1.2 shape in a 1.1 envelope, undeclared prefix",
			wrap(env11, `<soap:Fault><soap:Code><soap:Value>SOAP-ENV:Server</soap:Value></soap:Code><soap:Reason><soap:Text>boom is not defined</soap:Text></soap:Reason></soap:Fault>`),
			want{Kind: "SOAP 1.2 fault", Code: "SOAP-ENV:Server", Message: "boom is not defined",
				Mixed: "1.2-shaped fault in a SOAP 1.1 envelope"}},
	}
	for _, tt := range tests {
		checkProblems(t, tt.name, problemsOf(t, []byte(tt.reply)), tt.want)
	}
}

func TestProblemsInServerShapes(t *testing.T) {
	const (
		sqlNS  = `xmlns:SOAP-ENV="` + NSSOAP11 + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:sql="http://schemas.microsoft.com/sqlserver/2004/SOAP" xmlns:sqlmessage="http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlMessage" xmlns:sqlresultstream="http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlResultStream" xmlns:sqlrowcount="http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlRowCount"`
		xmlaEx = "urn:schemas-microsoft-com:xml-analysis:exception"
	)
	tests := []struct {
		name, reply string
		want        []want
	}{
		{"SSAS 2014 fault with two Errors in its detail, children in the SOAP namespace",
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault xmlns="http://schemas.xmlsoap.org/soap/envelope/">
			  <faultcode>XMLAnalysisError.0xc10f0014</faultcode>
			  <faultstring>Errors in the metadata manager.</faultstring>
			  <detail>
			    <Error ErrorCode="3238789153" Description="The Sales cube does not exist." Source="Microsoft SQL Server 2014 Analysis Services" HelpFile=""><Location xmlns="http://schemas.microsoft.com/analysisservices/2003/engine"><Start><Line>1</Line><Column>77</Column></Start></Location></Error>
			    <Error ErrorCode="3238985748" Description="Errors in the metadata manager." Source="Microsoft SQL Server 2014 Analysis Services (2)" HelpFile=""/>
			  </detail></soap:Fault></soap:Body></soap:Envelope>`,
			[]want{{Kind: "SOAP 1.1 fault", Code: "XMLAnalysisError.0xc10f0014", Message: "Errors in the metadata manager.",
				Source: "Microsoft SQL Server 2014 Analysis Services",
				Detail: "The Sales cube does not exist.; Errors in the metadata manager."}}},
		{"Mondrian fault with XA:error detail",
			`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><SOAP-ENV:Header><Session xmlns="urn:schemas-microsoft-com:xml-analysis" SessionId="abc"/></SOAP-ENV:Header><SOAP-ENV:Body><SOAP-ENV:Fault>
			  <faultcode>SOAP-ENV:Client.00HSBC01</faultcode>
			  <faultstring>XMLA connection datasource not found</faultstring>
			  <faultactor>Mondrian</faultactor>
			  <detail><XA:error xmlns:XA="http://mondrian.sourceforge.net"><code>00HSBC01</code><desc>The Mondrian XML: datasource 'x' not found</desc></XA:error></detail>
			</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
			[]want{{Kind: "SOAP 1.1 fault", Code: "SOAP-ENV:Client.00HSBC01", CodeNS: NSSOAP11, Message: "XMLA connection datasource not found",
				Actor: "Mondrian", Detail: "00HSBC01 The Mondrian XML: datasource 'x' not found"}}},
		{"SSAS Messages after partial data: one Error, one Warning",
			`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ExecuteResponse xmlns="urn:schemas-microsoft-com:xml-analysis"><return><root xmlns="urn:schemas-microsoft-com:xml-analysis:rowset">
			  <row><Fault>not a SOAP fault, just data</Fault><Messages>a column</Messages></row><row><Fault/></row>
			  <Exception xmlns="` + xmlaEx + `"/>
			  <Messages xmlns="` + xmlaEx + `">
			    <Error ErrorCode="3239837705" Description="The operation was cancelled because of locking conflicts." Source="Microsoft SQL Server 2014 Analysis Services" HelpFile=""/>
			    <Warning WarningCode="-1055784777" Description="The query returned partial results." Source="Microsoft SQL Server 2018 CTP1 Analysis Services Managed Code Module" HelpFile=""/>
			  </Messages></root></return></ExecuteResponse></soap:Body></soap:Envelope>`,
			[]want{
				{Kind: "XMLA error", Code: "3239837705", Message: "The operation was cancelled because of locking conflicts.", Source: "Microsoft SQL Server 2014 Analysis Services"},
				{Kind: "XMLA warning", Code: "-1055784777", Message: "The query returned partial results.", Source: "Microsoft SQL Server 2018 CTP1 Analysis Services Managed Code Module", Warning: true},
			}},
		{"Mondrian mid-stream error: unqualified Messages in root, Java class ErrorCode",
			`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><cxmla:ExecuteResponse xmlns:cxmla="urn:schemas-microsoft-com:xml-analysis"><cxmla:return><root xmlns="urn:schemas-microsoft-com:xml-analysis:mddataset" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:EX="` + xmlaEx + `"><OlapInfo/><Messages><Error ErrorCode="mondrian.olap.MondrianException" Description="Mondrian Error:Internal error: query timed out" Source="Mondrian" Help=""/></Messages></root></cxmla:return></cxmla:ExecuteResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
			[]want{{Kind: "XMLA error", Code: "mondrian.olap.MondrianException", Message: "Mondrian Error:Internal error: query timed out", Source: "Mondrian"}}},
		{"SQL Server batch: class 16 error and class 0 PRINT",
			`<SOAP-ENV:Envelope ` + sqlNS + `><SOAP-ENV:Body><sql:sqlbatchResponse><sql:sqlbatchResult xsi:type="sqlresultstream:SqlResultStream">
			  <sqlresultstream:SqlMessage xsi:type="sqlmessage:SqlMessage"><sqlmessage:Class>16</sqlmessage:Class><sqlmessage:LineNumber>3</sqlmessage:LineNumber><sqlmessage:Message>Invalid object name 'x'.</sqlmessage:Message><sqlmessage:Number>208</sqlmessage:Number><sqlmessage:Procedure>p</sqlmessage:Procedure><sqlmessage:Server>X</sqlmessage:Server><sqlmessage:Source>Microsoft-SQL/9.0</sqlmessage:Source><sqlmessage:State>1</sqlmessage:State></sqlresultstream:SqlMessage>
			  <sqlresultstream:SqlRowCount xsi:type="sqlrowcount:SqlRowCount"><sqlrowcount:Count>0</sqlrowcount:Count></sqlresultstream:SqlRowCount>
			  <SqlMessage xmlns="" xsi:type="sqlmessage:SqlMessage"><sqlmessage:Class>0</sqlmessage:Class><sqlmessage:LineNumber>1</sqlmessage:LineNumber><sqlmessage:Message>hello</sqlmessage:Message><sqlmessage:Number>0</sqlmessage:Number><sqlmessage:Server>X</sqlmessage:Server><sqlmessage:Source>Microsoft-SQL/9.0</sqlmessage:Source><sqlmessage:State>1</sqlmessage:State></SqlMessage>
			  <SqlMessage xmlns="">a column called SqlMessage, not typed</SqlMessage>
			</sql:sqlbatchResult></sql:sqlbatchResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
			[]want{
				{Kind: "SQL Server message", Code: "208", Message: "Invalid object name 'x'.", Source: "Server=X Procedure=p Line=3 Source=Microsoft-SQL/9.0", Detail: "class 16, state 1"},
				{Kind: "SQL Server message", Code: "0", Message: "hello", Source: "Server=X Line=1 Source=Microsoft-SQL/9.0", Detail: "class 0, state 1", Warning: true},
			}},
		{"SQL Server fault with a SQL message in the embedded 1.2 Detail",
			`<SOAP-ENV:Envelope ` + sqlNS + `><SOAP-ENV:Body><SOAP-ENV:Fault xmlns:sqlsoapfaultcode="http://schemas.microsoft.com/sqlserver/2004/SOAP/SqlSoapFaultCode">
			  <faultcode>SOAP-ENV:Client</faultcode>
			  <faultstring>There was an error in the incoming SOAP request packet:  Client, InvalidXml</faultstring>
			  <faultactor>http://schemas.microsoft.com/sqlserver/2004/SOAP</faultactor>
			  <detail xmlns:SOAP-1_2-ENV="http://www.w3.org/2003/05/soap-envelope">
			    <SOAP-1_2-ENV:Code><SOAP-1_2-ENV:Value>SOAP-1_2-ENV:Sender</SOAP-1_2-ENV:Value><SOAP-1_2-ENV:Subcode><SOAP-1_2-ENV:Value>sqlsoapfaultcode:InvalidXml</SOAP-1_2-ENV:Value></SOAP-1_2-ENV:Subcode></SOAP-1_2-ENV:Code>
			    <SOAP-1_2-ENV:Reason><SOAP-1_2-ENV:Text xml:lang="en-US">There was an error in the incoming SOAP request packet:  Sender, InvalidXml</SOAP-1_2-ENV:Text></SOAP-1_2-ENV:Reason>
			    <SOAP-1_2-ENV:Node>http://schemas.microsoft.com/sqlserver/2004/SOAP</SOAP-1_2-ENV:Node>
			    <SOAP-1_2-ENV:Detail><sqlresultstream:SqlMessage xsi:type="sqlmessage:SqlMessage"><sqlmessage:Class>16</sqlmessage:Class><sqlmessage:LineNumber>0</sqlmessage:LineNumber><sqlmessage:Message>XML parsing: line 3, character 0, incorrect document syntax</sqlmessage:Message><sqlmessage:Number>9422</sqlmessage:Number><sqlmessage:Source>Microsoft-SQL/9.0</sqlmessage:Source><sqlmessage:State>1</sqlmessage:State></sqlresultstream:SqlMessage></SOAP-1_2-ENV:Detail>
			  </detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>`,
			[]want{
				{Kind: "SOAP 1.1 fault", Code: "SOAP-ENV:Client", CodeNS: NSSOAP11, Subcodes: []string{"sqlsoapfaultcode:InvalidXml"},
					Message: "There was an error in the incoming SOAP request packet:  Client, InvalidXml", Actor: "http://schemas.microsoft.com/sqlserver/2004/SOAP"},
				{Kind: "SQL Server message", Code: "9422", Message: "XML parsing: line 3, character 0, incorrect document syntax", Source: "Line=0 Source=Microsoft-SQL/9.0", Detail: "class 16, state 1"},
			}},
		{"SOAP 1.2 Node and Role, English Text chosen",
			`<e:Envelope xmlns:e="` + NSSOAP12 + `"><e:Body><e:Fault><e:Code><e:Value>e:Receiver</e:Value></e:Code><e:Reason><e:Text xml:lang="de">Interner Fehler</e:Text><e:Text xml:lang="en-GB">Internal error</e:Text></e:Reason><e:Node>http://node.example/</e:Node><e:Role>http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver</e:Role></e:Fault></e:Body></e:Envelope>`,
			[]want{{Kind: "SOAP 1.2 fault", Code: "e:Receiver", CodeNS: NSSOAP12, Message: "Internal error",
				Actor: "http://node.example/ role=http://www.w3.org/2003/05/soap-envelope/role/ultimateReceiver"}}},
	}
	for _, tt := range tests {
		checkProblems(t, tt.name, problemsOf(t, []byte(tt.reply)), tt.want...)
	}
}

func TestWatch(t *testing.T) {
	const dsml = "urn:oasis:names:tc:DSML:2:0:core"
	env, body := []string{"Envelope"}, []string{"Envelope", "Body"}
	tests := []struct {
		ns, local string
		path      []string
		want      bool
	}{
		{NSSOAP11, "Fault", body, true},
		{NSSOAP12, "Fault", body, true},
		{"urn:anything", "Fault", body, true},
		{"", "Fault", body, true},
		{NSSOAP11, "Fault", env, true}, // MS docs example without Body
		{NSSOAP12, "Fault", nil, true}, // a bare fragment
		{dsml, "errorResponse", []string{"Envelope", "Body", "batchResponse"}, true},
		{dsml, "errorResponse", nil, true},
		{"urn:schemas-microsoft-com:xml-analysis:exception", "Messages", []string{"Envelope", "Body", "ExecuteResponse", "return", "root"}, true},
		{"urn:schemas-microsoft-com:xml-analysis:rowset", "Messages", []string{"Envelope", "Body", "DiscoverResponse", "return", "root"}, true},
		{"http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlResultStream", "SqlMessage", []string{"Envelope", "Body", "sqlbatchResponse", "sqlbatchResult"}, true},

		{NSSOAP11, "Envelope", nil, false},
		{NSSOAP11, "Body", env, false},
		{NSSOAP11, "Header", env, false},
		{"urn:schemas-microsoft-com:xml-analysis", "Session", []string{"Envelope", "Header"}, false},
		{NSSOAP11, "Fault", []string{"Envelope", "Header"}, false},
		{dsml, "batchResponse", body, false},
		{dsml, "searchResponse", []string{"Envelope", "Body", "batchResponse"}, false},
		{"urn:schemas-microsoft-com:xml-analysis:rowset", "row", []string{"Envelope", "Body", "DiscoverResponse", "return", "root"}, false},
		{"urn:schemas-microsoft-com:xml-analysis:exception", "Exception", []string{"Envelope", "Body", "ExecuteResponse", "return", "root"}, false},
		{NSSOAP11, "Fault", []string{"Envelope", "Body", "Fault", "detail"}, false},
		{NSSOAP11, "Fault", []string{"Envelope", "Body", "ExecuteResponse", "return", "root", "row"}, false},
		{"urn:schemas-microsoft-com:xml-analysis:rowset", "Messages", []string{"Envelope", "Body", "DiscoverResponse", "return", "root", "row"}, false},
		{"urn:other", "Messages", []string{"Envelope", "Body", "x", "root"}, false},
		{"urn:other", "errorResponse", body, false},
		{"urn:other", "SqlMessage", body, false},
		{"http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlResultStream", "SqlMessage", []string{"Envelope", "Body", "Fault", "detail", "Detail"}, false},
		{"urn:x", "random", body, false},
	}
	for _, tt := range tests {
		if got := Watch(builtin(t), tt.ns, tt.local, tt.path); got != tt.want {
			t.Errorf("Watch(%q, %q, %q) = %v, want %v", tt.ns, tt.local, tt.path, got, tt.want)
		}
	}
}

func TestFaultCodeNamespace(t *testing.T) {
	tests := []struct {
		name, el, code, ns string
	}{
		{"prefix declared on an ancestor (carried to the start tag)",
			`<soap11env:Fault xmlns:soap11env="` + NSSOAP11 + `"><faultcode>soap11env:Client.BadThing</faultcode><faultstring>x</faultstring></soap11env:Fault>`,
			"soap11env:Client.BadThing", NSSOAP11},
		{"prefix declared on faultcode itself",
			`<Fault><faultcode xmlns:c="urn:codes">c:Bad</faultcode><faultstring>x</faultstring></Fault>`,
			"c:Bad", "urn:codes"},
		{"default-namespace Fault, unprefixed faultcode",
			`<Fault xmlns="` + NSSOAP11 + `"><faultcode>XMLAnalysisError.0xc10a004d</faultcode><faultstring>x</faultstring></Fault>`,
			"XMLAnalysisError.0xc10a004d", ""},
		{"undeclared prefix",
			`<soap:Fault xmlns:soap="` + NSSOAP11 + `"><faultcode>SOAP-ENV:Server</faultcode><faultstring>x</faultstring></soap:Fault>`,
			"SOAP-ENV:Server", ""},
		{"redeclared prefix: the innermost wins",
			`<s:Fault xmlns:s="` + NSSOAP12 + `"><s:Code xmlns:s="` + NSSOAP12 + `"><s:Value xmlns:x="` + NSSOAP11 + `">x:Client</s:Value></s:Code></s:Fault>`,
			"x:Client", NSSOAP11},
	}
	for _, tt := range tests {
		ps, err := ProblemsIn(builtin(t), []byte(tt.el), "", nil)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if len(ps) != 1 || ps[0].Code != tt.code || ps[0].CodeNS != tt.ns {
			t.Errorf("%s: got %+v, want Code %q CodeNS %q", tt.name, ps, tt.code, tt.ns)
		}
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		reply string
		want  []string
	}{
		{string(read(t, "dsml/07-msdsml-fault-bad-session-request.response.xml")), []string{
			"SOAP 1.1 fault SOAP:Client ({http://schemas.xmlsoap.org/soap/envelope/}Client): SOAP Invalid Request [Bad Session Request]"}},
		{string(read(t, "dsml/12-dsee62-errorresponse-notattempted.response.xml")), []string{
			"DSML errorResponse notAttempted: 'abandonRequest' is not implemented, abandonID = ''"}},
		{string(read(t, "sqlsoap/08-fault-sessionidisinvalid.response.xml")), []string{
			"SOAP 1.1 fault SOAP-ENV:Client ({http://schemas.xmlsoap.org/soap/envelope/}Client) / sqlsoapfaultcode:SoapHeader / sqlsoapfaultcode:SessionIdIsInvalid at http://schemas.microsoft.com/sqlserver/2004/SOAP: There was an error in the incoming SOAP request packet: Client, SoapHeader, SessionIdIsInvalid"}},
		{`<s:Envelope xmlns:s="` + NSSOAP11 + `"><s:Body><r xmlns="urn:schemas-microsoft-com:xml-analysis:rowset"><Messages xmlns="urn:schemas-microsoft-com:xml-analysis:exception">
			<Error ErrorCode="3238658125" Description="Query (1, 77) The Fiscal hierarchy is used more than once in the Crossjoin function." Source="Microsoft SQL Server 2008 R2 Analysis Services" HelpFile=""/>
			<Error ErrorCode="-1055784777" Description="Signed." Source="Tabular"/>
			<Warning WarningCode="2147483653" Description="Unsigned, high bit."/>
			<Error ErrorCode="mondrian.olap.MondrianException" Description="Java." Source="Mondrian" Help=""/>
			</Messages></r></s:Body></s:Envelope>`, []string{
			"XMLA error 3238658125 (0xC10A004D) from Microsoft SQL Server 2008 R2 Analysis Services: Query (1, 77) The Fiscal hierarchy is used more than once in the Crossjoin function.",
			"XMLA error -1055784777 (0xC11200B7) from Tabular: Signed.",
			"XMLA warning 2147483653 (0x80000005): Unsigned, high bit.",
			"XMLA error mondrian.olap.MondrianException from Mondrian: Java.",
		}},
		{`<soap:Envelope xmlns:soap="` + NSSOAP12 + `"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value><soap:Subcode><soap:value>rpc:BadArguments</soap:value></soap:Subcode></soap:Code><soap:Reason><soap:Text>Processing Error</soap:Text></soap:Reason></soap:Fault></soap:Body></soap:Envelope>`, []string{
			"SOAP 1.2 fault soap:Sender ({http://www.w3.org/2003/05/soap-envelope}Sender) / rpc:BadArguments: Processing Error (lowercase value)"}},
		{`<e:Envelope xmlns:e="urn:x" xmlns:s="http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlResultStream" xmlns:m="http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlMessage"><e:Body><s:SqlMessage><m:Class>16</m:Class><m:LineNumber>3</m:LineNumber><m:Message>Invalid object name 'x'.</m:Message><m:Number>208</m:Number><m:Procedure>p</m:Procedure><m:Server>X</m:Server><m:State>1</m:State></s:SqlMessage></e:Body></e:Envelope>`, []string{
			"SQL Server message 208 (class 16, state 1) on Server=X Procedure=p Line=3: Invalid object name 'x'."}},
	}
	for _, tt := range tests {
		ps := problemsOf(t, []byte(tt.reply))
		var got []string
		for _, p := range ps {
			got = append(got, p.Summary())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Summary:\n got %q\nwant %q", got, tt.want)
		}
	}
}

func TestProblemsInMalformed(t *testing.T) {
	for _, el := range []string{
		``,
		`   `,
		`not xml at all`,
		`<soap:Fault xmlns:soap="` + NSSOAP11 + `"><faultcode>x</faultcode>`,
		`<Fault><faultcode>x</faultstring></Fault>`,
		`<soap:Fault><faultcode>x</faultcode></soap:Fault>`, // prefix not declared
		`<Fault/><Fault/>`,
		`<Messages xmlns="urn:schemas-microsoft-com:xml-analysis:exception"><Error ErrorCode="1" Description="a &bogus; entity"/></Messages>`,
		"<Fault>\x00</Fault>",
	} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("ProblemsIn(%q) panicked: %v", el, r)
				}
			}()
			if ps, err := ProblemsIn(builtin(t), []byte(el), "1.1", nil); err == nil {
				t.Errorf("ProblemsIn(%q) = %+v, want an error", el, ps)
			}
		}()
	}
	if _, err := ProblemsIn(builtin(t), []byte(`<Fault/>`), "1.3", nil); err == nil {
		t.Error("ProblemsIn with version 1.3: no error")
	}
	// Well-formed but not a problem: nothing, and no error.
	for _, el := range []string{
		`<Exception xmlns="urn:schemas-microsoft-com:xml-analysis:exception"/>`,
		`<SqlMessage>a column</SqlMessage>`,
		`<row xmlns="urn:schemas-microsoft-com:xml-analysis:rowset"/>`,
	} {
		if ps, err := ProblemsIn(builtin(t), []byte(el), "", nil); err != nil || len(ps) != 0 {
			t.Errorf("ProblemsIn(%q) = %+v, %v; want nothing", el, ps, err)
		}
	}
}

// SQL Server severities 0–10 are informational (PRINT and the like), 11 and
// up are errors.
func TestSQLMessageSeverity(t *testing.T) {
	const el = `<s:SqlMessage xmlns:s="http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlResultStream" xmlns:m="http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlMessage"><m:Class>%s</m:Class><m:Message>m</m:Message><m:Number>50000</m:Number><m:State>1</m:State></s:SqlMessage>`
	for class, want := range map[string]Severity{"0": SeverityWarning, "10": SeverityWarning, "11": SeverityError, "16": SeverityError, "": SeverityError} {
		ps, err := ProblemsIn(builtin(t), []byte(strings.Replace(el, "%s", class, 1)), "1.1", nil)
		if err != nil || len(ps) != 1 || ps[0].Severity != want {
			t.Errorf("class %q: %+v, %v; want severity %v", class, ps, err, want)
		}
	}
}

// Without the envelope, the Fault's own namespace is what the shape is
// checked against.
func TestMixedInBareFault(t *testing.T) {
	tests := []struct{ el, mixed string }{
		{`<e:Fault xmlns:e="` + NSSOAP12 + `"><faultcode>e:Client</faultcode><faultstring>x</faultstring></e:Fault>`, "1.1-shaped fault in the SOAP 1.2 namespace"},
		{`<e:Fault xmlns:e="` + NSSOAP11 + `"><e:Code><e:Value>e:Client</e:Value></e:Code></e:Fault>`, "1.2-shaped fault in the SOAP 1.1 namespace"},
		{`<e:Fault xmlns:e="` + NSSOAP12 + `"><e:Code><e:Value>e:Sender</e:Value></e:Code></e:Fault>`, ""},
		{`<Fault><faultcode>Client</faultcode></Fault>`, ""},
	}
	for _, tt := range tests {
		ps, err := ProblemsIn(builtin(t), []byte(tt.el), "", nil)
		if err != nil || len(ps) != 1 || ps[0].Mixed != tt.mixed {
			t.Errorf("ProblemsIn(%s) = %+v, %v; want Mixed %q", tt.el, ps, err, tt.mixed)
		}
	}
}
