package envelope

import "testing"

// A body with a character XML 1.0 forbids, raw or as a reference, is
// refused before anything is sent (a server's parser would refuse it, and
// soapsess could not read back an envelope holding one).
func TestBodyCharactersXMLAllows(t *testing.T) {
	for _, bad := range []string{
		"<a>\x1a</a>", "<a>\uFFFE</a>", "<a>&#0;</a>", "<a>&#x1A;</a>", `<a x="` + "\x01" + `"/>`,
		"<a><![CDATA[\x02]]></a>", "<a>&#xD800;</a>", "<a>&#x110000;</a>", "<a>&#99999999999;</a>",
	} {
		if _, err := ParseBody([]byte(bad)); err == nil {
			t.Errorf("%q was taken", bad)
		}
	}
	for _, good := range []string{"<a>&#x9;&#xA;&#xD;&#x1F600;\U0001F600\uFFFD</a>", "<a x=\"&#32;\t\"/>"} {
		if _, err := ParseBody([]byte(good)); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
}
