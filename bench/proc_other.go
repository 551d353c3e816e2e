//go:build !linux

package main

import "time"

// processCPU is not measured here: only Linux tells a live process's CPU
// time to another process simply (/proc); the table shows n/a.
func processCPU(int) (time.Duration, bool) { return 0, false }

// processPeakRSS is not read here: the server's rusage stands in.
func processPeakRSS(int) (int64, bool) { return 0, false }
