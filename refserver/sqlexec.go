package refserver

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// The tiny SQL subset /sql executes; see the comment at the top of sqlsoap.go.

const (
	sqlTypesNS       = "http://schemas.microsoft.com/sqlserver/2004/SOAP/types"
	sqlMessageNS     = "http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlMessage"
	sqlTransactionNS = "http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlTransaction"
	diffgramNS       = "urn:schemas-microsoft-com:xml-diffgram-v1"
	msdataNS         = "urn:schemas-microsoft-com:xml-msdata"
)

// sqlState is one session's (or one sessionless request's) temp table #t and
// transaction.
type sqlState struct {
	// notify is the begin's environmentChangeNotifications
	// transactionBoundary: only then are SqlTransaction items sent.
	notify bool
	// rows counts the committed rows of #t. Only COUNT(*) reads the table,
	// so the values are not kept: a session inserting for hours holds no
	// more than one inserting once.
	rows int
	tx   *sqlTx // the open transaction, nil when none
}

type sqlTx struct {
	descriptor []byte // 8 bytes, like TDS's ULONGLONG transaction descriptor
	depth      int    // @@TRANCOUNT: nested BEGIN TRANs
	rows       int    // rows inserted inside the transaction, not yet committed
}

// rollback discards the open transaction's rows; it reports whether there was one.
func (st *sqlState) rollback() bool {
	if st.tx == nil {
		return false
	}
	st.tx = nil
	return true
}

func (st *sqlState) count() int {
	n := st.rows
	if st.tx != nil {
		n += st.tx.rows
	}
	return n
}

type sqlStmtKind int

const (
	stmtBegin sqlStmtKind = iota
	stmtCommit
	stmtRollback
	stmtInsert
	stmtCount
)

type sqlStmt struct {
	kind sqlStmtKind
	line int // 1-based line of the batch the statement starts on
}

// The statements understood, after blanks are collapsed; case-insensitive
// like SQL Server's keywords and, under its default collations, its names.
var (
	reBegin    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^BEGIN TRAN(SACTION)?$`) })
	reCommit   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^COMMIT( TRAN(SACTION)?)?$`) })
	reRollback = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^ROLLBACK( TRAN(SACTION)?)?$`) })
	reInsert   = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)^INSERT (INTO )?#t VALUES ?\( ?([+-]?[0-9]+) ?\)$`)
	})
	reCount  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)^SELECT COUNT ?\( ?\* ?\) FROM #t$`) })
	reBlanks = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\s+`) })
	reParens = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(` ?([()*]) ?`) })
)

// parseSQLBatch splits a batch at ';' and recognises every piece, or returns
// ok=false when any non-blank piece is outside the subset (or there is none):
// such a batch is answered as before, without executing anything.
func parseSQLBatch(batch string) (stmts []sqlStmt, ok bool) {
	line := 1
	for _, piece := range strings.Split(batch, ";") {
		start := line + strings.Count(piece[:len(piece)-len(strings.TrimLeft(piece, " \t\r\n"))], "\n")
		line += strings.Count(piece, "\n")
		text := strings.TrimSpace(reBlanks().ReplaceAllString(piece, " "))
		if text == "" {
			continue
		}
		text = reParens().ReplaceAllString(text, " $1 ")
		text = strings.TrimSpace(reBlanks().ReplaceAllString(text, " "))
		st := sqlStmt{line: start}
		switch {
		case reBegin().MatchString(text):
			st.kind = stmtBegin
		case reCommit().MatchString(text):
			st.kind = stmtCommit
		case reRollback().MatchString(text):
			st.kind = stmtRollback
		case reInsert().MatchString(text):
			// An int column: a value outside int is outside the subset.
			if _, err := strconv.ParseInt(reInsert().FindStringSubmatch(text)[2], 10, 32); err != nil {
				return nil, false
			}
			st.kind = stmtInsert
		case reCount().MatchString(text):
			st.kind = stmtCount
		default:
			return nil, false
		}
		stmts = append(stmts, st)
	}
	return stmts, len(stmts) > 0
}

// exec runs stmts on st and returns the SqlResultStream items, in the order
// the statements produced them.
func (st *sqlState) exec(stmts []sqlStmt) string {
	var b strings.Builder
	for _, s := range stmts {
		switch s.kind {
		case stmtBegin:
			if st.tx != nil {
				// Nested: only @@TRANCOUNT changes; SQL Server reports no
				// transaction boundary (TDS sends no ENVCHANGE for it).
				st.tx.depth++
				continue
			}
			st.tx = &sqlTx{descriptor: newDescriptor(), depth: 1}
			st.boundary(&b, st.tx.descriptor, "Begin")
		case stmtCommit:
			if st.tx == nil {
				b.WriteString(sqlMessage(s.line, 3902, 16, 1, "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION."))
				continue
			}
			if st.tx.depth--; st.tx.depth > 0 {
				continue
			}
			st.rows += st.tx.rows
			d := st.tx.descriptor
			st.tx = nil
			st.boundary(&b, d, "Commit")
		case stmtRollback:
			if st.tx == nil {
				b.WriteString(sqlMessage(s.line, 3903, 16, 1, "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION."))
				continue
			}
			d := st.tx.descriptor
			st.rollback()
			st.boundary(&b, d, "Rollback")
		case stmtInsert:
			if st.tx != nil {
				st.tx.rows++
			} else {
				st.rows++
			}
			b.WriteString(sqlRowCountItem(1))
		case stmtCount:
			b.WriteString(sqlRowSetCount(st.count()))
			b.WriteString(sqlRowCountItem(1))
		}
	}
	return b.String()
}

func (st *sqlState) boundary(b *strings.Builder, descriptor []byte, typ string) {
	if st.notify {
		b.WriteString(sqlTransactionItem(descriptor, typ))
	}
}

// enlists reports whether a request's transactionDescriptor attribute
// (present or not) is the right one for st: none when no transaction is
// open, the open transaction's otherwise.
func (st *sqlState) enlists(attr string, present bool) bool {
	if st.tx == nil {
		return !present
	}
	if !present {
		return false
	}
	d, err := base64.StdEncoding.DecodeString(strings.TrimSpace(attr))
	return err == nil && bytes.Equal(d, st.tx.descriptor)
}

func newDescriptor() []byte {
	for {
		d := randomBytes(8)
		// TDS uses 0 for "no transaction" (autocommit).
		if !bytes.Equal(d, make([]byte, 8)) {
			return d
		}
	}
}

const sqlItemNS = ` xmlns:sqlresultstream="` + sqlResultStreamNS + `" xmlns:xsi="` + xsiNS + `"`

func sqlRowCountItem(n int) string {
	return `<sqlresultstream:SqlRowCount` + sqlItemNS + ` xmlns:sqlrowcount="` + sqlRowCountNS + `" xsi:type="sqlrowcount:SqlRowCount">` +
		fmt.Sprintf(`<sqlrowcount:Count>%d</sqlrowcount:Count>`, n) +
		`</sqlresultstream:SqlRowCount>`
}

func sqlTransactionItem(descriptor []byte, typ string) string {
	return `<sqlresultstream:SqlTransaction` + sqlItemNS + ` xmlns:sqltransaction="` + sqlTransactionNS + `" xsi:type="sqltransaction:SqlTransaction">` +
		`<sqltransaction:Descriptor>` + base64.StdEncoding.EncodeToString(descriptor) + `</sqltransaction:Descriptor>` +
		`<sqltransaction:Type>` + typ + `</sqltransaction:Type>` +
		`</sqlresultstream:SqlTransaction>`
}

// sqlMessage is an error item; its children are those of [MS-SSNWS]'s
// SqlMessage type, in its order.
func sqlMessage(line, number, class, state int, text string) string {
	return `<sqlresultstream:SqlMessage` + sqlItemNS + ` xmlns:sqlmessage="` + sqlMessageNS + `" xsi:type="sqlmessage:SqlMessage">` +
		fmt.Sprintf(`<sqlmessage:Class>%d</sqlmessage:Class>`, class) +
		fmt.Sprintf(`<sqlmessage:LineNumber>%d</sqlmessage:LineNumber>`, line) +
		`<sqlmessage:Message>` + esc(text) + `</sqlmessage:Message>` +
		fmt.Sprintf(`<sqlmessage:Number>%d</sqlmessage:Number>`, number) +
		`<sqlmessage:Server>soapsess</sqlmessage:Server>` +
		`<sqlmessage:Source>Microsoft-SQL/9.0</sqlmessage:Source>` +
		fmt.Sprintf(`<sqlmessage:State>%d</sqlmessage:State>`, state) +
		`</sqlresultstream:SqlMessage>`
}

// sqlRowSetCount is the result set of SELECT COUNT(*): one row, one unnamed
// int column, as a DiffGram without the inline schema.
func sqlRowSetCount(n int) string {
	return `<sqlresultstream:SqlRowSet` + sqlItemNS + ` xmlns:sqlsoaptypes="` + sqlTypesNS + `" xsi:type="sqlsoaptypes:SqlRowSet">` +
		`<diffgr:diffgram xmlns:diffgr="` + diffgramNS + `" xmlns:msdata="` + msdataNS + `">` +
		`<SqlRowSet1 xmlns="">` +
		fmt.Sprintf(`<row diffgr:id="row1" msdata:rowOrder="0"><Column1>%d</Column1></row>`, n) +
		`</SqlRowSet1></diffgr:diffgram></sqlresultstream:SqlRowSet>`
}

// sqlbatchResponse wraps result-stream items.
func sqlbatchResponse(items string) string {
	return `<sql:sqlbatchResponse xmlns:sql="` + sqlNS + `"><sql:sqlbatchResult>` + items + `</sql:sqlbatchResult></sql:sqlbatchResponse>`
}
