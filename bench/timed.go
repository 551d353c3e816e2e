package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// timed is one command measured again and again as a whole process.
type timed struct {
	name  string
	cmd   func() *exec.Cmd // nil: skipped or failed, note says why
	note  string
	walls []time.Duration
	rss   int64 // peak RSS, max over the runs
	// withRSS runs it under GNU time for a true peak RSS (see measureRSS);
	// only where the RSS is reported, as GNU time's own start adds to the
	// wall time.
	withRSS bool
}

func (t *timed) ok() bool { return t.cmd != nil && len(t.walls) > 0 }

func (t *timed) median() time.Duration {
	if !t.ok() {
		return 0
	}
	return percentile(t.walls, 50)
}

// span is "min | median | max" of the wall times, as table cells.
func (t *timed) span(unit func(time.Duration) string) string { return span(t.walls, unit) }

func span(ds []time.Duration, unit func(time.Duration) string) string {
	return fmt.Sprintf("%s | %s | %s", unit(slices.Min(ds)), unit(percentile(ds, 50)), unit(slices.Max(ds)))
}

// interleave runs every tool once a round, rounds times, starting each round
// one tool further along, so that load drift and any order effect (a warm
// cache left by the tool before) hit every tool alike.
func (b *bench) interleave(what string, tools []*timed, rounds int) {
	for r := range rounds {
		if b.ctx.Err() != nil {
			return
		}
		if rounds <= 10 || r%10 == 0 {
			logf("%s: round %d/%d", what, r+1, rounds)
		}
		for i := range tools {
			t := tools[(r+i)%len(tools)]
			if t.cmd == nil {
				continue
			}
			var wall time.Duration
			var rss int64
			var err error
			if t.withRSS {
				wall, rss, _, err = measureRSS(t.cmd())
			} else {
				var ps *os.ProcessState
				wall, ps, err = measure(t.cmd())
				rss = peakRSS(ps)
			}
			if err != nil {
				b.toolFailed("%v", err)
				t.cmd, t.note = nil, "failed, see stderr"
				continue
			}
			t.walls = append(t.walls, wall)
			t.rss = max(t.rss, rss)
		}
	}
}

// measure runs cmd with stdout to /dev/null (unless set) and returns its
// wall time and its state, with its rusage.
func measure(cmd *exec.Cmd) (time.Duration, *os.ProcessState, error) {
	if cmd.Stdout == nil {
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return 0, nil, err
		}
		defer null.Close()
		cmd.Stdout = null
	}
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return wall, nil, fmt.Errorf("%s: %v: %.500s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return wall, cmd.ProcessState, nil
}

// percentile returns the nearest-rank p-th percentile of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100 // ceil(n*p/100), 1-based
	return s[max(i, 1)-1]
}

func ratio(d, ref time.Duration) string {
	if ref <= 0 || d <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", d.Seconds()/ref.Seconds())
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", d.Seconds()*1000) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// measureRSS is measure with the command's true peak RSS, in bytes: it
// runs under GNU time (/usr/bin/time -f %M) when that is installed. Read
// from this process, a child's rusage would show this process's own peak
// instead whenever that is higher: Linux keeps the high-water mark of the
// memory a process had before exec, and Go starts children with
// CLONE_VM, so before exec they have the bench's memory. GNU time is a
// small C program, so what it reports is the child's. Without it, the
// figure is an upper bound (the larger of the two).
//
// The ProcessState returned is GNU time's when it ran, whose CPU times
// include the command's (a waited-for child's count in its parent's).
func measureRSS(cmd *exec.Cmd) (time.Duration, int64, *os.ProcessState, error) {
	gnuTime, err := exec.LookPath("time")
	if err != nil {
		wall, ps, err := measure(cmd)
		return wall, peakRSS(ps), ps, err
	}
	out, err := os.CreateTemp("", "bench-rss-*")
	if err != nil {
		return 0, 0, nil, err
	}
	out.Close()
	defer os.Remove(out.Name())
	wrapped := exec.Command(gnuTime, append([]string{"-f", "%M", "-o", out.Name(), cmd.Path}, cmd.Args[1:]...)...)
	wrapped.Env, wrapped.Dir, wrapped.Stdin, wrapped.Stdout, wrapped.Stderr = cmd.Env, cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr
	wall, ps, err := measure(wrapped)
	if err != nil {
		return wall, 0, nil, err
	}
	raw, err := os.ReadFile(out.Name())
	if err != nil {
		return wall, 0, nil, err
	}
	fields := strings.Fields(string(raw))
	if len(fields) == 0 {
		return wall, 0, nil, fmt.Errorf("%s: no RSS in %q", gnuTime, raw)
	}
	kb, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
	if err != nil {
		return wall, 0, nil, fmt.Errorf("%s: RSS %q: %v", gnuTime, raw, err)
	}
	return wall, kb * 1024, ps, nil
}
