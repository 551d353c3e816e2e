package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/soapsess/soapsess/transport"
)

// cutReply answers with the first n bytes of a SOAP reply, framed as
// framing says ("length": with the whole Content-Length; "close": HTTP/1.0
// with none, so the body ends where the connection closes), and closes the
// connection.
func cutReply(framing string, n int) http.HandlerFunc {
	const doc = `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><DiscoverResponse xmlns="urn:schemas-microsoft-com:xml-analysis"><return><row><v>some text</v></row></return></DiscoverResponse></s:Body></s:Envelope>`
	return func(w http.ResponseWriter, r *http.Request) {
		conn, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		if framing == "close" {
			fmt.Fprintf(bw, "HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\n")
		} else {
			fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n", len(doc))
		}
		bw.WriteString(doc[:min(n, len(doc))])
		bw.Flush()
	}
}

// A reply cut off is a *TruncatedError holding the transport's error, with
// the bytes that came, and the request is not counted as answered: inside
// a tag, inside text, between tags, a byte short; with a Content-Length,
// or with only the connection's end to end the body.
func TestTruncatedReplyIsNotAnAnswer(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	for _, framing := range []string{"length", "close"} {
		for _, n := range []int{1, 30, 120, 153, 160, 171, 200, 221} {
			f.h.set(cutReply(framing, n))
			_, err := s.Send(context.Background(), Request{Body: body(discover)})
			var tr *TruncatedError
			var te *transport.Error
			if !errors.As(err, &tr) || !errors.As(err, &te) || !te.Reached {
				t.Fatalf("%s, cut at %d: %v; want a TruncatedError wrapping a transport.Error", framing, n, err)
			}
			if tr.Received != int64(n) || !strings.Contains(err.Error(), fmt.Sprintf("the connection closed %d bytes into the reply", n)) {
				t.Errorf("%s, cut at %d: %q, Received %d", framing, n, err, tr.Received)
			}
			if got := f.requests(); got != 1 {
				t.Errorf("%s, cut at %d: %d requests counted; want the begin alone", framing, n, got)
			}
		}
	}
}
