//go:build linux

package main

import (
	"os"
	"os/exec"
	"testing"
)

// A child started from a process with a large heap reports that heap as
// its own peak RSS through its rusage; under GNU time it reports its own.
func TestMeasureRSSIsTheChilds(t *testing.T) {
	if _, err := exec.LookPath("time"); err != nil {
		if os.Getenv("SOAPSESS_REQUIRE_PEERS") != "" {
			t.Fatal("GNU time is not installed (.ci/run installs the time package)")
		}
		t.Skip("GNU time is not installed")
	}
	ballast := make([]byte, 300<<20)
	for i := range ballast {
		ballast[i] = 1 // touched, so resident
	}
	_, direct, _ := measure(exec.Command("true"))
	_, rss, ps, err := measureRSS(exec.Command("true"))
	if err != nil {
		t.Fatal(err)
	}
	if got := peakRSS(direct); got < 300<<20 {
		t.Logf("rusage of a direct child: %d MB (this kernel does not pass the parent's peak on)", got>>20)
	}
	if rss <= 0 || rss > 32<<20 {
		t.Errorf("measureRSS(true) = %d bytes; want its own few MB, not this process's %d MB", rss, len(ballast)>>20)
	}
	if ps == nil || !ps.Success() {
		t.Errorf("measureRSS gave no process state of a successful run: %v", ps)
	}
	ballast[0] = 2 // kept alive until here
}
