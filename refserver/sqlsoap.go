package refserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// What /sql executes. A sqlbatch's BatchCommands are split at ';'. When every
// non-blank statement is one of these (keywords and #t case-insensitive, any
// blanks between words), the batch is executed, in order, on the session's
// temp table #t (one int column; each session has its own, empty at begin; a
// sessionless request has one for itself alone):
//
//	BEGIN TRAN | BEGIN TRANSACTION         opens a transaction (nested: @@TRANCOUNT+1)
//	COMMIT [TRAN | TRANSACTION]            commits it (the outermost COMMIT)
//	ROLLBACK [TRAN | TRANSACTION]          rolls it back, whatever the nesting
//	INSERT [INTO] #t VALUES (n)            n an int; SqlRowCount 1
//	SELECT COUNT(*) FROM #t                SqlRowSet with the count, then SqlRowCount 1
//
// Any other batch (one statement outside this list is enough) runs nothing and
// gets the answer it always got: one SqlRowCount whose Count is the number of
// statements. Every result item is in the SqlResultStream namespace with its
// xsi:type, in statement order, inside sqlbatchResponse/sqlbatchResult.
//
// Known ([MS-SSNWS]; learn.microsoft.com "SOAP Response Message Structure",
// "Using Transactions with SOAP Sessions", "sqloptions:environmentChangeNotifications";
// notes/sqlsoap.md §2, §3, §5): the result stream is a sequence of SqlRowSet,
// SqlMessage, SqlRowCount, SqlTransaction … items; SqlTransaction has
// Descriptor (base64) and Type (Begin, Commit, Rollback, EnlistDTC, Defect)
// in the …/types/SqlTransaction namespace; the notifications are opt-in,
// environmentChangeNotifications transactionBoundary="true", which with
// sessions belongs on the initiating request; later requests enlist in the
// transaction with sqlSession/@transactionDescriptor; SQL errors are
// SqlMessage items (Class, LineNumber, Message, Number, Procedure?, Server?,
// Source, State), not faults.
//
// Assumed, not verified on a live server:
//   - SqlTransaction items are sent only to sessions whose begin asked for
//     transactionBoundary="true" (a sessionless request: if it asked itself);
//     one per outermost BEGIN, COMMIT or ROLLBACK, placed among the other
//     items where the statement ran, as TDS places its ENVCHANGE tokens; the
//     Commit and Rollback items carry the descriptor of the transaction they
//     end. A nested BEGIN or inner COMMIT sends nothing.
//   - The descriptor is 8 random non-zero bytes, as TDS's ULONGLONG
//     transaction descriptor ([MS-TDS] 2.2.5.3.2) and the docs' 8-byte example
//     values suggest.
//   - While a session's transaction is open, a request with a batch must carry
//     its descriptor; without it, with another one, or with one while no
//     transaction is open, nothing of the batch runs and the result stream is
//     one SqlMessage: Number 3989, Class 16, State 1, "New request is not
//     allowed to start because it should come with valid transaction
//     descriptor." (SQL Server's message for a TDS request without the valid
//     descriptor), HTTP 200. A SqlMessage rather than a fault because the
//     notes (§5, §6) reserve faults for envelope, login and operation errors,
//     and this is an execution error. A session begun without the
//     notifications cannot learn the descriptor, so cannot go on with a
//     transaction it began: only ending the session (which rolls back) helps.
//   - COMMIT or ROLLBACK without a transaction: SqlMessage 3902 or 3903
//     (SQL Server's numbers and texts), and the batch goes on.
//   - The count's SqlRowSet is a DiffGram without the inline XSD (as from an
//     endpoint with SCHEMA = NONE): diffgr:diffgram/SqlRowSet1/row/Column1,
//     Column1 standing for the unnamed COUNT(*) column; a SqlRowCount of 1
//     follows it, as TDS's DONE token does.
//   - Ending a session (its body runs first, [S3]) or its expiry rolls back an
//     open transaction; no reply reports that.
//   - environmentChangeNotifications on a later request is accepted and
//     ignored (SQL Server would report an error).

// SQL Server native XML Web Services ([MS-SSNWS] SQL Server Native Web
// Services Protocol, and the SQL Server 2005-2008 R2 "Native XML Web Services"
// pages on learn.microsoft.com). The namespaces are http://, as in [MS-SSNWS]'s
// examples, never the https:// that the rewritten previous-versions pages
// print (a mechanical link rewrite: MicrosoftDocs/sql-docs#1457).
const (
	sqlNS              = "http://schemas.microsoft.com/sqlserver/2004/SOAP"
	sqlOptionsNS       = "http://schemas.microsoft.com/sqlserver/2004/SOAP/Options"
	sqlResultStreamNS  = "http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlResultStream"
	sqlRowCountNS      = "http://schemas.microsoft.com/sqlserver/2004/SOAP/types/SqlRowCount"
	sqlSoapFaultCodeNS = "http://schemas.microsoft.com/sqlserver/2004/SOAP/SqlSoapFaultCode"
	soap12EnvNS        = "http://www.w3.org/2003/05/soap-envelope"
	xsiNS              = "http://www.w3.org/2001/XMLSchema-instance"
)

// sqlLoginOptions are the other sqloptions headers SQL Server understands
// (learn.microsoft.com, SOAP Extension Headers). This server accepts and
// ignores them, so that the documentation's examples, which mark them
// mustUnderstand, do not fault.
var sqlLoginOptions = map[string]bool{
	"applicationName": true, "clientInterface": true, "clientNetworkID": true, "clientPID": true,
	"environmentChangeNotifications": true, "hostName": true, "hostname": true,
	"initialDatabase": true, "initialLanguage": true, "notificationRequest": true,
}

// sqlFaultKind names a fault the way SQL Server spells it: the SOAP 1.1 code,
// the SOAP 1.2 code, and the sqlsoapfaultcode subcodes, outermost first.
type sqlFaultKind struct {
	code11, code12 string
	subcodes       []string
	// sessionHeader adds <sqloptions:sqlSession terminate="true"/>, which SQL
	// Server sends with faults about the session itself (learn.microsoft.com,
	// Using a SOAP Session and Ending a SOAP Session).
	sessionHeader bool
}

var (
	sqlSessionIDInvalid = sqlFaultKind{"Client", "Sender", []string{"SoapHeader", "SessionIdIsInvalid"}, true}
	sqlInvalidXML       = sqlFaultKind{"Client", "Sender", []string{"InvalidXml"}, false}
	// The rest are this server's own wording in SQL Server's shape.
	sqlHeaderInvalid = sqlFaultKind{"Client", "Sender", []string{"SoapHeader", "HeaderValueIsInvalid"}, false}
	sqlNotUnderstood = sqlFaultKind{"MustUnderstand", "MustUnderstand", []string{"SoapHeader", "HeaderNotUnderstood"}, false}
	sqlNotSupported  = sqlFaultKind{"Client", "Sender", []string{"SoapMethod", "OperationIsNotSupported"}, false}
	// SQL Server documents no limit on SOAP sessions ("Sessions are
	// connection-independent ... and do not count against the server's max
	// connections", Initiating a SOAP Session) and so no fault for one: a
	// begin refused at Options.MaxSessions gets this one, the server's side
	// (Server, Receiver) of SQL Server's shape.
	sqlTooManySessions = sqlFaultKind{"Server", "Receiver", []string{"SoapHeader", "TooManySessions"}, false}
)

// sqlFaultStringPre starts every SQL Server SOAP faultstring; the two spaces
// after the colon are in the originals.
const sqlFaultStringPre = "There was an error in the incoming SOAP request packet:  "

// sqlFault builds a fault shaped like [MS-SSNWS] 4.2.7 (corpus
// sqlsoap/08): SOAP 1.1 fields plus the SOAP 1.2 Code/Subcode/Reason inside detail.
func sqlFault(f sqlFaultKind) reply {
	text := sqlFaultStringPre + f.code11 + ", " + strings.Join(f.subcodes, ", ")
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	b.WriteString(`<SOAP-ENV:Envelope xml:space="preserve" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="` + xsiNS + `" xmlns:SOAP-ENV="` + soapEnvNS + `" xmlns:sql="` + sqlNS + `">`)
	if f.sessionHeader {
		b.WriteString(`<SOAP-ENV:Header><sqloptions:sqlSession xmlns:sqloptions="` + sqlOptionsNS + `" terminate="true"/></SOAP-ENV:Header>`)
	}
	b.WriteString(`<SOAP-ENV:Body><SOAP-ENV:Fault xmlns:sqlsoapfaultcode="` + sqlSoapFaultCodeNS + `">`)
	b.WriteString(`<faultcode>SOAP-ENV:` + f.code11 + `</faultcode>`)
	b.WriteString(`<faultstring>` + esc(text) + `</faultstring>`)
	b.WriteString(`<faultactor>` + sqlNS + `</faultactor>`)
	b.WriteString(`<detail xmlns:SOAP-1_2-ENV="` + soap12EnvNS + `"><SOAP-1_2-ENV:Code><SOAP-1_2-ENV:Value>SOAP-1_2-ENV:` + f.code12 + `</SOAP-1_2-ENV:Value>`)
	for _, sc := range f.subcodes {
		b.WriteString(`<SOAP-1_2-ENV:Subcode><SOAP-1_2-ENV:Value>sqlsoapfaultcode:` + sc + `</SOAP-1_2-ENV:Value>`)
	}
	for range f.subcodes {
		b.WriteString(`</SOAP-1_2-ENV:Subcode>`)
	}
	b.WriteString(`</SOAP-1_2-ENV:Code>`)
	b.WriteString(`<SOAP-1_2-ENV:Reason><SOAP-1_2-ENV:Text xml:lang="en-US">` + esc(sqlFaultStringPre+f.code12+", "+strings.Join(f.subcodes, ", ")) + `</SOAP-1_2-ENV:Text></SOAP-1_2-ENV:Reason>`)
	b.WriteString(`</detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>`)
	return reply{http.StatusInternalServerError, []byte(b.String())}
}

func (s *Server) serveSQL(c *call) reply {
	fault := func(f sqlFaultKind) reply {
		c.log.fault = f.subcodes[len(f.subcodes)-1]
		return sqlFault(f)
	}
	env, err := parseEnvelope(c.body)
	if err != nil {
		return fault(sqlInvalidXML)
	}

	var sess, notifications *node
	for _, h := range env.header {
		if h.is(sqlOptionsNS, "sqlSession") {
			if sess != nil {
				// [S1]: exactly one sqlSession per request.
				return fault(sqlSessionIDInvalid)
			}
			sess = h
			continue
		}
		if h.name.Space == sqlOptionsNS && sqlLoginOptions[h.name.Local] {
			if h.name.Local == "environmentChangeNotifications" {
				notifications = h
			}
			continue
		}
		// This includes sqlSession in the https:// namespace: to SQL Server
		// that is simply some other header.
		if mustUnderstand(h, false) {
			return fault(sqlNotUnderstood)
		}
	}
	// Only transactionBoundary is acted on; like the other login options it
	// counts on the initiating request (or a sessionless one) only.
	notify := false
	if notifications != nil {
		if v, ok := notifications.attr("", "transactionBoundary"); ok {
			if notify, err = parseXSBoolean(v); err != nil {
				return fault(sqlHeaderInvalid)
			}
		}
	}

	// Read the session header fully before doing anything with it.
	var initiate, terminate bool
	var id, descriptor string
	var hasDescriptor bool
	granted := s.sqlMax
	if sess != nil {
		for _, a := range []struct {
			name string
			dst  *bool
		}{{"initiate", &initiate}, {"terminate", &terminate}} {
			if v, ok := sess.attr("", a.name); ok {
				if *a.dst, err = parseXSBoolean(v); err != nil {
					return fault(sqlHeaderInvalid)
				}
			}
		}
		id, _ = sess.attr("", "sessionId")
		descriptor, hasDescriptor = sess.attr("", "transactionDescriptor")
		switch {
		case initiate && (terminate || id != ""):
			// Beginning a session cannot also name or end one.
			return fault(sqlHeaderInvalid)
		case initiate:
			if v, ok := sess.attr("", "timeout"); ok {
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
				if err != nil || n <= 0 {
					return fault(sqlHeaderInvalid)
				}
				// The endpoint's SESSION_TIMEOUT is the default and the
				// maximum (learn.microsoft.com, How SOAP Sessions Support
				// Works: an endpoint of 60 granting a client's 90 gives 60).
				granted = min(int(n), s.sqlMax)
			}
		case id == "":
			// Using or ending a session needs its ID: a missing ID is a
			// malformed one.
			return fault(sqlSessionIDInvalid)
		default:
			// A use or an end, in flight for its session (as sent)
			// whatever becomes of it.
			s.inSession(c, id)
		}
	}

	// An empty Body is allowed (a bare begin or end); otherwise one operation.
	if env.bodyText || len(env.body) > 1 {
		return fault(sqlInvalidXML)
	}
	hasBatch := false
	var batch string
	if len(env.body) == 1 {
		op := env.body[0]
		c.log.op = op.name.Local
		if !op.is(sqlNS, "sqlbatch") {
			return fault(sqlNotSupported)
		}
		cmds := op.child(sqlNS, "BatchCommands")
		if cmds == nil {
			return fault(sqlInvalidXML)
		}
		hasBatch, batch = true, cmds.text
	}

	// run executes the batch on a session's (or this request's) state.
	result := ""
	run := func(st *sqlState, inSession bool) {
		if !hasBatch {
			return
		}
		if inSession && !st.enlists(descriptor, hasDescriptor) {
			// Not enlisted in the session's transaction (or naming one that
			// is not open): nothing runs, and the error is a SQL error in the
			// result stream, not a fault (see the top of this file).
			result = sqlbatchResponse(sqlMessage(1, 3989, 16, 1, "New request is not allowed to start because it should come with valid transaction descriptor."))
			return
		}
		stmts, ok := parseSQLBatch(batch)
		if !ok {
			result = sqlbatchResult(countStatements(batch))
			return
		}
		result = sqlbatchResponse(st.exec(stmts))
	}

	header := ""
	if sess == nil {
		// A sessionless request is its own connection: a transaction it
		// leaves open is rolled back when it ends, with its temp table.
		run(&sqlState{notify: notify}, false)
	} else {
		switch {
		case initiate:
			c.log.action = "begin"
			st := &sqlState{notify: notify}
			run(st, false)
			if id, err = s.sessions.beginWith(PathSQL, newSQLID, c.user, time.Duration(granted)*time.Second, func(se *session) { se.sql = st }); err != nil {
				return fault(sqlTooManySessions)
			}
			header = fmt.Sprintf(`sessionId="%s" timeout="%d"`, esc(id), granted)
		default:
			c.log.action = "use"
			op := s.sessions.use
			header = `sessionId="` + esc(id) + `"`
			if terminate {
				c.log.action = "end"
				op = s.sessions.endWith
				header = `terminate="true" ` + header
			}
			c.log.session = id
			// Wrong user: fault and leave the session unaltered ([S3], [S6]).
			// The end's body runs before the session closes, which rolls back
			// a transaction still open ([S3]: the terminate is processed
			// whatever the body's errors).
			err := op(PathSQL, id, c.user, func(se *session) {
				if se.sql == nil {
					se.sql = &sqlState{}
				}
				run(se.sql, true)
			})
			if err != nil {
				return fault(sqlSessionIDInvalid)
			}
		}
		c.log.session = id
	}

	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	b.WriteString(`<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + soapEnvNS + `">`)
	if header != "" {
		b.WriteString(`<SOAP-ENV:Header><sqloptions:sqlSession xmlns:sqloptions="` + sqlOptionsNS + `" ` + header + `/></SOAP-ENV:Header>`)
	}
	if result == "" {
		b.WriteString(`<SOAP-ENV:Body/>`)
	} else {
		b.WriteString(`<SOAP-ENV:Body>` + result + `</SOAP-ENV:Body>`)
	}
	b.WriteString(`</SOAP-ENV:Envelope>`)
	return reply{http.StatusOK, []byte(b.String())}
}

// countStatements counts the non-blank pieces of a batch split at ';'. For a
// batch outside the executed subset the server executes nothing; the count
// stands in for SQL Server's per-statement SqlRowCount so that clients have a
// result to display.
func countStatements(batch string) int {
	n := 0
	for _, stmt := range strings.Split(batch, ";") {
		if strings.TrimSpace(stmt) != "" {
			n++
		}
	}
	return n
}

func sqlbatchResult(count int) string {
	return `<sql:sqlbatchResponse xmlns:sql="` + sqlNS + `"><sql:sqlbatchResult>` +
		`<sqlresultstream:SqlRowCount xmlns:sqlresultstream="` + sqlResultStreamNS + `" xmlns:sqlrowcount="` + sqlRowCountNS + `" xsi:type="sqlrowcount:SqlRowCount" xmlns:xsi="` + xsiNS + `">` +
		fmt.Sprintf(`<sqlrowcount:Count>%d</sqlrowcount:Count>`, count) +
		`</sqlresultstream:SqlRowCount></sql:sqlbatchResult></sql:sqlbatchResponse>`
}
