package refserver

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"

	"github.com/soapsess/soapsess/ldapcontrol"
)

// LDAP controls in DSML requests, treated as DSML Services for Windows treats
// them. Its documentation ("LDAP Controls and Session Support", MicrosoftDocs
// win32 desktop-src/DSML/ldap-controls-and-session-support.md) sorts controls
// into four kinds:
//
//	kind                       in a session                stateless request
//	session support required   allowed                     forbidden, error response
//	stateless                  allowed, same as stateless  allowed
//	unknown                    allowed                     forbidden, error response
//	forbidden                  forbidden, error response   forbidden, error response
//
// and lists the kind of each control Active Directory supports. The
// reference server implements only the paged results control; it accepts and
// ignores the stateless ones (it neither sorts nor shows deleted objects), and
// answers a critical control it does not implement, where DSFW would pass it
// on to Active Directory, with unavailableCriticalExtension (RFC 4511 §4.1.11).

type controlKind int

const (
	controlUnknown controlKind = iota
	controlSession
	controlStateless
	controlForbidden
)

// controlKinds is the table of controls and extended operations in DSFW's
// documentation, by OID.
var controlKinds = map[string]controlKind{
	ldapcontrol.PagedResultsOID:  controlSession,   // LDAP_PAGED_RESULT_OID_STRING
	ldapcontrol.VLVRequestOID:    controlSession,   // LDAP_CONTROL_VLVREQUEST
	"1.2.840.113556.1.4.417":     controlStateless, // show deleted
	"1.2.840.113556.1.4.473":     controlStateless, // server sort
	"1.2.840.113556.1.4.521":     controlStateless, // cross-domain move target
	"1.2.840.113556.1.4.528":     controlForbidden, // server search notification
	"1.2.840.113556.1.4.529":     controlStateless, // extended DN
	"1.2.840.113556.1.4.619":     controlStateless, // lazy commit
	"1.2.840.113556.1.4.801":     controlStateless, // security descriptor flags
	"1.2.840.113556.1.4.805":     controlStateless, // tree delete
	"1.2.840.113556.1.4.841":     controlStateless, // dirsync
	"1.2.840.113556.1.4.970":     controlStateless, // get stats
	"1.2.840.113556.1.4.1338":    controlStateless, // verify name
	"1.2.840.113556.1.4.1339":    controlStateless, // domain scope
	"1.2.840.113556.1.4.1340":    controlStateless, // search options
	"1.2.840.113556.1.4.1413":    controlStateless, // permissive modify
	"1.2.840.113556.1.4.1504":    controlStateless, // attribute scoped query
	"1.2.840.113556.1.4.1781":    controlForbidden, // fast concurrent bind (extended operation)
	"1.3.6.1.4.1.1466.101.119.1": controlStateless, // TTL refresh (extended operation)
	"1.3.6.1.4.1.1466.20037":     controlForbidden, // Start TLS (extended operation)
}

var controlNames = map[string]string{
	ldapcontrol.PagedResultsOID: "paged results",
	ldapcontrol.VLVRequestOID:   "virtual list view",
}

// control is one <control> of a DSML request (OASIS DSMLv2 DsmlControl).
type control struct {
	oid      string
	critical bool
	value    string // controlValue text, white space removed; base64 (xsd:base64Binary)
	hasValue bool
}

func (c control) String() string {
	if name, ok := controlNames[c.oid]; ok {
		return "control " + c.oid + " (" + name + ")"
	}
	return "control " + c.oid
}

// parseControls reads the control elements of an operation.
func parseControls(op *node) ([]control, error) {
	var out []control
	for _, n := range op.children {
		if !n.is(dsmlCoreNS, "control") {
			continue
		}
		oid, _ := n.attr("", "type")
		oid = strings.TrimSpace(oid)
		if oid == "" {
			return nil, fmt.Errorf("control without type")
		}
		c := control{oid: oid}
		if v, ok := n.attr("", "criticality"); ok {
			crit, err := parseXSBoolean(v)
			if err != nil {
				return nil, fmt.Errorf("control %s criticality: %v", oid, err)
			}
			c.critical = crit
		}
		if v := n.child(dsmlCoreNS, "controlValue"); v != nil {
			c.hasValue = true
			c.value = strings.Join(strings.Fields(v.text), "")
		}
		out = append(out, c)
	}
	return out, nil
}

// refuseControls returns the message of the errorResponse DSFW generates for
// the controls of a request, or "" when it lets them through.
func refuseControls(ctrls []control, inSession bool) string {
	for _, c := range ctrls {
		switch controlKinds[c.oid] {
		case controlForbidden:
			return c.String() + " is forbidden by DSML Services for Windows, in a session or not"
		case controlSession:
			if !inSession {
				return c.String() + " needs a DSML session: its state lives on the session's connection, so DSML Services for Windows refuses it in a stateless request (begin a session with BeginSession)"
			}
		case controlUnknown:
			if !inSession {
				return c.String() + " is unknown to the server, and DSML Services for Windows allows unknown controls only inside a session"
			}
		}
	}
	return ""
}

// unsupportedCritical returns the first critical control the operation cannot
// honour: one that is neither stateless (accepted and ignored) nor handled.
func unsupportedCritical(ctrls []control, handled string) *control {
	for i, c := range ctrls {
		if c.critical && c.oid != handled && controlKinds[c.oid] != controlStateless {
			return &ctrls[i]
		}
	}
	return nil
}

func unsupportedCriticalMessage(c *control) string {
	return c.String() + " is critical, and the soapsess reference server does not implement it"
}

// pagedResponseControl is the paged results control of a searchResultDone:
// size 0 (the estimate is optional, RFC 2696 §2) and the cookie, empty after
// the last page. The xsi and xsd prefixes are declared where they are used.
func pagedResponseControl(cookie []byte) string {
	return `<control type="` + ldapcontrol.PagedResultsOID + `">` +
		`<controlValue xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xsd:base64Binary">` +
		ldapcontrol.Paged{Cookie: cookie}.Base64() + `</controlValue></control>`
}

// searchKey names a search for its cookies: the SHA-256 of its base, scope
// and filter in canonical form (RFC 2696 §3: later pages repeat the same
// search). A digest, so that what a cursor keeps does not grow with the
// filter a client sent.
func searchKey(base []string, sc scope, filter *node) string {
	var b strings.Builder
	b.WriteString(strings.Join(base, ","))
	b.WriteString("\x00" + strconv.Itoa(int(sc)) + "\x00")
	canonFilter(&b, filter)
	sum := sha256.Sum256([]byte(b.String()))
	return string(sum[:])
}

func canonFilter(b *strings.Builder, n *node) {
	b.WriteString("(" + n.name.Local)
	if name, ok := n.attr("", "name"); ok {
		b.WriteString(" " + strconv.Quote(strings.ToLower(name)))
	}
	for _, c := range n.children {
		if c.is(dsmlCoreNS, "value") {
			b.WriteString(" " + strconv.Quote(c.text))
			continue
		}
		canonFilter(b, c)
	}
	b.WriteString(")")
}
