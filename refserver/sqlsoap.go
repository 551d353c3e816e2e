package refserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

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

	var sess *node
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
			continue
		}
		// This includes sqlSession in the https:// namespace: to SQL Server
		// that is simply some other header.
		if mustUnderstand(h, false) {
			return fault(sqlNotUnderstood)
		}
	}

	// Read the session header fully before doing anything with it.
	var initiate, terminate bool
	var id string
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
		}
	}

	// An empty Body is allowed (a bare begin or end); otherwise one operation.
	if env.bodyText || len(env.body) > 1 {
		return fault(sqlInvalidXML)
	}
	result := ""
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
		result = sqlbatchResult(countStatements(cmds.text))
	}

	header := ""
	if sess != nil {
		switch {
		case initiate:
			c.log.action = "begin"
			id = s.sessions.begin(PathSQL, newSQLID, c.user, time.Duration(granted)*time.Second)
			header = fmt.Sprintf(`sessionId="%s" timeout="%d"`, esc(id), granted)
		default:
			c.log.action = "use"
			op := s.sessions.touch
			header = `sessionId="` + esc(id) + `"`
			if terminate {
				c.log.action = "end"
				op = s.sessions.end
				header = `terminate="true" ` + header
			}
			c.log.session = id
			// Wrong user: fault and leave the session unaltered ([S3], [S6]).
			if err := op(PathSQL, id, c.user); err != nil {
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

// countStatements counts the non-blank pieces of a batch split at ';'. The
// server executes nothing; the count stands in for SQL Server's per-statement
// SqlRowCount so that clients have a result to display.
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
