package refserver

import (
	"fmt"
	"net/http"
	"strings"
)

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

	// Work out the whole answer before touching the session table, so that a
	// faulting request never begins, refreshes or ends a session.
	method := env.soleElement()
	if method == nil || method.name.Space != xmlaNS || (method.name.Local != "Discover" && method.name.Local != "Execute") {
		c.log.fault = "Parser"
		return xmlaFault(xmlaErrParser, "SOAP Body not correctly formed: it must hold exactly one Discover or Execute element in the "+xmlaNS+" namespace.")
	}
	c.log.op = method.name.Local
	var result string
	switch method.name.Local {
	case "Discover":
		rt := method.child(xmlaNS, "RequestType")
		if rt == nil {
			c.log.fault = "Parser"
			return xmlaFault(xmlaErrParser, "SOAP Body not correctly formed: Discover has no RequestType.")
		}
		if t := strings.TrimSpace(rt.text); t != "DISCOVER_DATASOURCES" {
			c.log.fault = "RequestType"
			return xmlaFault(xmlaErrParser, "The '"+t+"' request type is not supported by the soapsess reference server; only DISCOVER_DATASOURCES is.")
		}
		result = discoverDatasources(c.r)
	case "Execute":
		cmd := method.child(xmlaNS, "Command")
		if cmd == nil {
			c.log.fault = "Parser"
			return xmlaFault(xmlaErrParser, "SOAP Body not correctly formed: Execute has no Command.")
		}
		result = executeResult(cmd)
	}

	var id string
	if sessHeader != nil {
		c.log.action = map[string]string{"BeginSession": "begin", "Session": "use", "EndSession": "end"}[sessHeader.name.Local]
		if sessHeader.name.Local == "BeginSession" {
			id = s.sessions.begin(d.endpoint, newXMLAID, c.user, s.idle)
		} else {
			// Unqualified, in the dialect's own spelling; the other spelling is
			// just an unknown attribute (Virtuoso ignores SessionId).
			v, ok := sessHeader.attr("", d.idAttr)
			if !ok || v == "" {
				c.log.fault = "BadSession"
				return xmlaFault(xmlaErrSessionNotFound, "The session ID is missing: the "+sessHeader.name.Local+" header has no "+d.idAttr+" attribute.")
			}
			c.log.session = v
			op := s.sessions.touch
			if sessHeader.name.Local == "EndSession" {
				op = s.sessions.end
			}
			// Another user's session is reported as not found: saying more
			// would confirm that the ID exists.
			if err := op(d.endpoint, v, c.user); err != nil {
				c.log.fault = "BadSession"
				return xmlaNotFound(v)
			}
			id = v
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
