package cmd

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/antchfx/xpath"
	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/session"
	"github.com/urfave/cli/v2"
)

// output is how begin, send and end show the exchange.
type output struct {
	sections string // --print letters
	pretty   bool
	raw      bool
	color    bool // colour on stdout
	query    *query
}

func (o *output) has(section byte) bool { return strings.IndexByte(o.sections, section) >= 0 }

// printSections are the letters of --print, in the spirit of HTTPie's.
const printSections = "EHhsb"

func outputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "print", Aliases: []string{"p"}, Usage: "what to show, any of: E request envelope, H request headers, h reply headers, s SOAP header, b body (default: sb on a terminal, b on a pipe)"},
		&cli.BoolFlag{Name: "pretty", Usage: "indent the output on a pipe too (it always is on a terminal)"},
		&cli.BoolFlag{Name: "raw", Usage: "print the exact bytes received, nothing else"},
	}
}

// output reads the output flags of a command.
func (a *appCtx) output(c *cli.Context) (*output, error) {
	o := &output{sections: "b", pretty: a.io.OutTTY || c.Bool("pretty"), raw: c.Bool("raw")}
	if a.io.OutTTY {
		o.sections = "sb"
	}
	if s := c.String("print"); s != "" {
		for _, r := range s {
			if !strings.ContainsRune(printSections, r) {
				return nil, usageError("--print %s: %q is not one of E, H, h, s, b", s, r)
			}
		}
		o.sections = s
	}
	o.color = colorOn(c.String("color"), a.io.OutTTY, a.io.getenv)
	q, err := queryOf(c)
	if err != nil {
		return nil, err
	}
	o.query = q
	if o.raw && o.query != nil {
		return nil, usageError("--raw and --xpath cannot be combined")
	}
	if o.query == nil && !o.raw {
		a.startPager(c)
	}
	return o, nil
}

func queryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "xpath", Aliases: []string{"x"}, Usage: "print the values `EXPR` matches, one per line (prefixes soap, soap12, dsml, ad, xa, sql are bound); a path such as //a:b/@c or count(//a:b) is read as the document streams, other expressions need the whole document in memory (see --max-tree)"},
		&cli.StringSliceFlag{Name: "ns", Usage: "bind a prefix for --xpath, `PREFIX=URI`"},
		&cli.StringFlag{Name: "max-tree", Usage: "the most --xpath holds in memory, `SIZE` in bytes or with K, M or G: what it selects, or the document when the expression needs it whole (a tree takes 10 to 55 times the document's size) (default: " + reply.Size(defaultMaxTree) + ")"},
	}
}

// defaultMaxTree is --max-tree's default: a document of 8 MiB takes 90 MB
// (a rowset) to 450 MB (nothing but empty elements) as a tree.
const defaultMaxTree = 8 << 20

// maxTree reads --max-tree.
func maxTree(c *cli.Context) (int64, error) {
	if !c.IsSet("max-tree") {
		return defaultMaxTree, nil
	}
	v := c.String("max-tree")
	n, err := parseSize(v)
	if err != nil {
		return 0, usageError("--max-tree %q: %v", v, err)
	}
	if !c.IsSet("xpath") {
		return 0, usageError("--max-tree goes with --xpath")
	}
	return n, nil
}

// defaultNS are the prefixes --xpath knows without --ns.
var defaultNS = map[string]string{
	"soap":   reply.NSSOAP11,
	"soap12": reply.NSSOAP12,
	"dsml":   "urn:oasis:names:tc:DSML:2:0:core",
	"ad":     "urn:schema-microsoft-com:activedirectory:dsmlv2",
	"xa":     "urn:schemas-microsoft-com:xml-analysis",
	"sql":    "http://schemas.microsoft.com/sqlserver/2004/SOAP",
}

// query is a checked --xpath expression.
type query struct {
	src   string
	ns    map[string]string
	q     *reply.Query
	limit int64             // --max-tree
	ev    *reply.Evaluation // the reply's, once listen has been called
}

// queryOf reads --xpath, --ns and --max-tree; nil without --xpath.
func queryOf(c *cli.Context) (*query, error) {
	limit, err := maxTree(c)
	if err != nil || !c.IsSet("xpath") && c.String("xpath") == "" {
		return nil, err
	}
	q, err := newQuery(c.String("xpath"), c.StringSlice("ns"))
	if err != nil {
		return nil, err
	}
	q.limit = limit
	return q, nil
}

func newQuery(src string, bindings []string) (*query, error) {
	if strings.TrimSpace(src) == "" {
		return nil, usageError("--xpath needs an expression")
	}
	ns := map[string]string{}
	for k, v := range defaultNS {
		ns[k] = v
	}
	for _, b := range bindings {
		p, uri, ok := strings.Cut(b, "=")
		if !ok || p == "" || uri == "" {
			return nil, usageError("--ns %q: want PREFIX=URI", b)
		}
		ns[p] = uri
	}
	q := &query{src: src, ns: ns, limit: defaultMaxTree}
	rq, err := reply.CompileQuery(src, ns)
	if err != nil {
		return nil, q.compileError(err)
	}
	q.q = rq
	return q, nil
}

// compileError words an expression the XPath library refused.
func (q *query) compileError(err error) error {
	prefixes := make([]string, 0, len(q.ns))
	for p := range q.ns {
		prefixes = append(prefixes, p)
	}
	sort.Strings(prefixes)
	var xe *reply.XPathError
	if errors.As(err, &xe) {
		err = xe.Err
	}
	return withCode(ExitUsage, fmt.Errorf("--xpath %q: %v", q.src, err), "bound prefixes: "+strings.Join(prefixes, ", ")+"; add more with --ns PREFIX=URI")
}

// compile is the expression for a library that evaluates it itself
// (--capture).
func (q *query) compile() (*xpath.Expr, error) { return q.q.Expr(), nil }

// listen points a reply at the query as it arrives, so that it is never
// held whole unless the expression needs it: its bytes as they are read,
// or (paging) the merged document's tokens. The last reply read is the
// one printed: a restart reads the rejected one first.
func (q *query) listen(s *session.Sinks, paging bool) {
	if paging {
		q.ev = q.q.Evaluate(q.limit)
		s.Body = q.ev
		return
	}
	prev := s.Reading
	s.Reading = func(r io.Reader) io.Reader {
		if prev != nil {
			r = prev(r)
		}
		if q.ev != nil {
			q.ev.Close()
		}
		q.ev = q.q.Evaluate(q.limit)
		return q.ev.Reader(r)
	}
}

// close stops what listen started; print ends it too.
func (q *query) close() {
	if q != nil && q.ev != nil {
		q.ev.Close()
	}
}

// print writes the values the expression selects in the reply listened
// to, or in doc, one per line.
func (q *query) print(io *IO, doc []byte) error {
	if q.ev != nil {
		values, err := q.ev.Values()
		return q.show(io, values, err)
	}
	values, err := q.q.Values(doc, q.limit)
	return q.show(io, values, err)
}

// show writes the values of an evaluation, one per line, or words its
// error.
func (q *query) show(io *IO, values []string, err error) error {
	var xe *reply.XPathError
	var le *reply.LimitError
	switch {
	case errors.As(err, &xe):
		return usageError("--xpath %q: %v", q.src, xe.Err)
	case errors.As(err, &le) && le.Whole:
		return withCode(ExitUsage, fmt.Errorf("--xpath %q: %w", q.src, err),
			"give --max-tree a larger SIZE, or an expression read as the document streams: a path of / and // steps such as //x:a[@b='c']/@d or count(//x:a)")
	case errors.As(err, &le):
		return withCode(ExitUsage, fmt.Errorf("--xpath %q: %w", q.src, err), "give --max-tree a larger SIZE")
	case err != nil:
		return withCode(ExitReply, fmt.Errorf("--xpath: %w", err))
	}
	for _, v := range values {
		if _, err := fmt.Fprintln(io.Out, v); err != nil {
			return err
		}
	}
	if len(values) == 0 {
		warnf(io, "--xpath %s matched nothing", q.src)
	}
	return nil
}

// watchedWriter remembers the first error writing to stdout (a full disk, a
// closed pipe), so that it is reported as such and not as a bad reply.
type watchedWriter struct {
	w   io.Writer
	err error
}

func (ww *watchedWriter) Write(p []byte) (int, error) {
	n, err := ww.w.Write(p)
	if err != nil && ww.err == nil {
		ww.err = err
	}
	return n, err
}

// check turns a stdout failure into a local error, exit status 1.
func (ww *watchedWriter) check(err error) error {
	if ww.err != nil {
		return withCode(ExitError, fmt.Errorf("write output: %w", ww.err))
	}
	return err
}
