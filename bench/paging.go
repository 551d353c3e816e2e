package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// searchBody is a DSML search of every user the reference server holds under
// cn=Users (its --dsml-entries), asking for one attribute.
const searchBody = `<searchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core" dn="cn=Users,dc=example,dc=com" scope="singleLevel" derefAliases="neverDerefAliases">
  <filter><present name="objectClass"/></filter>
  <attributes><attribute name="cn"/></attributes>
</searchRequest>
`

type pagingRow struct {
	entries   int
	srv       *server
	session   string
	walls     []time.Duration
	clientCPU []time.Duration // user+system, from the client's rusage
	serverCPU []time.Duration // the server's CPU over the same run (Linux)
	rss       int64           // client peak RSS, max over the runs
	serverRSS int64           // server peak RSS, from its rusage at the end
	outBytes  int64
	failed    string
}

func (p *pagingRow) ok() bool { return p.failed == "" && len(p.walls) > 0 }

// paging runs `soapsess send --all-pages` through every entry of a DSML
// server holding each of counts entries, interleaved, runs times. Each count
// has its own server process, so that its CPU time over a run is the
// server's share of the work.
func (b *bench) paging(counts []int, pageSize, runs int) ([]*pagingRow, error) {
	cur := b.builds[0]
	search := filepath.Join(b.tmp, "search.xml")
	if err := os.WriteFile(search, []byte(searchBody), 0o600); err != nil {
		return nil, err
	}
	var rows []*pagingRow
	defer func() {
		for _, r := range rows {
			if out, err := b.ss(cur, "--session", r.session, "end").CombinedOutput(); err != nil {
				b.toolFailed("soapsess end: %v: %s", err, out)
			}
			hwm, ok := processPeakRSS(r.srv.cmd.Process.Pid) // before it exits
			r.serverRSS = peakRSS(r.srv.stop())
			if ok {
				r.serverRSS = hwm
			}
		}
	}()
	for _, n := range counts {
		srv, err := b.startServer(cur.bin, fmt.Sprintf("dsml-server-%d", n), "--dsml-entries", strconv.Itoa(n))
		if err != nil {
			return rows, err
		}
		r := &pagingRow{entries: n, srv: srv, session: fmt.Sprintf("paging%d", n)}
		if out, err := b.ss(cur, "--session", r.session, "begin", "--url", srv.base+"/dsml", "--dialect", "dsml").CombinedOutput(); err != nil {
			srv.stop()
			return rows, fmt.Errorf("soapsess begin (DSML, %d entries): %v: %s", n, err, out)
		}
		rows = append(rows, r)
	}
	logf("paging: %d runs of %v entries, page size %d", runs, counts, pageSize)
	for run := range runs {
		for i := range rows {
			r := rows[(run+i)%len(rows)]
			if r.failed != "" || b.ctx.Err() != nil {
				continue
			}
			logf("paging: run %d/%d: %d entries", run+1, runs, r.entries)
			out := filepath.Join(b.tmp, fmt.Sprintf("paged-%d.xml", r.entries))
			f, err := os.Create(out)
			if err != nil {
				return rows, err
			}
			cmd := b.ss(cur, "--session", r.session, "send", "--all-pages", "--page-size", strconv.Itoa(pageSize), search)
			cmd.Stdout = f
			before, okBefore := r.srv.cpu()
			wall, rss, ps, err := measureRSS(cmd)
			after, okAfter := r.srv.cpu()
			f.Close()
			if err != nil {
				b.toolFailed("%v", err)
				r.failed = "failed, see stderr"
				continue
			}
			// The output must hold every entry, or the figures mean nothing.
			data, err := os.ReadFile(out)
			if err != nil {
				return rows, err
			}
			if got := bytes.Count(data, []byte("<searchResultEntry ")); got != r.entries {
				b.toolFailed("send --all-pages: %d entries in the output, want %d", got, r.entries)
				r.failed = fmt.Sprintf("failed: %d entries, want %d", got, r.entries)
				continue
			}
			r.outBytes = int64(len(data))
			os.Remove(out)
			r.walls = append(r.walls, wall)
			r.clientCPU = append(r.clientCPU, ps.UserTime()+ps.SystemTime())
			r.rss = max(r.rss, rss)
			if okBefore && okAfter {
				r.serverCPU = append(r.serverCPU, after-before)
			}
		}
	}
	return rows, nil
}

func printPaging(rows []*pagingRow, pageSize, runs int) {
	fmt.Printf("`soapsess send --all-pages --page-size %d` of a DSML search, stdout to a file, against `soapsess serve --dsml-entries N` "+
		"(a process of its own), %s; CPU is user+system, the server's over the same run:\n\n", pageSize, plural(runs, "interleaved run"))
	fmt.Println("| entries | min | median | max | entries/s (median) | client CPU | server CPU | client peak RSS (max) | server peak RSS | output |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		if !r.ok() {
			fmt.Printf("| %d | %s | | | | | | | | |\n", r.entries, r.failed)
			continue
		}
		server := "n/a"
		if len(r.serverCPU) > 0 {
			server = secs(percentile(r.serverCPU, 50))
		}
		serverRSS := "n/a"
		if r.serverRSS > 0 {
			serverRSS = mbs(r.serverRSS)
		}
		fmt.Printf("| %d | %s | %.0f | %s | %s | %s | %s | %s |\n", r.entries, span(r.walls, secs),
			float64(r.entries)/percentile(r.walls, 50).Seconds(), secs(percentile(r.clientCPU, 50)), server,
			mbs(r.rss), serverRSS, mbs(r.outBytes))
	}
	// Where the time goes, at the largest count measured.
	for _, r := range slices.Backward(rows) {
		if !r.ok() || len(r.serverCPU) == 0 {
			continue
		}
		wall, client, server := percentile(r.walls, 50), percentile(r.clientCPU, 50), percentile(r.serverCPU, 50)
		c, sv := 100*client.Seconds()/wall.Seconds(), 100*server.Seconds()/wall.Seconds()
		fmt.Printf("\nWhere the time goes at %d entries (medians): the client is on a CPU %.0f%% of the wall time, the server %.0f%%", r.entries, c, sv)
		if c+sv <= 100 {
			fmt.Printf("; neither is for the other %.0f%% (loopback, scheduling, the other load).\n", 100-c-sv)
		} else {
			fmt.Printf(": over 100%% between them, so they run at once part of the time.\n")
		}
		break
	}
}
