package cmd

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// manyElements is a document of n empty elements, the most elements a
// byte can hold: the worst case for a tree (issue 15: 16 MiB of them took
// 1.76 GB with --xpath).
func manyElements(n int) []byte {
	var b bytes.Buffer
	b.Grow(n*4 + 64)
	b.WriteString(`<root xmlns="urn:x">`)
	for range n {
		b.WriteString("<a/>")
	}
	b.WriteString(`</root>`)
	return b.Bytes()
}

// peakHeap runs f and returns the most heap in use while it ran, above
// what was in use before.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-stopped
	return peak.Load()
}

// fmt --xpath over 32 MiB of elements holds next to nothing: the count is
// read as the document streams.
func TestXPathStreamsInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 32 MiB document")
	}
	const n = 8 << 20
	file := filepath.Join(t.TempDir(), "many.xml")
	if err := os.WriteFile(file, manyElements(n), 0o644); err != nil {
		t.Fatal(err)
	}
	var out string
	peak := peakHeap(func() {
		out = must(t, 0, t.TempDir(), "", "fmt", "--xpath", "count(//a)", "--max-tree", "1M", file)
	})
	if strings.TrimSpace(out) != "8388608" {
		t.Errorf("count(//a) = %q", out)
	}
	// The async lexer's batches and the read buffers take a few MiB; a
	// tree of this document, 2 GB.
	if peak > 64<<20 {
		t.Errorf("fmt --xpath count(//a) over 32 MiB took %d MiB of heap", peak>>20)
	}
	t.Logf("peak heap %.1f MiB", float64(peak)/(1<<20))
}

// send --xpath over a reply of 80 MiB of elements, sent gzipped (a few
// hundred KB on the wire), holds next to nothing either: the reply is read
// as it arrives, never kept whole (it used to be, up to 64 MiB, and then
// parsed twice into a tree).
func TestXPathSendStreamsInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends an 80 MiB reply")
	}
	const n = 20 << 20
	envelope := func(body []byte) []byte {
		return append(append([]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>`+
			`<Session xmlns="urn:schemas-microsoft-com:xml-analysis" SessionId="S-1"/></soap:Header><soap:Body>`), body...),
			`</soap:Body></soap:Envelope>`...)
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	zw.Write(envelope(manyElements(n)))
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/xml")
		if bytes.Contains(req, []byte("BeginSession")) {
			w.Write(envelope(nil))
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(z.Bytes())
	}))
	defer srv.Close()
	state := filepath.Join(t.TempDir(), "state")
	must(t, 0, state, "", "begin", "--url", srv.URL, "--dialect", "xmla")
	var out string
	peak := peakHeap(func() {
		out = must(t, 0, state, discoverBody, "send", "--xpath", "count(//a)", "-")
	})
	if strings.TrimSpace(out) != "20971520" {
		t.Errorf("count(//a) = %q", out)
	}
	if peak > 64<<20 {
		t.Errorf("send --xpath count(//a) over 80 MiB took %d MiB of heap", peak>>20)
	}
	t.Logf("peak heap %.1f MiB", float64(peak)/(1<<20))
}
