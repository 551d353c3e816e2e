package transport

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// --max-time running out while the body streams names itself, not the
// closed connection it leaves behind.
func TestMaxTimeDuringTheBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		if r.URL.Path == "/length" { // read through another path of net/http's
			w.Header().Set("Content-Length", "50")
		}
		w.WriteHeader(http.StatusOK)
		for i := 0; i < 50; i++ { // a byte every 100 ms: 5 s in all
			w.Write([]byte("x"))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}))
	defer srv.Close()
	for _, tt := range []struct {
		path string
		gz   bool
	}{{"/chunked", false}, {"/length", false}, {"/length", true}} {
		path, gz := tt.path, tt.gz
		c := client(t, Options{MaxTime: 500 * time.Millisecond})
		resp, err := c.Do(post(t, srv.URL+path, "<e/>"))
		if err != nil {
			t.Fatal(err)
		}
		rb := resp.Body.(*replyBody)
		rb.gzip = gz // a gzip reader over the raw body fails the same way
		_, err = io.ReadAll(resp.Body)
		// A reader that reads on after an error (the XML lexer) gets the
		// same error again, not the connection the timeout closed.
		_, again := resp.Body.Read(make([]byte, 10))
		resp.Body.Close()
		for _, err := range []error{err, again} {
			var te *Error
			if !errors.As(err, &te) || !te.Reached || !errors.Is(err, ErrMaxTime) || strings.Contains(err.Error(), "closed network connection") {
				t.Errorf("%s, gzip %v: %v; want an *Error wrapping ErrMaxTime", path, gz, err)
			}
		}
	}
}
