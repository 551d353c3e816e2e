package refserver

import (
	"net"
	"sync"
)

// LimitListener returns a listener that keeps at most n of the connections
// it accepted open at once (n < 1 counts as 1). While n are open, Accept
// waits for one of them to close and new connections wait in the kernel's
// backlog, so a crowd of slow clients delays others instead of exhausting
// the server. full, when not nil, is called each time Accept starts to wait.
// Closing the listener ends a waiting Accept with net.ErrClosed.
//
// It is golang.org/x/net/netutil.LimitListener's idea, kept here so that the
// package needs nothing beyond the standard library.
func LimitListener(l net.Listener, n int, full func()) net.Listener {
	return &limitListener{Listener: l, slots: make(chan struct{}, max(n, 1)), full: full, done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	slots     chan struct{} // one value per open connection
	full      func()
	closeOnce sync.Once
	done      chan struct{} // closed by Close
}

// acquire takes a slot, waiting for one if need be; false means the
// listener was closed meanwhile.
func (l *limitListener) acquire() bool {
	select {
	case l.slots <- struct{}{}:
		return true
	case <-l.done:
		return false
	default:
	}
	if l.full != nil {
		l.full()
	}
	select {
	case l.slots <- struct{}{}:
		return true
	case <-l.done:
		return false
	}
}

func (l *limitListener) Accept() (net.Conn, error) {
	if !l.acquire() {
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitConn gives its slot back when it is closed, once.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite passes a half-close through: net/http uses it so that a reply
// sent before closing a connection whose request it did not read to the end
// (a body cut by BodyTimeout) reaches the client instead of being lost to a
// reset.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
