package printer

import "io"

// output buffers what the printer writes, as a bufio.Writer does, but with
// a Write the compiler inlines: the printer writes two or three short
// pieces for every token. A piece is appended whatever its size, and what
// is buffered is written out once it reaches the size. After an error
// nothing more is written, and every write that would write returns it.
type output struct {
	w    io.Writer
	buf  []byte
	size int
	err  error
}

func newOutput(w io.Writer, size int) *output {
	return &output{w: w, buf: make([]byte, 0, size), size: size}
}

func (o *output) Write(b []byte) (int, error) {
	o.buf = append(o.buf, b...)
	if len(o.buf) >= o.size {
		return len(b), o.Flush()
	}
	return len(b), nil
}

func (o *output) WriteString(s string) (int, error) {
	o.buf = append(o.buf, s...)
	if len(o.buf) >= o.size {
		return len(s), o.Flush()
	}
	return len(s), nil
}

func (o *output) WriteByte(c byte) error {
	_, err := o.Write([]byte{c})
	return err
}

// Flush writes out what is buffered.
func (o *output) Flush() error {
	if o.err == nil && len(o.buf) > 0 {
		n, err := o.w.Write(o.buf)
		if err == nil && n < len(o.buf) {
			err = io.ErrShortWrite
		}
		o.err = err
	}
	if cap(o.buf) > 4*o.size {
		o.buf = make([]byte, 0, o.size) // a long token grew it: let that go
	}
	o.buf = o.buf[:0]
	return o.err
}
