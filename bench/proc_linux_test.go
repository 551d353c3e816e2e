package main

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func selfCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU must see the CPU time a live process spends, as its own
// rusage counts it: here, this process's.
func TestProcessCPU(t *testing.T) {
	before, ok := processCPU(os.Getpid())
	if !ok {
		t.Fatal("processCPU: not ok")
	}
	start := selfCPU(t)
	for selfCPU(t)-start < 200*time.Millisecond {
		// spin: CPU time, not wall time, so that load does not matter
	}
	after, ok := processCPU(os.Getpid())
	if !ok {
		t.Fatal("processCPU: not ok")
	}
	// The counter's resolution is 10 ms; the test's own start-up and the
	// other goroutines add a little.
	if got := after - before; got < 180*time.Millisecond || got > 400*time.Millisecond {
		t.Errorf("processCPU grew by %v over 200ms of CPU, want 180ms to 400ms", got)
	}
}

func TestProcessPeakRSS(t *testing.T) {
	rss, ok := processPeakRSS(os.Getpid())
	if !ok || rss < 1<<20 || rss > 8<<30 {
		t.Errorf("processPeakRSS(self) = %d, %v", rss, ok)
	}
	if _, ok := processPeakRSS(1 << 30); ok {
		t.Error("processPeakRSS of no process succeeded")
	}
}
