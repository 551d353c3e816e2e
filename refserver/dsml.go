package refserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/soapsess/soapsess/ldapcontrol"
)

// DSML session extension, [MS-DSML] §2.2; the core namespace is the OASIS
// DSMLv2 schema's targetNamespace.
const (
	dsmlSessionNS = "urn:schema-microsoft-com:activedirectory:dsmlv2"
	dsmlCoreNS    = "urn:oasis:names:tc:DSML:2:0:core"
)

// The three faults MS-DSML §3.1.4.4 defines; detail is plain text there.
var (
	dsmlBadSession = dsmlFaultKind{"Client", "SOAP Invalid Request", "Bad Session Request"}
	dsmlBadRequest = dsmlFaultKind{"Client", "SOAP Invalid Request", "Bad Request"}
)

type dsmlFaultKind struct {
	code, text, detail string
}

func dsmlFault(f dsmlFaultKind) reply {
	body := `<?xml version="1.0" encoding="utf-8"?>` +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + soapEnvNS + `"><SOAP-ENV:Body><SOAP-ENV:Fault>` +
		`<faultcode>SOAP-ENV:` + f.code + `</faultcode>` +
		`<faultstring>` + esc(f.text) + `</faultstring>` +
		`<detail>` + esc(f.detail) + `</detail>` +
		`</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>`
	return reply{http.StatusInternalServerError, []byte(body)}
}

func (s *Server) serveDSML(c *call) reply {
	env, err := parseEnvelope(c.body)
	if err != nil {
		c.log.fault = "BadRequest"
		return dsmlFault(dsmlBadRequest)
	}

	var sessHeader *node
	for _, h := range env.header {
		if h.name.Space == dsmlSessionNS && (h.name.Local == "BeginSession" || h.name.Local == "Session" || h.name.Local == "EndSession") {
			if sessHeader != nil {
				// DSFW: only one session header per message.
				c.log.fault = "BadSession"
				return dsmlFault(dsmlBadSession)
			}
			sessHeader = h
			continue
		}
		if mustUnderstand(h, false) {
			// MS-DSML defines no fault for this; SOAP 1.1 §4.4.1 says MustUnderstand.
			c.log.fault = "MustUnderstand"
			return dsmlFault(dsmlFaultKind{"MustUnderstand", "SOAP Must Understand Error", "Header not understood: " + qname(h.name)})
		}
	}

	// The ID of a use or an end, as sent, puts the request in flight for its
	// session whatever becomes of it. MS-DSML §7 note <2>: Windows faults on
	// an unprefixed SessionID, so only the namespace-qualified attribute counts.
	var named string
	if sessHeader != nil && sessHeader.name.Local != "BeginSession" {
		named, _ = sessHeader.attr(dsmlSessionNS, "SessionID")
		s.inSession(c, named)
	}

	// DSFW docs: an empty SOAP Body is an error; it must hold one batchRequest.
	batch := env.soleElement()
	if batch == nil || !batch.is(dsmlCoreNS, "batchRequest") {
		c.log.fault = "BadRequest"
		return dsmlFault(dsmlBadRequest)
	}
	c.log.op = "batchRequest"

	var id string
	if sessHeader != nil {
		switch sessHeader.name.Local {
		case "BeginSession":
			c.log.action = "begin"
			var err error
			if id, err = s.sessions.begin(PathDSML, newDSMLID, c.user, s.idle[PathDSML]); err != nil {
				// "If the server cannot establish a session, a SOAP fault
				// will be returned and no DSML operation will be attempted"
				// (DSFW docs, Session Support Example): the one fault
				// [MS-DSML] §3.1.4.4 has for a session request that cannot
				// be processed, at MaxSessionsAllowed as for a bad ID.
				c.log.fault = "TooManySessions"
				return dsmlFault(dsmlBadSession)
			}
		default:
			c.log.action = "use"
			if sessHeader.name.Local == "EndSession" {
				c.log.action = "end"
			}
			if named == "" {
				c.log.fault = "BadSession"
				return dsmlFault(dsmlBadSession)
			}
			c.log.session = named
			op := s.sessions.touch
			if sessHeader.name.Local == "EndSession" {
				op = s.sessions.end
			}
			if err := op(PathDSML, named, c.user); err != nil {
				c.log.fault = "BadSession"
				return dsmlFault(dsmlBadSession)
			}
			id = named
		}
		c.log.session = id
	}

	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	b.WriteString(`<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + soapEnvNS + `">`)
	if sessHeader != nil {
		// MS-DSML §2.2.2.2: every reply to a session request carries the ID,
		// prefixed "ad:", without mustUnderstand.
		b.WriteString(`<SOAP-ENV:Header><ad:Session xmlns:ad="` + dsmlSessionNS + `" ad:SessionID="` + esc(id) + `"/></SOAP-ENV:Header>`)
	}
	b.WriteString(`<SOAP-ENV:Body>`)
	var conn *dsmlConn
	if sessHeader != nil {
		conn = &dsmlConn{st: s.sessions, key: sessionKey{PathDSML, id}}
	}
	s.dir.runBatch(&b, batch, conn)
	b.WriteString(`</SOAP-ENV:Body></SOAP-ENV:Envelope>`)
	return reply{http.StatusOK, []byte(b.String())}
}

// dsmlConn stands for the LDAP connection DSFW keeps for a session: the
// session its paged searches belong to. It is nil for a stateless request.
type dsmlConn struct {
	st  *sessionStore
	key sessionKey
}

// runBatch answers a batchRequest. Errors inside DSML are errorResponses and
// result codes, never SOAP faults: the OASIS DSML TC's SOAP binding keeps
// faults for "an error or errors [that] occurred outside DSML", and [MS-DSML]
// §3.1.4.4 defines faults only for bad session and bad SOAP requests.
// Operations run sequentially under the directory lock, whatever
// "processing" asks for.
func (d *directory) runBatch(b *strings.Builder, req *node, conn *dsmlConn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b.WriteString(`<batchResponse xmlns="` + dsmlCoreNS + `"` + requestIDAttr(req) + `>`)
	// OASIS XSD: onError defaults to "exit".
	exit := true
	if v, _ := req.attr("", "onError"); strings.TrimSpace(v) == "resume" {
		exit = false
	}
	for _, op := range req.children {
		if ok := d.runOp(b, op, conn); !ok && exit {
			break
		}
	}
	b.WriteString(`</batchResponse>`)
}

func requestIDAttr(n *node) string {
	if v, ok := n.attr("", "requestID"); ok {
		return ` requestID="` + esc(v) + `"`
	}
	return ""
}

// runOp writes the response to one operation; it returns false when that
// response is an errorResponse.
func (d *directory) runOp(b *strings.Builder, op *node, conn *dsmlConn) bool {
	rid := requestIDAttr(op)
	if op.name.Space != dsmlCoreNS {
		writeErrorResponse(b, rid, "malformedRequest", fmt.Sprintf("%s is not a DSML v2 operation", qname(op.name)))
		return false
	}
	ctrls, err := parseControls(op)
	if err != nil {
		writeErrorResponse(b, rid, "malformedRequest", err.Error())
		return false
	}
	// DSFW's control table: session-bound, unknown and forbidden controls
	// get an errorResponse, generated by DSFW itself, before anything runs.
	if msg := refuseControls(ctrls, conn != nil); msg != "" {
		writeErrorResponse(b, rid, "notAttempted", msg)
		return false
	}
	switch op.name.Local {
	case "searchRequest":
		return d.runSearch(b, rid, op, ctrls, conn)
	case "addRequest":
		dn, ok := op.attr("", "dn")
		if !ok {
			writeErrorResponse(b, rid, "malformedRequest", "addRequest without dn")
			return false
		}
		if c := unsupportedCritical(ctrls, ""); c != nil {
			writeLDAPResultMsg(b, "addResponse", rid, ldapUnavailableCriticalExtension, unsupportedCriticalMessage(c), "")
			return true
		}
		var attrs []attribute
		for _, a := range op.children {
			if !a.is(dsmlCoreNS, "attr") {
				continue
			}
			name, _ := a.attr("", "name")
			at := attribute{name: name}
			for _, v := range a.children {
				if v.is(dsmlCoreNS, "value") {
					at.values = append(at.values, v.text)
				}
			}
			attrs = append(attrs, at)
		}
		if code := d.add(dn, attrs); code == ldapAdminLimitExceeded {
			writeLDAPResultMsg(b, "addResponse", rid, code, fmt.Sprintf("soapsess reference server: the directory holds at most %d entries, %d bytes of them", d.maxEntries, d.maxSize), "")
		} else {
			writeLDAPResult(b, "addResponse", rid, code)
		}
		return true
	case "delRequest":
		dn, ok := op.attr("", "dn")
		if !ok {
			writeErrorResponse(b, rid, "malformedRequest", "delRequest without dn")
			return false
		}
		if c := unsupportedCritical(ctrls, ""); c != nil {
			writeLDAPResultMsg(b, "delResponse", rid, ldapUnavailableCriticalExtension, unsupportedCriticalMessage(c), "")
			return true
		}
		writeLDAPResult(b, "delResponse", rid, d.del(dn))
		return true
	}
	writeErrorResponse(b, rid, "notAttempted", op.name.Local+" is not supported by the soapsess reference server")
	return false
}

// maxPageSize is Active Directory's default MaxPageSize: the most entries one
// search reply holds, paged or not. An unpaged search that finds more returns
// the first 1,000 and sizeLimitExceeded; a larger page size is cut to it.
const maxPageSize = 1000

func (d *directory) runSearch(b *strings.Builder, rid string, op *node, ctrls []control, conn *dsmlConn) bool {
	dn, ok := op.attr("", "dn")
	if !ok {
		writeErrorResponse(b, rid, "malformedRequest", "searchRequest without dn")
		return false
	}
	var sc scope
	switch v, _ := op.attr("", "scope"); v {
	case "baseObject":
		sc = scopeBase
	case "singleLevel":
		sc = scopeOne
	case "wholeSubtree":
		sc = scopeSub
	default:
		writeErrorResponse(b, rid, "malformedRequest", fmt.Sprintf("searchRequest scope %q is not baseObject, singleLevel or wholeSubtree", v))
		return false
	}
	f := op.child(dsmlCoreNS, "filter")
	if f == nil || len(f.children) != 1 {
		writeErrorResponse(b, rid, "malformedRequest", "searchRequest needs a filter with one element")
		return false
	}
	match, err := compileFilter(f.children[0])
	if err != nil {
		writeErrorResponse(b, rid, "notAttempted", err.Error())
		return false
	}
	var want []string // nil: all attributes
	if list := op.child(dsmlCoreNS, "attributes"); list != nil {
		for _, a := range list.children {
			if name, ok := a.attr("", "name"); ok && a.is(dsmlCoreNS, "attribute") {
				want = append(want, name)
			}
		}
	}
	typesOnly := false
	if v, ok := op.attr("", "typesOnly"); ok {
		typesOnly, _ = parseXSBoolean(v)
	}
	sizeLimit := 0
	if v, ok := op.attr("", "sizeLimit"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			writeErrorResponse(b, rid, "malformedRequest", fmt.Sprintf("searchRequest sizeLimit %q is not a non-negative integer", v))
			return false
		}
		sizeLimit = n
	}

	b.WriteString(`<searchResponse` + rid + `>`)
	defer b.WriteString(`</searchResponse>`)
	if c := unsupportedCritical(ctrls, ldapcontrol.PagedResultsOID); c != nil {
		writeLDAPResultMsg(b, "searchResultDone", "", ldapUnavailableCriticalExtension, unsupportedCriticalMessage(c), "")
		return true
	}
	writeEntry := func(e *entry) {
		b.WriteString(`<searchResultEntry dn="` + esc(e.dn) + `">`)
		for _, a := range selectAttrs(e, want) {
			b.WriteString(`<attr name="` + esc(a.name) + `">`)
			if !typesOnly {
				for _, v := range a.values {
					b.WriteString(`<value>` + esc(v) + `</value>`)
				}
			}
			b.WriteString(`</attr>`)
		}
		b.WriteString(`</searchResultEntry>`)
	}
	base := normDN(dn)
	for i := range ctrls {
		if ctrls[i].oid == ldapcontrol.PagedResultsOID {
			// refuseControls let it through, so conn is not nil.
			d.pagedSearch(b, &ctrls[i], conn, base, sc, f.children[0], match, writeEntry)
			return true
		}
	}

	// Unpaged: at most MaxPageSize entries, or the request's own smaller
	// sizeLimit, then sizeLimitExceeded.
	limit := maxPageSize
	if sizeLimit > 0 && sizeLimit < limit {
		limit = sizeLimit
	}
	n, exceeded := 0, false
	found := d.scan(base, sc, match, 0, func(e *entry) bool {
		if n == limit {
			exceeded = true
			return false
		}
		writeEntry(e)
		n++
		return true
	})
	code := ldapSuccess
	switch {
	case !found:
		code = ldapNoSuchObject
	case exceeded:
		code = ldapSizeLimitExceeded
	}
	writeLDAPResult(b, "searchResultDone", "", code)
	return true
}

// pagedSearch answers one page of a paged search (RFC 2696) inside a session.
//
// A page holds up to the requested size (at most MaxPageSize) entries, and its
// searchResultDone carries the control with the cookie for the next page. As
// in Active Directory, a full page always gets a cookie, even when nothing
// follows: the search is complete when a page comes back short, with an empty
// cookie ("How LDAP server cookies are handled"). Each page consumes its
// cookie and issues a fresh random one. A request with size 0 and a cookie
// abandons the search and frees its cursor (RFC 2696 §3).
//
// A cookie is good only in the session that issued it, while that session
// lives, and only for the same base, scope and filter. Any other use is
// answered as Active Directory answers a cookie it cannot find: the search is
// not run, and searchResultDone carries an error whose message starts with
// AD's "00000057: LdapErr: DSID-…, comment: Error processing control" (same
// page; the DSID, which names a spot in AD's code, is zeros here). AD's
// documentation gives that message but not its result code; clients report it
// as 12 (unavailableCriticalExtension) for the critical paged control they
// send, which is also what RFC 4511 §4.1.11 requires when a critical control
// cannot be honoured. For a non-critical control RFC 4511 would have the
// server ignore it, which here would restart the search at its first page and
// duplicate entries, so the server refuses with 53 (unwillingToPerform)
// instead. These are LDAP results, not errorResponses: in DSFW they come from
// the directory behind the gateway, over the session's connection. A cookie
// presented for another search stays good for its own.
func (d *directory) pagedSearch(b *strings.Builder, ctl *control, conn *dsmlConn, base []string, sc scope, filter *node, match func(*entry) bool, writeEntry func(*entry)) {
	refuse := func(msg string) {
		code := ldapUnwillingToPerform
		if ctl.critical {
			code = ldapUnavailableCriticalExtension
		}
		writeLDAPResultMsg(b, "searchResultDone", "", code, "00000057: LdapErr: DSID-00000000, comment: Error processing control, data 0 (soapsess reference server: "+msg+")", "")
	}
	if !ctl.hasValue {
		refuse("the paged results control has no controlValue")
		return
	}
	p, err := ldapcontrol.DecodePagedBase64(ctl.value)
	if err != nil {
		refuse(err.Error())
		return
	}
	key := searchKey(base, sc, filter)
	var from uint64
	if len(p.Cookie) > 0 {
		cur, err := conn.st.takeCursor(conn.key, string(p.Cookie), key)
		if err != nil {
			refuse(err.Error())
			return
		}
		from = cur.next
	}
	if p.Size == 0 {
		// Abandoned (the cursor, if any, was taken and is dropped), or
		// nothing asked for.
		writeLDAPResultMsg(b, "searchResultDone", "", ldapSuccess, "", pagedResponseControl(nil))
		return
	}
	size := min(p.Size, maxPageSize)
	n, full := 0, false
	var last uint64
	if !d.scan(base, sc, match, from, func(e *entry) bool {
		writeEntry(e)
		n++
		last = e.seq
		full = n == size
		return !full
	}) {
		writeLDAPResult(b, "searchResultDone", "", ldapNoSuchObject)
		return
	}
	var cookie []byte
	if full {
		cookie = []byte(conn.st.putCursor(conn.key, &cursor{search: key, next: last + 1}))
	}
	writeLDAPResultMsg(b, "searchResultDone", "", ldapSuccess, "", pagedResponseControl(cookie))
}

// selectAttrs applies a search's attribute list: none listed or "*" means all
// user attributes, "1.1" means none (RFC 4511 §4.5.1.8).
func selectAttrs(e *entry, want []string) []attribute {
	if len(want) == 0 {
		return e.attrs
	}
	var out []attribute
	for _, a := range e.attrs {
		for _, w := range want {
			if w == "*" || strings.EqualFold(w, a.name) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// compileFilter turns a DSML filter element into a predicate. Attribute names
// and values compare case-insensitively, as for the directory's string syntaxes.
func compileFilter(f *node) (func(*entry) bool, error) {
	if f.name.Space != dsmlCoreNS {
		return nil, fmt.Errorf("filter element %s is not DSML", qname(f.name))
	}
	switch f.name.Local {
	case "and", "or":
		var subs []func(*entry) bool
		for _, c := range f.children {
			m, err := compileFilter(c)
			if err != nil {
				return nil, err
			}
			subs = append(subs, m)
		}
		all := f.name.Local == "and"
		return func(e *entry) bool {
			for _, m := range subs {
				if m(e) != all {
					return !all
				}
			}
			return all
		}, nil
	case "not":
		if len(f.children) != 1 {
			return nil, fmt.Errorf("filter not needs exactly one element")
		}
		m, err := compileFilter(f.children[0])
		if err != nil {
			return nil, err
		}
		return func(e *entry) bool { return !m(e) }, nil
	case "present":
		name, _ := f.attr("", "name")
		return func(e *entry) bool { return e.attr(name) != nil }, nil
	case "equalityMatch":
		name, _ := f.attr("", "name")
		v := f.child(dsmlCoreNS, "value")
		if v == nil {
			return nil, fmt.Errorf("filter equalityMatch needs a value")
		}
		return func(e *entry) bool {
			if a := e.attr(name); a != nil {
				for _, have := range a.values {
					if strings.EqualFold(have, v.text) {
						return true
					}
				}
			}
			return false
		}, nil
	}
	return nil, fmt.Errorf("filter %s is not supported by the soapsess reference server", f.name.Local)
}

func writeLDAPResult(b *strings.Builder, elem, rid string, code int) {
	msg := ""
	if code != ldapSuccess {
		msg = ldapDescr[code]
	}
	writeLDAPResultMsg(b, elem, rid, code, msg, "")
}

// writeLDAPResultMsg writes an LDAPResult: controls first, as the DSMLv2
// schema orders them, then resultCode and an errorMessage unless msg is empty.
func writeLDAPResultMsg(b *strings.Builder, elem, rid string, code int, msg, controls string) {
	fmt.Fprintf(b, `<%s%s>%s<resultCode code="%d" descr="%s"/>`, elem, rid, controls, code, ldapDescr[code])
	if msg != "" {
		b.WriteString(`<errorMessage>` + esc(msg) + `</errorMessage>`)
	}
	b.WriteString(`</` + elem + `>`)
}

func writeErrorResponse(b *strings.Builder, rid, typ, msg string) {
	b.WriteString(`<errorResponse` + rid + ` type="` + typ + `"><message>` + esc(msg) + `</message></errorResponse>`)
}
