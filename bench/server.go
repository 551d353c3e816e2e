package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"
)

// server is `soapsess serve` run as a process of its own, so that its CPU
// and memory are counted apart from the client's and the bench's.
type server struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait has returned
	base   string        // http://127.0.0.1:PORT
	log    string        // its stderr, a line per request
}

var serveLine = regexp.MustCompile(`reference server on (http://[0-9.]+:[0-9]+)`)

// startServer runs bin serve on a free loopback port with the extra args and
// waits until it says where it listens.
func (b *bench) startServer(bin, name string, args ...string) (*server, error) {
	log := filepath.Join(b.tmp, name+".log")
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := b.command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("soapsess serve: %w", err)
	}
	s := &server{cmd: cmd, exited: make(chan struct{}), log: log}
	go func() {
		cmd.Wait()
		close(s.exited)
	}()
	deadline := time.After(60 * time.Second) // 1,000,000 entries take a while
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		out, _ := os.ReadFile(log)
		if m := serveLine.FindSubmatch(out); m != nil {
			s.base = string(m[1])
			logf("%s: %s %v", name, s.base, args)
			return s, nil
		}
		select {
		case <-tick.C:
			continue
		case <-s.exited:
		case <-deadline:
			s.stop()
		}
		out, _ = os.ReadFile(log)
		return nil, fmt.Errorf("soapsess serve %v did not start: %s", args, bytes.TrimSpace(out))
	}
}

// cpu is the CPU time the server has used so far, where the OS tells it
// (Linux); ok is false elsewhere.
func (s *server) cpu() (time.Duration, bool) { return processCPU(s.cmd.Process.Pid) }

// stop interrupts the server (it shuts down cleanly on SIGINT; killed if it
// has not within 10 s), waits for it and returns its state, with its rusage.
func (s *server) stop() *os.ProcessState {
	select {
	case <-s.exited:
		return s.cmd.ProcessState
	default:
	}
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		s.cmd.Process.Kill()
	}
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	return s.cmd.ProcessState
}
