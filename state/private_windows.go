//go:build windows

package state

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Rights that let an account see nothing of a file's contents.
const harmless = windows.SYNCHRONIZE | windows.READ_CONTROL | windows.FILE_READ_ATTRIBUTES | windows.FILE_READ_EA

// checkPrivate reads the file's access list: every ACE that grants more
// than harmless rights to the object itself must name the user, SYSTEM or
// the Administrators. A missing access list lets everyone in.
func checkPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("read the access list of %s: %w", path, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		dacl = nil
	}
	trusted, err := trustedSIDs()
	if err != nil {
		return err
	}
	who, err := outsider(dacl, trusted)
	if err != nil {
		return fmt.Errorf("read the access list of %s: %w", path, err)
	}
	if who != "" {
		return &NotPrivateError{Path: path, Dir: fi.IsDir(), Who: who}
	}
	return nil
}

// outsider names an account other than the trusted that the access list
// lets see more than harmless rights of the object itself; "" when there is
// none. A missing access list lets everyone in.
func outsider(dacl *windows.ACL, trusted []*windows.SID) (string, error) {
	if dacl == nil {
		return "everyone (it has no access list)", nil
	}
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return "", err
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0 ||
			ace.Mask&^harmless == 0 {
			continue
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if !anyEqual(trusted, sid) {
			return accountName(sid), nil
		}
	}
	return "", nil
}

// makePrivate gives a directory soapsess created an access list of its
// own, not inherited: full control for the user and SYSTEM, passed on to
// what is created inside.
func makePrivate(dir string) error {
	trusted, err := trustedSIDs()
	if err != nil {
		return err
	}
	var entries []windows.EXPLICIT_ACCESS
	for _, sid := range trusted[:2] { // the user and SYSTEM
		entries = append(entries, windows.EXPLICIT_ACCESS{
			AccessPermissions: windows.GENERIC_ALL,
			AccessMode:        windows.GRANT_ACCESS,
			Inheritance:       windows.SUB_CONTAINERS_AND_OBJECTS_INHERIT,
			Trustee: windows.TRUSTEE{
				TrusteeForm:  windows.TRUSTEE_IS_SID,
				TrusteeType:  windows.TRUSTEE_IS_UNKNOWN,
				TrusteeValue: windows.TrusteeValueFromSID(sid),
			},
		})
	}
	acl, err := windows.ACLFromEntries(entries, nil)
	if err != nil {
		return fmt.Errorf("make %s private: %w", dir, err)
	}
	err = windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, acl, nil)
	if err != nil {
		return fmt.Errorf("make %s private: %w", dir, err)
	}
	return nil
}

// trustedSIDs are the user, SYSTEM and the Administrators, in that order.
func trustedSIDs() ([]*windows.SID, error) {
	user, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("find the current user: %w", err)
	}
	system, err := windows.CreateWellKnownSid(windows.WinLocalSystemSid)
	if err != nil {
		return nil, err
	}
	admins, err := windows.CreateWellKnownSid(windows.WinBuiltinAdministratorsSid)
	if err != nil {
		return nil, err
	}
	return []*windows.SID{user.User.Sid, system, admins}, nil
}

func anyEqual(sids []*windows.SID, sid *windows.SID) bool {
	for _, s := range sids {
		if s.Equals(sid) {
			return true
		}
	}
	return false
}

func accountName(sid *windows.SID) string {
	if account, domain, _, err := sid.LookupAccount(""); err == nil {
		if domain != "" {
			return domain + `\` + account
		}
		return account
	}
	return sid.String()
}
