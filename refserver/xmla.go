package refserver

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// What /xmla keeps and executes. A session keeps the DataSourceInfo and
// Catalog properties of its begin request (Properties/PropertyList) and the
// names of the session objects created in it; ending or expiring the session
// drops them. On /xmla (SSAS style; not on /xmla/virtuoso, which speaks no MDX)
// an Execute whose Statement is
//
//	CREATE SESSION SET [cube].[name] AS …
//	CREATE SESSION MEMBER [cube].[dimension].[name] AS …   (e.g. [Sales].[Measures].[Profit])
//
// (parts bracketed or plain words; the expression after AS is not read) stores
// the name and answers an empty root, as SSAS answers a command without a
// result. Outside a session it succeeds and stores nothing. Nothing else is
// executed: any other non-empty statement still gets the in-body error.
// Discover answers three request types:
//
//	DISCOVER_DATASOURCES  one row describing this server (as before)
//	MDSCHEMA_SETS         one row per session set: CATALOG_NAME (the begin's
//	                      Catalog, when given), CUBE_NAME, SET_NAME (unbracketed),
//	                      SCOPE 2 (MDSET_SCOPE_SESSION); no global sets exist
//	DISCOVER_PROPERTIES   rows for DataSourceInfo and Catalog, with Value the
//	                      session's begin value (outside a session, the request's)
//
// Rowsets carry no inline XSD and ignore Restrictions. Members are kept but no
// rowset lists them. Redefining a name replaces it (assumed; SSAS may refuse).

// XML for Analysis namespaces, as in [MS-SSAS] SQL Server Analysis Services
// Protocol: methods and session headers (§3.1.3.1), the empty result of an
// EndSession (§4.2.4), errors inside a reply (§2.2.4.1.5).
const (
	xmlaNS          = "urn:schemas-microsoft-com:xml-analysis"
	xmlaRowsetNS    = "urn:schemas-microsoft-com:xml-analysis:rowset"
	xmlaEmptyNS     = "urn:schemas-microsoft-com:xml-analysis:empty"
	xmlaExceptionNS = "urn:schemas-microsoft-com:xml-analysis:exception"
	xmlaSource      = "soapsess reference server"
)

// XMLA error codes: the faultcode carries the HRESULT in hex, the detail's
// ErrorCode the same 32 bits in unsigned decimal ("The hexadecimal value must
// be converted to an UnsignedInt value": learn.microsoft.com, Handling Errors
// and Warnings (XMLA)); e.g. XMLAnalysisError.0xc10e0002 and 3238920194.
const (
	xmlaErrSessionNotFound = 0xC1360003 // SSAS text "The '…' session ID cannot be found…"
	xmlaErrParser          = 0xC10E0002 // SSAS msmdpump parser errors
	xmlaErrNotExecuted     = 0xC10A0009
	// xmlaErrLimit is E_FAIL, for this server's own limits (live sessions,
	// objects per session). SSAS publishes no cap on sessions (it ends idle
	// ones under memory pressure, MinIdleSessionTimeout) and so no error
	// for one; none of its codes is borrowed for a condition it does not have.
	xmlaErrLimit = 0x80004005
)

// xmlaDialect is what differs between the SSAS-style and the Virtuoso-style
// endpoint: how the session-ID attribute is spelled, read and written, and
// how the server treats sessions and headers.
type xmlaDialect struct {
	endpoint string
	idAttr   string
	// sessionHeader renders the reply's Session header for id.
	sessionHeader func(id string) string
	newID         func() string
	// mdx: CREATE SESSION SET/MEMBER statements are kept (see above).
	mdx bool
	// virtuoso makes the endpoint behave as OpenLink Virtuoso 7.2.5.1 does,
	// measured on its wire (notes xmla.md §14; procedure source
	// libsrc/Wi/xmla.sql, tag v7.2.5.1), where SSAS and Mondrian differ:
	//   - an Execute with an empty Statement faults (HTTP 500, Virtuoso's
	//     fault shape), at begin too, and the fault still carries the new
	//     session's header: the session is open all the same; at end, the
	//     session is ended all the same;
	//   - a Session or EndSession naming no live session of the caller's
	//     (unknown, ended, another user's, or no SessionID at all) is never
	//     reported: the request runs outside any session, without the
	//     session's state;
	//   - only the begin's reply carries the Session header;
	//   - idle sessions do not expire (Virtuoso writes a 10-minute expiry it
	//     never checks), unless Options.IdleTimeouts names the endpoint, a
	//     test's way to have the server forget them;
	//   - only the SOAP-namespaced mustUnderstand="1" counts: an unknown
	//     header with it gets SOAP:MustUnderstand, one with the unprefixed
	//     attribute is ignored;
	//   - of several session headers, a Session counts before a
	//     BeginSession, and that before an EndSession.
	// Other faults keep the SSAS shapes; statements are not executed.
	virtuoso bool
}

var (
	xmlaSSAS = xmlaDialect{
		endpoint: PathXMLA,
		idAttr:   "SessionId",
		sessionHeader: func(id string) string {
			return `<Session xmlns="` + xmlaNS + `" SessionId="` + esc(id) + `"/>`
		},
		newID: newXMLAID,
		mdx:   true,
	}
	// Virtuoso reads and writes SessionID (libsrc/Wi/xmla.sql, xmla_session),
	// in a header prefixed n0, with 32 lowercase hex digits (md5 of the time
	// there; random here) (measured).
	xmlaVirtuoso = xmlaDialect{
		endpoint: PathXMLAVirtuoso,
		idAttr:   "SessionID",
		sessionHeader: func(id string) string {
			return `<n0:Session xmlns:n0="` + xmlaNS + `" mustUnderstand="1" SessionID="` + esc(id) + `" />`
		},
		newID:    newDSMLID,
		virtuoso: true,
	}
)

// tooManySessions answers a begin while the server holds limit live sessions.
// Neither SSAS nor Virtuoso is known to refuse a session for their number
// (Virtuoso keeps them as rows of a table), so this is this server's own
// fault, in the endpoint's fault shape: SSAS's with E_FAIL, or Virtuoso's
// with SQLSTATE 08004, the standard "server rejected the connection".
func (d xmlaDialect) tooManySessions(limit int) reply {
	text := fmt.Sprintf("The soapsess reference server already has its maximum of %d live sessions; end one, or wait for one to expire, before beginning another.", limit)
	if d.virtuoso {
		return virtuosoFault("", "08004", text)
	}
	return xmlaFault(xmlaErrLimit, text)
}

// neverIdle is the idle timeout of a session that does not expire.
const neverIdle = 100 * 365 * 24 * time.Hour

// xmlaFault builds an SSAS-shaped fault: Fault redeclares the SOAP namespace
// as default, faultcode is a plain string, detail holds an Error element.
func xmlaFault(code uint32, text string) reply {
	return xmlaFaultCode(fmt.Sprintf("XMLAnalysisError.0x%08x", code), code, text)
}

func xmlaFaultCode(faultcode string, code uint32, text string) reply {
	body := `<?xml version="1.0" encoding="utf-8"?>` +
		`<soap:Envelope xmlns:soap="` + soapEnvNS + `"><soap:Body>` +
		`<soap:Fault xmlns="` + soapEnvNS + `">` +
		`<faultcode>` + esc(faultcode) + `</faultcode>` +
		`<faultstring>` + esc(text) + `</faultstring>` +
		`<detail><Error ErrorCode="` + fmt.Sprint(code) + `" Description="` + esc(text) + `" Source="` + xmlaSource + `" HelpFile=""/></detail>` +
		`</soap:Fault></soap:Body></soap:Envelope>`
	return reply{http.StatusInternalServerError, []byte(body)}
}

func xmlaNotFound(id string) reply {
	return xmlaFault(xmlaErrSessionNotFound, "The '"+id+"' session ID cannot be found. Either the session doesn't exist or has already expired.")
}

// virtuosoFault is Virtuoso's XMLA fault (xmla.sql's exit handlers, as
// measured): HTTP 500, a fixed faultstring, and in detail an Error whose
// ErrorCode is the SQLSTATE with each letter replaced by its ASCII code
// (42S02 → 428302), the faultcode the same number in hex. header is the
// reply's SOAP Header content: a begin's fault still names its session.
func virtuosoFault(header, sqlstate, msg string) reply {
	code := virtuosoErrorCode(sqlstate)
	var b strings.Builder
	b.WriteString(`<?xml version='1.0'?>` + "\n")
	b.WriteString(`<SOAP:Envelope SOAP:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns:SOAP="` + soapEnvNS + `">` + "\n")
	if header != "" {
		b.WriteString(`<SOAP:Header>` + header + `</SOAP:Header>`)
	}
	fmt.Fprintf(&b, `<SOAP:Body><SOAP:Fault><faultcode>XMLAnalysisError.0x%08x</faultcode>`, code)
	b.WriteString(`<faultstring>The XML for Analysis provider encountered an error</faultstring>`)
	fmt.Fprintf(&b, `<detail><Error ErrorCode="%d" Description="%s" Source="XML for Analysis Provider" HelpFile="" /></detail>`, code, esc("["+sqlstate+"] "+msg))
	b.WriteString(`</SOAP:Fault></SOAP:Body></SOAP:Envelope>`)
	return reply{http.StatusInternalServerError, []byte(b.String())}
}

// virtuosoErrorCode turns a SQLSTATE into Virtuoso's XMLA ErrorCode.
func virtuosoErrorCode(sqlstate string) uint32 {
	var digits strings.Builder
	for _, r := range sqlstate {
		if r >= '0' && r <= '9' {
			digits.WriteRune(r)
		} else {
			fmt.Fprint(&digits, int(r))
		}
	}
	n, _ := strconv.ParseUint(digits.String(), 10, 32)
	return uint32(n)
}

// virtuosoMustUnderstand is Virtuoso's SOAP-level fault for a header it does
// not know that carries SOAP-ENV:mustUnderstand="1" (measured).
func virtuosoMustUnderstand() reply {
	body := `<?xml version='1.0'?>` + "\n" +
		`<SOAP:Envelope SOAP:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns:SOAP="` + soapEnvNS + `">` + "\n" +
		`<SOAP:Body><SOAP:Fault><faultcode>SOAP:MustUnderstand</faultcode>` +
		`<faultstring>[Virtuoso SOAP server] Header not understood</faultstring><detail /></SOAP:Fault></SOAP:Body></SOAP:Envelope>`
	return reply{http.StatusInternalServerError, []byte(body)}
}

// virtuosoEmptyStatement is Virtuoso's fault for an Execute whose Statement
// is empty (measured): with a UserName property the statement's parse fails
// (SR014; the refserver checks no password); without one the login does,
// with HT042 under a BeginSession or Session header (live or not) and 00002
// under an EndSession or none. sessionHeader is the local name of the
// heeded session header, "" for none.
func virtuosoEmptyStatement(header, sessionHeader, userName string) reply {
	switch {
	case userName != "":
		return virtuosoFault(header, "22023", "SR014: Function sql_parse needs a string as argument 1, not an arg of type DB_NULL (204)")
	case sessionHeader == "BeginSession" || sessionHeader == "Session":
		return virtuosoFault(header, "22023", `HT042: Not valid user id ""`)
	}
	return virtuosoFault(header, "00002", "Unable to process the request, because the UserName property is not set or incorrect")
}

func (s *Server) xmlaHandler(d xmlaDialect) func(*call) reply {
	return func(c *call) reply { return s.serveXMLA(d, c) }
}

func (s *Server) serveXMLA(d xmlaDialect, c *call) reply {
	env, err := parseEnvelope(c.body)
	if err != nil {
		c.log.fault = "Parser"
		return xmlaFault(xmlaErrParser, "Parser: the request is not a well-formed SOAP 1.1 message: "+err.Error())
	}

	var sessHeader *node
	for _, h := range env.header {
		if h.name.Space == xmlaNS && xmlaSessionRank[h.name.Local] > 0 {
			switch {
			case sessHeader == nil:
				sessHeader = h
			case !d.virtuoso:
				c.log.fault = "BadSession"
				return xmlaFault(xmlaErrSessionNotFound, "The request carries more than one session header element.")
			case xmlaSessionRank[h.name.Local] < xmlaSessionRank[sessHeader.name.Local]:
				sessHeader = h
			}
			continue
		}
		if mustUnderstand(h, !d.virtuoso) {
			c.log.fault = "MustUnderstand"
			if d.virtuoso {
				return virtuosoMustUnderstand()
			}
			return xmlaFaultCode("soap:MustUnderstand", xmlaErrParser, "The "+qname(h.name)+" header element is not understood by the server.")
		}
	}

	// The ID of a use or an end, as sent, puts the request in flight for its
	// session whatever becomes of it. Unqualified, in the dialect's own
	// spelling; the other spelling is just an unknown attribute (Virtuoso
	// ignores SessionId).
	var named string
	if sessHeader != nil && sessHeader.name.Local != "BeginSession" {
		named, _ = sessHeader.attr("", d.idAttr)
		s.inSession(c, named)
	}

	// Decide whether the request faults before touching the session table,
	// so that a faulting request never begins, refreshes or ends a session
	// (except on Virtuoso, whose empty-statement fault comes after).
	method := env.soleElement()
	if method == nil || method.name.Space != xmlaNS || (method.name.Local != "Discover" && method.name.Local != "Execute") {
		c.log.fault = "Parser"
		return xmlaFault(xmlaErrParser, "SOAP Body not correctly formed: it must hold exactly one Discover or Execute element in the "+xmlaNS+" namespace.")
	}
	c.log.op = method.name.Local
	props := xmlaProperties(method)
	// run computes the answer from the session's state (or this request's
	// own, for a request outside a session); it cannot fault.
	var run func(st *xmlaState) string
	// emptyStatement: a Virtuoso Execute that faults once its session
	// header has had its effect.
	var emptyStatement bool
	switch method.name.Local {
	case "Discover":
		rt := method.child(xmlaNS, "RequestType")
		if rt == nil {
			c.log.fault = "Parser"
			return xmlaFault(xmlaErrParser, "SOAP Body not correctly formed: Discover has no RequestType.")
		}
		switch t := strings.TrimSpace(rt.text); t {
		case "DISCOVER_DATASOURCES":
			run = func(*xmlaState) string { return discoverDatasources(c.r) }
		case "DISCOVER_PROPERTIES":
			run = discoverProperties
		case "MDSCHEMA_SETS":
			run = mdschemaSets
		default:
			c.log.fault = "RequestType"
			return xmlaFault(xmlaErrParser, "The '"+t+"' request type is not supported by the soapsess reference server; only DISCOVER_DATASOURCES, DISCOVER_PROPERTIES and MDSCHEMA_SETS are.")
		}
	case "Execute":
		cmd := method.child(xmlaNS, "Command")
		if cmd == nil {
			c.log.fault = "Parser"
			return xmlaFault(xmlaErrParser, "SOAP Body not correctly formed: Execute has no Command.")
		}
		run = func(*xmlaState) string { return executeResult(cmd) }
		emptyStatement = d.virtuoso && isEmptyCommand(cmd)
		// Virtuoso speaks no MDX: there the statement keeps today's error.
		if st := cmd.child(xmlaNS, "Statement"); st != nil && len(cmd.children) == 1 && d.mdx {
			if obj, isSet, ok := parseCreateSession(st.text); ok {
				run = func(s *xmlaState) string {
					if !s.create(obj, isSet) {
						return executeError(xmlaErrLimit, fmt.Sprintf("The soapsess reference server keeps at most %d session sets and members, with %d bytes of names, in a session.", maxSessionObjects, maxSessionNameBytes))
					}
					return executeEmpty
				}
			}
		}
	}
	// answer is the reply: the result, or Virtuoso's empty-statement fault,
	// with header as the reply's SOAP Header content.
	answer := func(header, result string) reply {
		if emptyStatement {
			c.log.fault = "Execute"
			heeded := ""
			if sessHeader != nil {
				heeded = sessHeader.name.Local
			}
			return virtuosoEmptyStatement(header, heeded, xmlaProperty(method, "UserName"))
		}
		var b strings.Builder
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
		b.WriteString(`<soap:Envelope xmlns:soap="` + soapEnvNS + `">`)
		if header != "" {
			b.WriteString(`<soap:Header>` + header + `</soap:Header>`)
		}
		b.WriteString(`<soap:Body>` + result + `</soap:Body></soap:Envelope>`)
		return reply{http.StatusOK, []byte(b.String())}
	}
	outside := func() reply {
		// Outside a session: objects created now are gone with the request.
		return answer("", run(&xmlaState{props: props}))
	}

	if sessHeader == nil {
		return outside()
	}
	c.log.action = map[string]string{"BeginSession": "begin", "Session": "use", "EndSession": "end"}[sessHeader.name.Local]
	if sessHeader.name.Local == "BeginSession" {
		st := &xmlaState{props: props}
		result := run(st)
		idle := s.idle[d.endpoint]
		if d.virtuoso && s.opts.IdleTimeouts[d.endpoint] <= 0 {
			idle = neverIdle
		}
		id, err := s.sessions.beginWith(d.endpoint, d.newID, c.user, idle, func(se *session) { se.xmla = st })
		if err != nil {
			c.log.fault = "TooManySessions"
			return d.tooManySessions(s.sessions.max)
		}
		c.log.session = id
		return answer(d.sessionHeader(id), result)
	}
	if named == "" {
		if d.virtuoso {
			return outside()
		}
		c.log.fault = "BadSession"
		return xmlaFault(xmlaErrSessionNotFound, "The session ID is missing: the "+sessHeader.name.Local+" header has no "+d.idAttr+" attribute.")
	}
	c.log.session = named
	op := s.sessions.use
	if sessHeader.name.Local == "EndSession" {
		op = s.sessions.endWith
	}
	// Another user's session is reported as not found: saying more would
	// confirm that the ID exists.
	var result string
	err = op(d.endpoint, named, c.user, func(se *session) {
		if se.xmla == nil {
			se.xmla = &xmlaState{}
		}
		result = run(se.xmla)
	})
	if err != nil {
		if d.virtuoso {
			return outside()
		}
		c.log.fault = "BadSession"
		return xmlaNotFound(named)
	}
	// SSAS answers EndSession without any Header (MS-SSAS 4.2.4); in-session
	// replies carry the ID, as Mondrian echoes it, except on Virtuoso.
	if sessHeader.name.Local == "EndSession" || d.virtuoso {
		return answer("", result)
	}
	return answer(d.sessionHeader(named), result)
}

// xmlaSessionRank orders the session headers by which one Virtuoso heeds
// when a request carries several (measured): Session, then BeginSession,
// then EndSession. Elsewhere several are a fault.
var xmlaSessionRank = map[string]int{"Session": 1, "BeginSession": 2, "EndSession": 3}

func discoverDatasources(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	url := scheme + "://" + r.Host + r.URL.EscapedPath()
	return `<DiscoverResponse xmlns="` + xmlaNS + `"><return>` +
		`<root xmlns="` + xmlaRowsetNS + `" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
		`<row>` +
		`<DataSourceName>soapsess</DataSourceName>` +
		`<DataSourceDescription>soapsess reference server: XML for Analysis sessions, no cubes</DataSourceDescription>` +
		`<URL>` + esc(url) + `</URL>` +
		`<DataSourceInfo>Provider=soapsess</DataSourceInfo>` +
		`<ProviderName>` + xmlaSource + `</ProviderName>` +
		`<ProviderType>MDP</ProviderType>` +
		`<AuthenticationMode>Unauthenticated</AuthenticationMode>` +
		`</row></root></return></DiscoverResponse>`
}

const executeEmpty = `<ExecuteResponse xmlns="` + xmlaNS + `"><return><root xmlns="` + xmlaEmptyNS + `"/></return></ExecuteResponse>`

// executeResult answers an Execute. An empty statement is how Excel and ADOMD
// carry Begin/EndSession ([MS-SSAS] §4.2.4 ends a session with an empty
// <Statement/>) and gets an empty root; anything else gets the in-body error
// SSAS uses for command errors (Exception and Messages, [MS-SSAS]
// §2.2.4.1.5), HTTP 200.
func executeResult(cmd *node) string {
	if !isEmptyCommand(cmd) {
		return executeError(xmlaErrNotExecuted, "The soapsess reference server does not execute statements.")
	}
	return `<ExecuteResponse xmlns="` + xmlaNS + `"><return><root xmlns="` + xmlaEmptyNS + `"></root></return></ExecuteResponse>`
}

// executeError is an ExecuteResponse carrying one error the way SSAS
// reports a failed command: Exception and Messages in the empty root.
func executeError(code uint32, text string) string {
	return `<ExecuteResponse xmlns="` + xmlaNS + `"><return><root xmlns="` + xmlaEmptyNS + `">` +
		`<Exception xmlns="` + xmlaExceptionNS + `"/>` +
		`<Messages xmlns="` + xmlaExceptionNS + `">` +
		fmt.Sprintf(`<Error ErrorCode="%d" Description="%s" Source="%s" HelpFile=""/>`, code, esc(text), xmlaSource) +
		`</Messages></root></return></ExecuteResponse>`
}

// isEmptyCommand reports whether an Execute's Command holds nothing, or one
// empty Statement.
func isEmptyCommand(cmd *node) bool {
	if st := cmd.child(xmlaNS, "Statement"); st != nil && len(cmd.children) == 1 {
		return strings.TrimSpace(st.text) == "" && len(st.children) == 0
	}
	return !cmd.hasText() && len(cmd.children) == 0
}

// xmlaState is an XMLA session's state: the begin's properties and the
// session-scoped objects created in it.
type xmlaState struct {
	props map[string]string // Catalog, DataSourceInfo as given at begin
	sets  []xmlaObject      // CREATE SESSION SET, in creation order
	// members are CREATE SESSION MEMBER names: kept, listed by no rowset.
	members []xmlaObject
	// nameBytes is the length of all the kept cube and object names.
	nameBytes int
}

// What one session keeps of CREATE SESSION SET and MEMBER, so that a client
// creating objects in a loop cannot grow the server without end. SSAS
// publishes no such limit; a CREATE beyond these gets the in-body error an
// Execute that fails gets (executeError), and nothing is kept.
const (
	maxSessionObjects   = 1000
	maxSessionNameBytes = 64 << 10
)

type xmlaObject struct {
	cube, name string // unbracketed: the first and the last part
}

// xmlaKeptProperties are the begin properties a session keeps.
var xmlaKeptProperties = []string{"DataSourceInfo", "Catalog"}

// xmlaProperties reads Properties/PropertyList of a Discover or Execute.
func xmlaProperties(method *node) map[string]string {
	out := map[string]string{}
	p := method.child(xmlaNS, "Properties")
	if p == nil {
		return out
	}
	if pl := p.child(xmlaNS, "PropertyList"); pl != nil {
		for _, name := range xmlaKeptProperties {
			if v := pl.child(xmlaNS, name); v != nil {
				out[name] = strings.TrimSpace(v.text)
			}
		}
	}
	return out
}

// xmlaProperty returns one property of a Discover or Execute, "" when it has none.
func xmlaProperty(method *node, name string) string {
	if p := method.child(xmlaNS, "Properties"); p != nil {
		if pl := p.child(xmlaNS, "PropertyList"); pl != nil {
			if v := pl.child(xmlaNS, name); v != nil {
				return strings.TrimSpace(v.text)
			}
		}
	}
	return ""
}

// create stores a session object; the same name again (names compared
// case-insensitively, as MDX does) replaces the earlier one. It reports
// false, keeping nothing, when a new object would take the session past
// maxSessionObjects or maxSessionNameBytes.
func (st *xmlaState) create(obj xmlaObject, isSet bool) bool {
	list := &st.members
	if isSet {
		list = &st.sets
	}
	size := len(obj.cube) + len(obj.name)
	for i, o := range *list {
		if strings.EqualFold(o.cube, obj.cube) && strings.EqualFold(o.name, obj.name) {
			st.nameBytes += size - len(o.cube) - len(o.name)
			(*list)[i] = obj
			return true
		}
	}
	if len(st.sets)+len(st.members) >= maxSessionObjects || st.nameBytes+size > maxSessionNameBytes {
		return false
	}
	st.nameBytes += size
	*list = append(*list, obj)
	return true
}

var reCreateSession = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?is)^\s*CREATE\s+SESSION\s+(SET|MEMBER)\s+(.*)$`) })

// parseCreateSession recognises CREATE SESSION SET [cube].[name] AS … and
// CREATE SESSION MEMBER [cube].[dimension…].[name] AS … (parts bracketed,
// with ]] for ], or plain words).
func parseCreateSession(stmt string) (obj xmlaObject, isSet, ok bool) {
	m := reCreateSession().FindStringSubmatch(stmt)
	if m == nil {
		return obj, false, false
	}
	isSet = strings.EqualFold(m[1], "SET")
	rest := m[2]
	var parts []string
	for {
		var part string
		if strings.HasPrefix(rest, "[") {
			i := 1
			var b strings.Builder
			for {
				j := strings.IndexByte(rest[i:], ']')
				if j < 0 {
					return obj, false, false
				}
				b.WriteString(rest[i : i+j])
				i += j + 1
				if strings.HasPrefix(rest[i:], "]") {
					b.WriteByte(']')
					i++
					continue
				}
				break
			}
			part, rest = b.String(), rest[i:]
		} else {
			w := reMDXWord().FindString(rest)
			if w == "" {
				return obj, false, false
			}
			part, rest = w, rest[len(w):]
		}
		if strings.TrimSpace(part) == "" {
			return obj, false, false
		}
		parts = append(parts, part)
		if !strings.HasPrefix(rest, ".") {
			break
		}
		rest = rest[1:]
	}
	if !reMDXAs().MatchString(rest) || (isSet && len(parts) != 2) || (!isSet && len(parts) < 3) {
		return obj, false, false
	}
	// CURRENTCUBE would need the session's cube; it is not supported.
	if strings.EqualFold(parts[0], "CURRENTCUBE") && !strings.HasPrefix(m[2], "[") {
		return obj, false, false
	}
	return xmlaObject{cube: parts[0], name: parts[len(parts)-1]}, isSet, true
}

var (
	reMDXWord = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`) })
	reMDXAs   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?is)^\s+AS\s`) })
)

func rowset(rows string) string {
	return `<DiscoverResponse xmlns="` + xmlaNS + `"><return>` +
		`<root xmlns="` + xmlaRowsetNS + `" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
		rows + `</root></return></DiscoverResponse>`
}

// mdschemaSets lists the session's sets: SCOPE 2 is MDSET_SCOPE_SESSION
// (OLE DB for OLAP); the server has no global sets. Restrictions are ignored.
func mdschemaSets(st *xmlaState) string {
	var b strings.Builder
	for _, o := range st.sets {
		b.WriteString(`<row>`)
		if c := st.props["Catalog"]; c != "" {
			b.WriteString(`<CATALOG_NAME>` + esc(c) + `</CATALOG_NAME>`)
		}
		b.WriteString(`<CUBE_NAME>` + esc(o.cube) + `</CUBE_NAME><SET_NAME>` + esc(o.name) + `</SET_NAME><SCOPE>2</SCOPE></row>`)
	}
	return rowset(b.String())
}

// discoverProperties reports the kept begin properties (for a request outside
// a session: its own), with Value only when one was given.
func discoverProperties(st *xmlaState) string {
	desc := map[string]string{"DataSourceInfo": "The data source to connect to.", "Catalog": "The database (catalog) of the session."}
	var b strings.Builder
	for _, name := range xmlaKeptProperties {
		b.WriteString(`<row><PropertyName>` + name + `</PropertyName><PropertyDescription>` + desc[name] + `</PropertyDescription>` +
			`<PropertyType>string</PropertyType><PropertyAccessType>ReadWrite</PropertyAccessType><IsRequired>false</IsRequired>`)
		if v, ok := st.props[name]; ok {
			b.WriteString(`<Value>` + esc(v) + `</Value>`)
		}
		b.WriteString(`</row>`)
	}
	return rowset(b.String())
}
