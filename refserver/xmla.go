package refserver

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
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
)

// xmlaDialect is what differs between the SSAS-style and the Virtuoso-style
// endpoint: how the session-ID attribute is spelled, read and written.
type xmlaDialect struct {
	endpoint string
	idAttr   string
	// sessionHeader renders the reply's Session header for id.
	sessionHeader func(id string) string
}

var (
	xmlaSSAS = xmlaDialect{
		endpoint: PathXMLA,
		idAttr:   "SessionId",
		sessionHeader: func(id string) string {
			return `<Session xmlns="` + xmlaNS + `" SessionId="` + esc(id) + `"/>`
		},
	}
	// Virtuoso reads and writes SessionID (libsrc/Wi/xmla.sql, xmla_session).
	xmlaVirtuoso = xmlaDialect{
		endpoint: PathXMLAVirtuoso,
		idAttr:   "SessionID",
		sessionHeader: func(id string) string {
			return `<XA:Session xmlns:XA="` + xmlaNS + `" mustUnderstand="1" SessionID="` + esc(id) + `"/>`
		},
	}
)

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
		if h.name.Space == xmlaNS && (h.name.Local == "BeginSession" || h.name.Local == "Session" || h.name.Local == "EndSession") {
			if sessHeader != nil {
				c.log.fault = "BadSession"
				return xmlaFault(xmlaErrSessionNotFound, "The request carries more than one session header element.")
			}
			sessHeader = h
			continue
		}
		if mustUnderstand(h, true) {
			c.log.fault = "MustUnderstand"
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
	// so that a faulting request never begins, refreshes or ends a session.
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
		// Virtuoso speaks no MDX: there the statement keeps today's error.
		if st := cmd.child(xmlaNS, "Statement"); st != nil && len(cmd.children) == 1 && d.endpoint == PathXMLA {
			if obj, isSet, ok := parseCreateSession(st.text); ok {
				run = func(s *xmlaState) string {
					s.create(obj, isSet)
					return executeEmpty
				}
			}
		}
	}

	var id, result string
	if sessHeader == nil {
		// Outside a session: objects created now are gone with the request.
		result = run(&xmlaState{props: props})
	} else {
		c.log.action = map[string]string{"BeginSession": "begin", "Session": "use", "EndSession": "end"}[sessHeader.name.Local]
		if sessHeader.name.Local == "BeginSession" {
			st := &xmlaState{props: props}
			result = run(st)
			id = s.sessions.beginWith(d.endpoint, newXMLAID, c.user, s.idle[d.endpoint], func(se *session) { se.xmla = st })
		} else {
			if named == "" {
				c.log.fault = "BadSession"
				return xmlaFault(xmlaErrSessionNotFound, "The session ID is missing: the "+sessHeader.name.Local+" header has no "+d.idAttr+" attribute.")
			}
			c.log.session = named
			op := s.sessions.use
			if sessHeader.name.Local == "EndSession" {
				op = s.sessions.endWith
			}
			// Another user's session is reported as not found: saying more
			// would confirm that the ID exists.
			err := op(d.endpoint, named, c.user, func(se *session) {
				if se.xmla == nil {
					se.xmla = &xmlaState{}
				}
				result = run(se.xmla)
			})
			if err != nil {
				c.log.fault = "BadSession"
				return xmlaNotFound(named)
			}
			id = named
		}
		c.log.session = id
	}

	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	b.WriteString(`<soap:Envelope xmlns:soap="` + soapEnvNS + `">`)
	// SSAS answers EndSession without any Header (MS-SSAS 4.2.4); Begin and
	// in-session replies carry the ID, as Mondrian echoes it.
	if sessHeader != nil && sessHeader.name.Local != "EndSession" {
		b.WriteString(`<soap:Header>` + d.sessionHeader(id) + `</soap:Header>`)
	}
	b.WriteString(`<soap:Body>` + result + `</soap:Body></soap:Envelope>`)
	return reply{http.StatusOK, []byte(b.String())}
}

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
	empty := !cmd.hasText() && len(cmd.children) == 0
	if st := cmd.child(xmlaNS, "Statement"); st != nil && len(cmd.children) == 1 {
		empty = strings.TrimSpace(st.text) == "" && len(st.children) == 0
	}
	inner := ""
	if !empty {
		inner = `<Exception xmlns="` + xmlaExceptionNS + `"/>` +
			`<Messages xmlns="` + xmlaExceptionNS + `">` +
			fmt.Sprintf(`<Error ErrorCode="%d" Description="The soapsess reference server does not execute statements." Source="%s" HelpFile=""/>`, uint32(xmlaErrNotExecuted), xmlaSource) +
			`</Messages>`
	}
	return `<ExecuteResponse xmlns="` + xmlaNS + `"><return><root xmlns="` + xmlaEmptyNS + `">` + inner + `</root></return></ExecuteResponse>`
}

// xmlaState is an XMLA session's state: the begin's properties and the
// session-scoped objects created in it.
type xmlaState struct {
	props map[string]string // Catalog, DataSourceInfo as given at begin
	sets  []xmlaObject      // CREATE SESSION SET, in creation order
	// members are CREATE SESSION MEMBER names: kept, listed by no rowset.
	members []xmlaObject
}

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

// create stores a session object; the same name again (names compared
// case-insensitively, as MDX does) replaces the earlier one.
func (st *xmlaState) create(obj xmlaObject, isSet bool) {
	list := &st.members
	if isSet {
		list = &st.sets
	}
	for i, o := range *list {
		if strings.EqualFold(o.cube, obj.cube) && strings.EqualFold(o.name, obj.name) {
			(*list)[i] = obj
			return
		}
	}
	*list = append(*list, obj)
}

var reCreateSession = regexp.MustCompile(`(?is)^\s*CREATE\s+SESSION\s+(SET|MEMBER)\s+(.*)$`)

// parseCreateSession recognises CREATE SESSION SET [cube].[name] AS … and
// CREATE SESSION MEMBER [cube].[dimension…].[name] AS … (parts bracketed,
// with ]] for ], or plain words).
func parseCreateSession(stmt string) (obj xmlaObject, isSet, ok bool) {
	m := reCreateSession.FindStringSubmatch(stmt)
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
			w := reMDXWord.FindString(rest)
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
	if !reMDXAs.MatchString(rest) || (isSet && len(parts) != 2) || (!isSet && len(parts) < 3) {
		return obj, false, false
	}
	// CURRENTCUBE would need the session's cube; it is not supported.
	if strings.EqualFold(parts[0], "CURRENTCUBE") && !strings.HasPrefix(m[2], "[") {
		return obj, false, false
	}
	return xmlaObject{cube: parts[0], name: parts[len(parts)-1]}, isSet, true
}

var (
	reMDXWord = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)
	reMDXAs   = regexp.MustCompile(`(?is)^\s+AS\s`)
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
