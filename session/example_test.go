package session_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/refserver"
	"github.com/soapsess/soapsess/session"
	"github.com/soapsess/soapsess/state"
)

// An XML for Analysis session against the reference server: begin, one
// request inside it, end. No command line involved.
func Example() {
	srv := httptest.NewServer(refserver.New(refserver.Options{}))
	defer srv.Close()
	dir, err := os.MkdirTemp("", "soapsess-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := state.Open(filepath.Join(dir, "state"))
	if err != nil {
		log.Fatal(err)
	}
	xmla, err := envelope.Builtin("xmla")
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	m := &session.Manager{Store: store}

	begun, err := m.Begin(ctx, session.BeginOptions{Name: "cube", URL: srv.URL + "/xmla", Dialect: xmla})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("began:", begun.Reply.Reason, begun.Session.State.ID != "")

	s, err := m.Open("cube")
	if err != nil {
		log.Fatal(err)
	}
	discover := `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>DISCOVER_DATASOURCES</RequestType><Restrictions/><Properties/></Discover>`
	res, err := s.Send(ctx, session.Request{
		Body:  session.Body{R: strings.NewReader(discover)},
		Reply: session.Sinks{Keep: true},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sent:", res.Reply.Reason, strings.Contains(string(res.Kept), "<DataSourceName>soapsess</DataSourceName>"))

	if _, err := s.End(ctx, session.Request{}); err != nil {
		log.Fatal(err)
	}
	_, err = m.Open("cube")
	var ended *session.EndedError
	fmt.Println("ended:", errors.As(err, &ended))
	// Output:
	// began: 200 OK true
	// sent: 200 OK true
	// ended: true
}
