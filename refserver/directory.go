package refserver

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// directory is the in-memory LDAP tree behind /dsml, shared by all DSML
// requests of one Server so that an add made in one request is seen by the
// next. It holds a few stored entries and, when Options.DSMLEntries asks for
// them, a block of generated users that exist only as a count and a bitmap of
// deletions: entry i is built when a search or lookup reaches it, so 100,000
// users cost a few kilobytes, and a page never copies the directory.
//
// Every entry has a sequence number; the directory's order, which searches
// return, is sequence order. Stored entries keep ascending sequence numbers in
// their slice, the generated block owns one contiguous range, and later adds
// take numbers after it. A paged search's cursor is just the next sequence
// number to look at, so it survives deletions and needs no copy of the result.
type directory struct {
	mu      sync.Mutex
	entries []*entry // stored entries, ascending seq
	size    int      // bytes of DNs, names and values of the stored entries
	// maxEntries and maxSize are maxStoredEntries and maxStoredBytes
	// (tests lower them).
	maxEntries, maxSize int
	nextSeq             uint64
	gen                 *generated // nil without Options.DSMLEntries
}

// What the stored entries may hold, so that adds in a loop cannot grow the
// server without end; an add beyond either limit is refused with
// adminLimitExceeded ("an administrative limit has been exceeded", RFC 4511
// §4.1.9). Active Directory's own limits here are per-user quotas
// (msDS-QuotaControl), which this server does not model.
const (
	maxStoredEntries = 10000
	maxStoredBytes   = 16 << 20
)

// entrySize is what an entry counts against maxStoredBytes.
func entrySize(dn string, attrs []attribute) int {
	n := len(dn)
	for _, a := range attrs {
		n += len(a.name)
		for _, v := range a.values {
			n += len(v)
		}
	}
	return n
}

type entry struct {
	seq   uint64
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

// Where the generated users live: Active Directory's default container for
// users, under the reference directory's root.
const (
	DSMLUsersDN = "cn=Users,dc=example,dc=com"
	// MaxDSMLEntries bounds Options.DSMLEntries.
	MaxDSMLEntries = 1_000_000
)

// generated is the block of users cn=User NNNNN,cn=Users,dc=example,dc=com,
// numbered from 1 with zero-padded numbers so that the directory's order is
// also their numeric and lexical order.
type generated struct {
	n        int
	width    int      // digits in a number
	firstSeq uint64   // user i (0-based) has seq firstSeq+i
	parent   []string // normalised DSMLUsersDN
	deleted  []uint64 // bitmap over i
	alive    int
}

func (g *generated) isDeleted(i int) bool { return g.deleted[i/64]&(1<<(i%64)) != 0 }

func (g *generated) number(i int) string { return fmt.Sprintf("%0*d", g.width, i+1) }

// entry builds user i (0-based).
func (g *generated) entry(i int) *entry {
	num := g.number(i)
	cn := "User " + num
	a := func(name string, values ...string) attribute { return attribute{name, values} }
	return &entry{
		seq:  g.firstSeq + uint64(i),
		dn:   "cn=" + cn + "," + DSMLUsersDN,
		rdns: append([]string{"cn=user " + num}, g.parent...),
		attrs: []attribute{
			a("objectClass", "top", "person", "organizationalPerson", "user"),
			a("cn", cn),
			a("sn", num),
			a("sAMAccountName", "user"+num),
			a("mail", "user"+num+"@example.com"),
		},
	}
}

// index returns the number of the live generated user rdns names, if it names one.
func (g *generated) index(rdns []string) (int, bool) {
	if g == nil || len(rdns) != len(g.parent)+1 || !sameDN(rdns[1:], g.parent) {
		return 0, false
	}
	num, ok := strings.CutPrefix(rdns[0], "cn=user ")
	if !ok || len(num) != g.width {
		return 0, false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > g.n || g.isDeleted(n-1) {
		return 0, false
	}
	return n - 1, true
}

// newDirectory builds the small fixed tree and, for users > 0, the container
// cn=Users with that many generated users (capped at MaxDSMLEntries).
func newDirectory(users int) *directory {
	d := &directory{maxEntries: maxStoredEntries, maxSize: maxStoredBytes}
	add := func(dn string, attrs ...attribute) {
		d.entries = append(d.entries, &entry{seq: d.nextSeq, dn: dn, rdns: normDN(dn), attrs: attrs})
		d.size += entrySize(dn, attrs)
		d.nextSeq++
	}
	a := func(name string, values ...string) attribute { return attribute{name, values} }
	add("dc=example,dc=com", a("objectClass", "domain"), a("dc", "example"))
	add("ou=People,dc=example,dc=com", a("objectClass", "organizationalUnit"), a("ou", "People"))
	add("cn=Ada Lovelace,ou=People,dc=example,dc=com",
		a("objectClass", "person"), a("cn", "Ada Lovelace"), a("sn", "Lovelace"), a("mail", "ada@example.com"))
	add("cn=Alan Turing,ou=People,dc=example,dc=com",
		a("objectClass", "person"), a("cn", "Alan Turing"), a("sn", "Turing"), a("mail", "alan@example.com"))
	if users <= 0 {
		return d
	}
	users = min(users, MaxDSMLEntries)
	add(DSMLUsersDN, a("objectClass", "top", "container"), a("cn", "Users"))
	d.gen = &generated{
		n:        users,
		width:    max(5, len(strconv.Itoa(users))),
		firstSeq: d.nextSeq,
		parent:   normDN(DSMLUsersDN),
		deleted:  make([]uint64, (users+63)/64),
		alive:    users,
	}
	d.nextSeq += uint64(users)
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

// lookup finds the live entry rdns names; it must be called with mu held.
// For a stored entry, i is its index in d.entries; for a generated one, -1.
func (d *directory) lookup(rdns []string) (i int, e *entry) {
	if len(rdns) == 0 {
		return -1, nil
	}
	if g, ok := d.gen.index(rdns); ok {
		return -1, d.gen.entry(g)
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
	ldapSuccess                      = 0
	ldapSizeLimitExceeded            = 4
	ldapAdminLimitExceeded           = 11
	ldapUnavailableCriticalExtension = 12
	ldapNoSuchObject                 = 32
	ldapInvalidDNSyntax              = 34
	ldapNotAllowedOnNonLeaf          = 66
	ldapUnwillingToPerform           = 53
	ldapEntryAlreadyExists           = 68
)

var ldapDescr = map[int]string{
	ldapSuccess:                      "success",
	ldapSizeLimitExceeded:            "sizeLimitExceeded",
	ldapAdminLimitExceeded:           "adminLimitExceeded",
	ldapUnavailableCriticalExtension: "unavailableCriticalExtension",
	ldapNoSuchObject:                 "noSuchObject",
	ldapInvalidDNSyntax:              "invalidDNSyntax",
	ldapNotAllowedOnNonLeaf:          "notAllowedOnNonLeaf",
	ldapUnwillingToPerform:           "unwillingToPerform",
	ldapEntryAlreadyExists:           "entryAlreadyExists",
}

type scope int

const (
	scopeBase scope = iota
	scopeOne
	scopeSub
)

func inScope(rdns, base []string, sc scope) bool {
	switch sc {
	case scopeBase:
		return sameDN(rdns, base)
	case scopeOne:
		return len(rdns) == len(base)+1 && under(rdns, base)
	default:
		return under(rdns, base)
	}
}

// scan calls fn, in directory order, for each entry from sequence number
// from on that lies in scope of base and matches, until fn returns false.
// ok is false when the base entry does not exist. It must be called with mu
// held. Generated users are built only when the scope can hold them.
func (d *directory) scan(base []string, sc scope, match func(*entry) bool, from uint64, fn func(*entry) bool) (ok bool) {
	if _, b := d.lookup(base); b == nil {
		return false
	}
	i := sort.Search(len(d.entries), func(i int) bool { return d.entries[i].seq >= from })
	visit := func(e *entry) bool {
		if inScope(e.rdns, base, sc) && match(e) {
			return fn(e)
		}
		return true
	}
	if g := d.gen; g != nil {
		for ; i < len(d.entries) && d.entries[i].seq < g.firstSeq; i++ {
			if !visit(d.entries[i]) {
				return true
			}
		}
		// Only a base at or above cn=Users, or a generated user itself, can
		// have generated users in scope.
		lo, hi := 0, g.n
		if from > g.firstSeq {
			lo = int(min(from-g.firstSeq, uint64(g.n)))
		}
		if u, isUser := g.index(base); isUser {
			lo, hi = max(lo, u), min(hi, u+1)
		} else if !under(g.parent, base) || (sc == scopeOne && !sameDN(g.parent, base)) || sc == scopeBase {
			lo = hi
		}
		for u := lo; u < hi; u++ {
			if !g.isDeleted(u) && !visit(g.entry(u)) {
				return true
			}
		}
	}
	for ; i < len(d.entries); i++ {
		if !visit(d.entries[i]) {
			return true
		}
	}
	return true
}

// dns returns the DNs of the entries a search of base with scope sc and no
// filter would return, in order; nil when base does not exist.
func (d *directory) dns(base []string, sc scope) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	d.scan(base, sc, func(*entry) bool { return true }, 0, func(e *entry) bool {
		out = append(out, e.dn)
		return true
	})
	return out
}

// add must be called with mu held.
func (d *directory) add(dn string, attrs []attribute) int {
	rdns := normDN(dn)
	if len(rdns) == 0 || !strings.Contains(rdns[0], "=") {
		return ldapInvalidDNSyntax
	}
	if _, e := d.lookup(rdns); e != nil {
		return ldapEntryAlreadyExists
	}
	if _, parent := d.lookup(rdns[1:]); parent == nil {
		return ldapNoSuchObject
	}
	size := entrySize(dn, attrs)
	if len(d.entries) >= d.maxEntries || d.size+size > d.maxSize {
		return ldapAdminLimitExceeded
	}
	d.entries = append(d.entries, &entry{seq: d.nextSeq, dn: dn, rdns: rdns, attrs: attrs})
	d.size += size
	d.nextSeq++
	return ldapSuccess
}

// del must be called with mu held.
func (d *directory) del(dn string) int {
	rdns := normDN(dn)
	i, e := d.lookup(rdns)
	if e == nil {
		return ldapNoSuchObject
	}
	if g := d.gen; g != nil && i < 0 {
		u, _ := g.index(rdns)
		g.deleted[u/64] |= 1 << (u % 64)
		g.alive--
		return ldapSuccess
	}
	if g := d.gen; g != nil && g.alive > 0 && under(g.parent, rdns) {
		return ldapNotAllowedOnNonLeaf
	}
	for _, other := range d.entries {
		if len(other.rdns) > len(rdns) && under(other.rdns, rdns) {
			return ldapNotAllowedOnNonLeaf
		}
	}
	d.size -= entrySize(e.dn, e.attrs)
	d.entries = append(d.entries[:i], d.entries[i+1:]...)
	return ldapSuccess
}
