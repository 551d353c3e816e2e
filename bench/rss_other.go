//go:build !linux && !darwin

package main

import "os"

// peakRSS is not measured here (Windows has no rusage); the table shows 0.
func peakRSS(*os.ProcessState) int64 { return 0 }
