package cmd

import (
	"bytes"
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
