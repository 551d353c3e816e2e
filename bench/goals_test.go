package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// good is a run in which every goal is met, each with room to spare or at
// its limit exactly.
func good() figures {
	return figures{
		startupRun: true,
		curl:       20 * time.Millisecond,
		hello:      6 * time.Millisecond,
		send:       12 * time.Millisecond, // 0.6× curl, 2× hello: both at the limit
		status:     9 * time.Millisecond,  // 1.5× hello, at the limit

		fmtRun:      true,
		fmtWall:     700 * time.Millisecond,
		streamWall:  700 * time.Millisecond, // 1.0×, at the limit
		fmtRSS:      64 * mb,                // at the limit
		fmtCompared: true,
		fmtSame:     true,
		fmtDiff:     "identical",

		pagingRun:    true,
		smallEntries: 10_000,
		largeEntries: 100_000,
		smallRSS:     19 * mb,
		largeRSS:     23 * mb, // +4 MB, at the limit
		extraOutput:  12 * mb,
	}
}

func TestEvaluate(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		change func(*figures)
		want   []outcome // send/curl, send/hello, status, fmt wall, fmt RSS, fmt output, paging
		missed bool
	}{
		{"all at their limits", func(*figures) {}, []outcome{pass, pass, pass, pass, pass, pass, pass}, false},
		{"send just over 0.6× curl", func(f *figures) { f.send = 12*ms + 1 }, []outcome{fail, fail, pass, pass, pass, pass, pass}, true},
		{"send fine against curl, slow against hello", func(f *figures) { f.curl, f.send = 40*ms, 13*ms },
			[]outcome{pass, fail, pass, pass, pass, pass, pass}, true},
		{"status 1.6× hello", func(f *figures) { f.status = 9600 * time.Microsecond }, []outcome{pass, pass, fail, pass, pass, pass, pass}, true},
		{"fmt slower than the stream parse", func(f *figures) { f.fmtWall = 710 * ms }, []outcome{pass, pass, pass, fail, pass, pass, pass}, true},
		{"fmt RSS 65 MB", func(f *figures) { f.fmtRSS = 65 * mb }, []outcome{pass, pass, pass, pass, fail, pass, pass}, true},
		{"fmt output differs", func(f *figures) { f.fmtSame = false }, []outcome{pass, pass, pass, pass, pass, fail, pass}, true},
		{"paging client grows by 5 MB", func(f *figures) { f.largeRSS = 24 * mb }, []outcome{pass, pass, pass, pass, pass, pass, fail}, true},
		{"paging client smaller at the large count", func(f *figures) { f.largeRSS = 15 * mb }, []outcome{pass, pass, pass, pass, pass, pass, pass}, false},
		{"paging counts too close to tell", func(f *figures) { f.extraOutput = 7 * mb }, []outcome{pass, pass, pass, pass, pass, pass, unmeasured}, true},
		{"curl skipped", func(f *figures) { f.curl = 0 }, []outcome{unmeasured, pass, pass, pass, pass, pass, pass}, true},
		{"xmllint skipped", func(f *figures) { f.streamWall, f.fmtCompared, f.fmtSame = 0, false, false },
			[]outcome{pass, pass, pass, unmeasured, pass, unmeasured, pass}, true},
		{"RSS not measurable", func(f *figures) { f.fmtRSS, f.smallRSS, f.largeRSS = 0, 0, 0 },
			[]outcome{pass, pass, pass, pass, unmeasured, pass, unmeasured}, true},
		{"start-up only", func(f *figures) { f.fmtRun, f.pagingRun = false, false },
			[]outcome{pass, pass, pass, notRun, notRun, notRun, notRun}, false},
		{"start-up only, send missed", func(f *figures) { f.fmtRun, f.pagingRun, f.send = false, false, 30*ms },
			[]outcome{fail, fail, pass, notRun, notRun, notRun, notRun}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := good()
			tt.change(&f)
			vs := evaluate(f)
			if len(vs) != len(tt.want) {
				t.Fatalf("%d verdicts, want %d: %+v", len(vs), len(tt.want), vs)
			}
			for i, v := range vs {
				if v.result != tt.want[i] {
					t.Errorf("%s: %v (%s), want %v", v.goal, v.result, v.detail, tt.want[i])
				}
			}
			if got := missed(vs); got != tt.missed {
				t.Errorf("missed = %v, want %v", got, tt.missed)
			}
		})
	}
}

// TestFloorsInTheDetail checks that a start-up goal's line says whether its
// floor is within the goal's limit, over it, or over it by less than the
// noise between runs, and that the floor never changes the verdict itself.
func TestFloorsInTheDetail(t *testing.T) {
	f := good()
	f.status = 12 * time.Millisecond         // 2× hello: missed
	f.statusFloor = 10200 * time.Microsecond // 1.7× hello: over 1.5× by more than the noise
	f.sendFloor = 10 * time.Millisecond      // 0.5× curl, 1.67× hello: within both
	vs := evaluate(f)
	want := []struct {
		result outcome
		detail string
	}{
		{pass, "0.60× (send 12.0 ms, curl 20.0 ms); its floor (the least send): 0.50×, within the limit"},
		{pass, "2.00× (send 12.0 ms, hello 6.0 ms); its floor (the least send): 1.67×, within the limit"},
		{fail, "2.00× (status 12.0 ms, hello 6.0 ms); its floor (the least status): 1.70×, " +
			"over the limit: out of reach while soapsess links these libraries"},
	}
	for i, w := range want {
		if vs[i].result != w.result || vs[i].detail != w.detail {
			t.Errorf("%s:\n got %v: %s\nwant %v: %s", vs[i].goal, vs[i].result, vs[i].detail, w.result, w.detail)
		}
	}
	f.statusFloor = 9600 * time.Microsecond // 1.6× hello: over 1.5×, but by less than 10%
	if d := evaluate(f)[2].detail; !strings.HasSuffix(d, ": 1.60×, over the limit, by less than the noise between runs") {
		t.Errorf("status detail with a floor just over the limit: %s", d)
	}
	f.statusFloor = 0 // not measured: nothing said of it
	if d := evaluate(f)[2].detail; strings.Contains(d, "floor") {
		t.Errorf("status detail without a floor: %s", d)
	}
}

// TestLowest: a goal's floor is the lowest median among the floors that
// were measured; one that failed (no runs) does not count.
func TestLowest(t *testing.T) {
	run := func(ms ...int) *timed {
		t := &timed{cmd: func() *exec.Cmd { return nil }}
		for _, m := range ms {
			t.walls = append(t.walls, time.Duration(m)*time.Millisecond)
		}
		return t
	}
	failed := &timed{note: "failed, see stderr"}
	if got := lowest([]*timed{run(5, 6, 7), failed, run(4, 9, 9)}); got != 6*time.Millisecond { // medians 6 and 9
		t.Errorf("lowest = %v, want 6ms", got)
	}
	if got := lowest([]*timed{run(5, 6, 7), run(1, 2, 3)}); got != 2*time.Millisecond {
		t.Errorf("lowest = %v, want 2ms", got)
	}
	if got := lowest([]*timed{failed}); got != 0 {
		t.Errorf("lowest of failed floors = %v, want 0", got)
	}
	if got := lowest(nil); got != 0 {
		t.Errorf("lowest of none = %v, want 0", got)
	}
}

// TestFloorsBuild builds every floor program as the bench does (go build
// -overlay in this module, with README's tags), so that a mistake in their
// sources shows here and not only in a full bench run.
func TestFloorsBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the floor programs")
	}
	b := &bench{ctx: context.Background(), tmp: t.TempDir()}
	floors, err := b.floors(&build{src: "..", tags: soapsessTags})
	if err != nil {
		t.Fatal(err)
	}
	if len(floors) != len(floorMains) {
		t.Fatalf("%d floors built, want %d", len(floors), len(floorMains))
	}
	for _, fl := range floors {
		if fl.size == 0 || fl.inits == 0 {
			t.Errorf("%s: size %d, %d package inits", fl.label, fl.size, fl.inits)
		}
	}
}

func TestSameParts(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`<root a="1" xmlns="u">` + "\n", `<root xmlns="u" a="1">` + "\n", true},
		{`  <e xmlns:x="v" x:a="1"/>`, `  <e x:a="1" xmlns:x="v"/>`, true},
		{`<root a="1" xmlns="u">`, `<root a="2" xmlns="u">`, false},
		{`<a>w x y z</a>`, `<a>w y x z</a>`, true}, // a limit of the check: inner words of a text swapped pass too
		{`<a b="1">`, `<a b="1"/>`, false},
	}
	for _, tt := range tests {
		if got := sameParts([]byte(tt.a), []byte(tt.b)); got != tt.want {
			t.Errorf("sameParts(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	d := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n))
		}
		return ds
	}
	tests := []struct {
		ds   []time.Duration
		p    int
		want time.Duration
	}{
		{d(5, 1, 3), 50, 3},
		{d(4, 1, 3, 2), 50, 2}, // nearest rank: the lower middle of an even count
		{d(7), 50, 7},
		{d(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 90, 9},
		{d(2, 1), 100, 2},
	}
	for _, tt := range tests {
		if got := percentile(tt.ds, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %d) = %v, want %v", tt.ds, tt.p, got, tt.want)
		}
	}
}
