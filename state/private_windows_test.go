//go:build windows

package state

import (
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

func ace(t *testing.T, sidType windows.WELL_KNOWN_SID_TYPE, sid *windows.SID, mode windows.ACCESS_MODE, rights windows.ACCESS_MASK, inherit uint32) windows.EXPLICIT_ACCESS {
	t.Helper()
	if sid == nil {
		var err error
		if sid, err = windows.CreateWellKnownSid(sidType); err != nil {
			t.Fatal(err)
		}
	}
	return windows.EXPLICIT_ACCESS{AccessPermissions: rights, AccessMode: mode, Inheritance: inherit,
		Trustee: windows.TRUSTEE{TrusteeForm: windows.TRUSTEE_IS_SID, TrusteeType: windows.TRUSTEE_IS_UNKNOWN, TrusteeValue: windows.TrusteeValueFromSID(sid)}}
}

// The access list rule, on lists built with the Windows API: the user,
// SYSTEM and the Administrators may do anything; anyone else who may read
// makes a file not private; an ACE that only passes rights on to children,
// a deny, or rights that show nothing of the contents do not count.
func TestOutsider(t *testing.T) {
	trusted, err := trustedSIDs()
	if err != nil {
		t.Fatal(err)
	}
	user := trusted[0]
	for _, tt := range []struct {
		name    string
		entries []windows.EXPLICIT_ACCESS
		want    string // part of the outsider's name; "" for private
	}{
		{"user and SYSTEM", []windows.EXPLICIT_ACCESS{
			ace(t, 0, user, windows.GRANT_ACCESS, windows.GENERIC_ALL, windows.SUB_CONTAINERS_AND_OBJECTS_INHERIT),
			ace(t, windows.WinLocalSystemSid, nil, windows.GRANT_ACCESS, windows.GENERIC_ALL, windows.NO_INHERITANCE),
			ace(t, windows.WinBuiltinAdministratorsSid, nil, windows.GRANT_ACCESS, windows.GENERIC_ALL, windows.NO_INHERITANCE),
		}, ""},
		{"Everyone may read", []windows.EXPLICIT_ACCESS{
			ace(t, 0, user, windows.GRANT_ACCESS, windows.GENERIC_ALL, windows.NO_INHERITANCE),
			ace(t, windows.WinWorldSid, nil, windows.GRANT_ACCESS, windows.GENERIC_READ, windows.NO_INHERITANCE),
		}, "S-1-1-0|Everyone"},
		{"Users may read", []windows.EXPLICIT_ACCESS{
			ace(t, windows.WinBuiltinUsersSid, nil, windows.GRANT_ACCESS, windows.FILE_READ_DATA, windows.NO_INHERITANCE),
		}, "S-1-5-32-545|Users"},
		{"inherit only", []windows.EXPLICIT_ACCESS{
			ace(t, 0, user, windows.GRANT_ACCESS, windows.GENERIC_ALL, windows.NO_INHERITANCE),
			ace(t, windows.WinWorldSid, nil, windows.GRANT_ACCESS, windows.GENERIC_READ, windows.SUB_CONTAINERS_AND_OBJECTS_INHERIT|windows.INHERIT_ONLY),
		}, ""},
		{"Everyone denied", []windows.EXPLICIT_ACCESS{
			ace(t, windows.WinWorldSid, nil, windows.DENY_ACCESS, windows.GENERIC_ALL, windows.NO_INHERITANCE),
			ace(t, 0, user, windows.GRANT_ACCESS, windows.GENERIC_ALL, windows.NO_INHERITANCE),
		}, ""},
		{"Everyone may see attributes", []windows.EXPLICIT_ACCESS{
			ace(t, 0, user, windows.GRANT_ACCESS, windows.GENERIC_ALL, windows.NO_INHERITANCE),
			ace(t, windows.WinWorldSid, nil, windows.GRANT_ACCESS, windows.FILE_READ_ATTRIBUTES|windows.SYNCHRONIZE, windows.NO_INHERITANCE),
		}, ""},
	} {
		acl, err := windows.ACLFromEntries(tt.entries, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := outsider(acl, trusted)
		if err != nil {
			t.Fatal(err)
		}
		ok := got == tt.want
		if tt.want != "" {
			ok = false
			for _, w := range strings.Split(tt.want, "|") {
				ok = ok || strings.Contains(got, w)
			}
		}
		if !ok {
			t.Errorf("%s: outsider %q, want %q", tt.name, got, tt.want)
		}
	}
	if got, _ := outsider(nil, trusted); !strings.Contains(got, "everyone") {
		t.Errorf("no access list: %q", got)
	}
}
