package refserver

import (
	"strings"
	"sync"
)

// directory is the tiny in-memory LDAP tree behind /dsml, shared by all DSML
// requests of one Server so that an add made in one request is seen by the next.
type directory struct {
	mu      sync.Mutex
	entries []*entry // insertion order, which is the order searches return
}

type entry struct {
	dn    string   // as added, for display
	rdns  []string // normalised, leaf first
	attrs []attribute
}

type attribute struct {
	name   string
	values []string
}

func (e *entry) attr(name string) *attribute {
	for i := range e.attrs {
		if strings.EqualFold(e.attrs[i].name, name) {
			return &e.attrs[i]
		}
	}
	return nil
}

func newDirectory() *directory {
	d := &directory{}
	add := func(dn string, attrs ...attribute) {
		d.entries = append(d.entries, &entry{dn: dn, rdns: normDN(dn), attrs: attrs})
	}
	a := func(name string, values ...string) attribute { return attribute{name, values} }
	add("dc=example,dc=com", a("objectClass", "domain"), a("dc", "example"))
	add("ou=People,dc=example,dc=com", a("objectClass", "organizationalUnit"), a("ou", "People"))
	add("cn=Ada Lovelace,ou=People,dc=example,dc=com",
		a("objectClass", "person"), a("cn", "Ada Lovelace"), a("sn", "Lovelace"), a("mail", "ada@example.com"))
	add("cn=Alan Turing,ou=People,dc=example,dc=com",
		a("objectClass", "person"), a("cn", "Alan Turing"), a("sn", "Turing"), a("mail", "alan@example.com"))
	return d
}

// normDN splits a DN into lower-cased RDNs, leaf first, with the spaces around
// commas and equals signs removed, so that "CN=Ada Lovelace, ou=people,DC=example,dc=com"
// names the same entry as the stored DN. Escaped commas ("\,") stay inside their RDN.
func normDN(dn string) []string {
	if strings.TrimSpace(dn) == "" {
		return nil
	}
	var rdns []string
	var cur strings.Builder
	flush := func() {
		rdn := cur.String()
		cur.Reset()
		if typ, val, ok := strings.Cut(rdn, "="); ok {
			rdn = strings.TrimSpace(typ) + "=" + strings.TrimSpace(val)
		} else {
			rdn = strings.TrimSpace(rdn)
		}
		rdns = append(rdns, strings.ToLower(rdn))
	}
	escaped := false
	for _, c := range dn {
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == ',':
			flush()
			continue
		}
		cur.WriteRune(c)
	}
	flush()
	return rdns
}

func sameDN(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// under reports whether rdns lies at or below base.
func under(rdns, base []string) bool {
	return len(rdns) >= len(base) && sameDN(rdns[len(rdns)-len(base):], base)
}

// find must be called with mu held.
func (d *directory) find(rdns []string) (int, *entry) {
	if len(rdns) == 0 {
		return -1, nil
	}
	for i, e := range d.entries {
		if sameDN(e.rdns, rdns) {
			return i, e
		}
	}
	return -1, nil
}

// LDAP result codes used here (RFC 4511 §4.1.9), with the names DSML's
// resultCode/@descr uses.
const (
	ldapSuccess             = 0
	ldapNoSuchObject        = 32
	ldapInvalidDNSyntax     = 34
	ldapNotAllowedOnNonLeaf = 66
	ldapEntryAlreadyExists  = 68
)

var ldapDescr = map[int]string{
	ldapSuccess:             "success",
	ldapNoSuchObject:        "noSuchObject",
	ldapInvalidDNSyntax:     "invalidDNSyntax",
	ldapNotAllowedOnNonLeaf: "notAllowedOnNonLeaf",
	ldapEntryAlreadyExists:  "entryAlreadyExists",
}

type scope int

const (
	scopeBase scope = iota
	scopeOne
	scopeSub
)

// search must be called with mu held. ok is false when the base entry does not exist.
func (d *directory) search(base []string, sc scope, match func(*entry) bool) (found []*entry, ok bool) {
	if _, b := d.find(base); b == nil {
		return nil, false
	}
	for _, e := range d.entries {
		var inScope bool
		switch sc {
		case scopeBase:
			inScope = sameDN(e.rdns, base)
		case scopeOne:
			inScope = len(e.rdns) == len(base)+1 && under(e.rdns, base)
		case scopeSub:
			inScope = under(e.rdns, base)
		}
		if inScope && match(e) {
			found = append(found, e)
		}
	}
	return found, true
}

// add must be called with mu held.
func (d *directory) add(dn string, attrs []attribute) int {
	rdns := normDN(dn)
	if len(rdns) == 0 || !strings.Contains(rdns[0], "=") {
		return ldapInvalidDNSyntax
	}
	if _, e := d.find(rdns); e != nil {
		return ldapEntryAlreadyExists
	}
	if _, parent := d.find(rdns[1:]); parent == nil {
		return ldapNoSuchObject
	}
	d.entries = append(d.entries, &entry{dn: dn, rdns: rdns, attrs: attrs})
	return ldapSuccess
}

// del must be called with mu held.
func (d *directory) del(dn string) int {
	rdns := normDN(dn)
	i, e := d.find(rdns)
	if e == nil {
		return ldapNoSuchObject
	}
	for _, other := range d.entries {
		if len(other.rdns) > len(rdns) && under(other.rdns, rdns) {
			return ldapNotAllowedOnNonLeaf
		}
	}
	d.entries = append(d.entries[:i], d.entries[i+1:]...)
	return ldapSuccess
}
