package reply

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/soapsess/soapsess/xmltok"
)

// A reply whose input ends before the document does, with elements open or
// inside a token, says it is incomplete (xmltok.ErrIncomplete), so that a
// caller whose connection may have closed early can call it a cut; with
// every reading option, before the root and after it. One that is whole
// and malformed does not.
func TestIncompleteReply(t *testing.T) {
	const whole = `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:S xmlns:h="urn:h" id="1"/></s:Header><s:Body><r xmlns="urn:r"><v>text</v></r></s:Body></s:Envelope>`
	for _, at := range []string{`<?xml vers`, `<s:Env`, `<s:Header><h:S xmlns:h="ur`, `<v>te`, `<v>text</v>`, `</s:Body>`, `</s:Envelope`} {
		cut := whole[:strings.Index(whole, at)+len(at)]
		for _, opt := range []StreamOptions{{}, {RequireSOAP: true, NotSOAP: &bytes.Buffer{}}, {Async: true}} {
			_, err := Stream(strings.NewReader(cut), opt)
			if !errors.Is(err, xmltok.ErrIncomplete) {
				t.Errorf("cut after %q (RequireSOAP %v, Async %v): %v; want xmltok.ErrIncomplete", at, opt.RequireSOAP, opt.Async, err)
			}
		}
	}
	if _, err := Stream(strings.NewReader(`<a><b>x</b>`), StreamOptions{}); err == nil || err.Error() != "the document ends with <a> still open" {
		t.Errorf("elements left open: %v", err)
	}
	for _, bad := range []string{whole + "<more/>", strings.Replace(whole, "</v>", "</w>", 1), ""} {
		if _, err := Stream(strings.NewReader(bad), StreamOptions{}); err == nil || errors.Is(err, xmltok.ErrIncomplete) {
			t.Errorf("%.40q...: %v; want an error that is not ErrIncomplete", bad, err)
		}
	}
}
