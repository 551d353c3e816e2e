package reply

import (
	"errors"
	"strings"
	"testing"
)

// A server's own convention, declared as data: one problem per item, the
// severity from an XPath, the kind of warnings told apart, only where the
// declaration says.
func TestUserRule(t *testing.T) {
	ns := map[string]string{"a": "urn:acme"}
	rules := []ErrorRule{}
	for _, d := range []ErrorDecl{{
		Kind: "Acme error", WarningKind: "Acme notice",
		Element: QNames{"a:problems"}, Parent: "result", InBody: true,
		Each:     "a:item",
		Severity: "not(@level = 'info')",
		Code:     "@code",
		Message:  "a:text",
		Detail:   "a:more",
		Source:   "concat('line ', @line)",
	}, {
		Kind: "Acme status", Element: QNames{"status"}, Severity: "warning",
		Code: "number(@n) * 2", Message: "string(.)", Detail: "@n > 1",
	}} {
		r, err := NewErrorRule(d, ns)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	const doc = `<s:Envelope xmlns:s="` + NSSOAP11 + `"><s:Header><result><problems xmlns="urn:acme"><item code="H"/></problems></result></s:Header>
	<s:Body><r xmlns="urn:acme"><result>
	  <problems><item code="E1" line="3"><text>  broken
	    thing </text><more><k>why</k><v>because</v></more></item><item code="I1" level="info"><text>fyi</text></item><other/></problems>
	</result><problems><item code="misplaced"/></problems>
	<status xmlns="" n="21">  still   going </status></r></s:Body></s:Envelope>`
	st, err := Stream(strings.NewReader(doc), StreamOptions{RequireSOAP: true, Errors: rules})
	if err != nil {
		t.Fatal(err)
	}
	checkProblems(t, "user rules", st.Problems,
		want{Kind: "Acme error", Code: "E1", Message: "broken thing", Detail: "why because", Source: "line 3"},
		want{Kind: "Acme notice", Code: "I1", Message: "fyi", Source: "line", Warning: true},
		want{Kind: "Acme status", Code: "42", Message: "still going", Detail: "true", Warning: true},
	)
	if !anyError(st.Problems) {
		t.Error("Errors() = false")
	}
	var sums []string
	for _, p := range st.Problems {
		sums = append(sums, p.Summary())
	}
	if got, want := strings.Join(sums, "\n"), "Acme error E1 from line 3: broken thing [why because]\nAcme notice I1 from line: fyi\nAcme status 42: still going [true]"; got != want {
		t.Errorf("summaries:\n%s\nwant\n%s", got, want)
	}
	// Without the rules, only faults count.
	if st, err := Stream(strings.NewReader(doc), StreamOptions{RequireSOAP: true}); err != nil || len(st.Problems) != 0 {
		t.Errorf("without rules: %+v, %v", st, err)
	}
}

// A fault's detail holding an element a rule reads reports it as a problem
// of its own, left out of the fault's detail text.
func TestUserRuleInFaultDetail(t *testing.T) {
	r, err := NewErrorRule(ErrorDecl{Kind: "Acme error", Element: QNames{"a:error"}, InBody: true, Code: "@code", Message: "."},
		map[string]string{"a": "urn:acme"})
	if err != nil {
		t.Fatal(err)
	}
	const doc = `<s:Envelope xmlns:s="` + NSSOAP11 + `"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>failed</faultstring>
	  <detail>context <e:error xmlns:e="urn:acme" code="7">disk full</e:error></detail></s:Fault></s:Body></s:Envelope>`
	st, err := Stream(strings.NewReader(doc), StreamOptions{Errors: []ErrorRule{r}})
	if err != nil {
		t.Fatal(err)
	}
	checkProblems(t, "fault detail", st.Problems,
		want{Kind: "SOAP 1.1 fault", Code: "s:Server", CodeNS: NSSOAP11, Message: "failed", Detail: "context"},
		want{Kind: "Acme error", Code: "7", Message: "disk full"})
}

func TestNewErrorRuleRefuses(t *testing.T) {
	ns := map[string]string{"a": "urn:acme"}
	ok := ErrorDecl{Kind: "k", Element: QNames{"a:e"}}
	tests := []struct {
		change func(*ErrorDecl)
		key    string
		msg    string
	}{
		{func(d *ErrorDecl) { d.Kind = " " }, "kind", "required"},
		{func(d *ErrorDecl) { d.Element = nil }, "element", "required"},
		{func(d *ErrorDecl) { d.Element = QNames{"b:e"} }, "element", `prefix "b" is not in [namespaces]`},
		{func(d *ErrorDecl) { d.Element = QNames{"a:e f"} }, "element", "not a QName"},
		{func(d *ErrorDecl) { d.Element = QNames{"a:"} }, "element", "not a QName"},
		{func(d *ErrorDecl) { d.Element = QNames{"Fault"} }, "element", "SOAP fault"},
		{func(d *ErrorDecl) { d.Parent = "a:root" }, "parent", "not a local name"},
		{func(d *ErrorDecl) { d.Each = "a:item[" }, "each", "bad XPath"},
		{func(d *ErrorDecl) { d.Each = "count(a:item)" }, "each", "selects no elements"},
		{func(d *ErrorDecl) { d.Severity = "fatal(" }, "severity", "bad XPath"},
		{func(d *ErrorDecl) { d.Code = "b:code" }, "code", "bad XPath"},
		{func(d *ErrorDecl) { d.Message = "nosuch()" }, "message", "bad XPath"},
		{func(d *ErrorDecl) { d.Detail = "((" }, "detail", "bad XPath"},
		{func(d *ErrorDecl) { d.Source = "@" }, "source", "bad XPath"},
	}
	for _, tt := range tests {
		d := ok
		tt.change(&d)
		_, err := NewErrorRule(d, ns)
		var de *DeclError
		if !errors.As(err, &de) || de.Key != tt.key || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%+v: %v; want a DeclError for %s saying %q", d, err, tt.key, tt.msg)
		}
	}
	if _, err := NewErrorRule(ok, ns); err != nil {
		t.Error(err)
	}
}

func anyError(ps []Problem) bool {
	for _, p := range ps {
		if p.Severity == SeverityError {
			return true
		}
	}
	return false
}
