package transport

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Why Kerberos failed, as far as can be told: a *KerberosError wraps one
// of these (errors.Is), so that a caller can say what to do next.
var (
	ErrKerberosNoConfig       = errors.New("no Kerberos configuration")
	ErrKerberosNoTicket       = errors.New("no Kerberos ticket")
	ErrKerberosExpired        = errors.New("the Kerberos ticket has expired")
	ErrKerberosCCacheType     = errors.New("only FILE credential caches can be read")
	ErrKerberosNoRealm        = errors.New("no Kerberos realm for the user")
	ErrKerberosPassword       = errors.New("the KDC refused the password")
	ErrKerberosUnknownUser    = errors.New("the KDC does not know the user")
	ErrKerberosUnknownService = errors.New("the KDC does not know the service")
	ErrKerberosSkew           = errors.New("this machine's clock and the KDC's differ too much")
	ErrKerberosKDC            = errors.New("no KDC of the realm could be reached")
)

// KerberosError says why no Kerberos token could be made for a request.
// Nothing was sent with credentials.
type KerberosError struct {
	Principal string // the user (alice@EXAMPLE.COM), when known
	SPN       string // the service asked for (HTTP/host), when it got that far
	Reason    error  // one of the ErrKerberos values, or nil when none fits
	Err       error  // what gokrb5 or the file system said
}

func (e *KerberosError) Error() string {
	var b strings.Builder
	b.WriteString("kerberos")
	if e.Principal != "" {
		b.WriteString(" as " + e.Principal)
	}
	if e.SPN != "" {
		b.WriteString(" for " + e.SPN)
	}
	b.WriteString(": ")
	switch {
	case e.Reason != nil && e.Err != nil:
		b.WriteString(e.Reason.Error() + " (" + krbDetail(e.Err) + ")")
	case e.Reason != nil:
		b.WriteString(e.Reason.Error())
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *KerberosError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Reason, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// krbCode finds the KDC's error code in gokrb5's message ("KRB Error: (24)
// KDC_ERR_PREAUTH_FAILED …"): gokrb5 flattens its errors into text.
var krbCode = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`KRB Error: \((\d+)\) ([A-Z0-9_]+)`) })

// krbDetail is the short form of a gokrb5 error: the KDC's error name, or
// the error itself.
func krbDetail(err error) string {
	if m := krbCode().FindStringSubmatch(err.Error()); m != nil {
		return m[2]
	}
	return err.Error()
}

// krbReason tells which of the ErrKerberos values a gokrb5 error is, nil
// when none.
func krbReason(err error) error {
	s := err.Error()
	if m := krbCode().FindStringSubmatch(s); m != nil {
		switch code, _ := strconv.Atoi(m[1]); code {
		case 24: // KDC_ERR_PREAUTH_FAILED
			return ErrKerberosPassword
		case 6: // KDC_ERR_C_PRINCIPAL_UNKNOWN
			return ErrKerberosUnknownUser
		case 7: // KDC_ERR_S_PRINCIPAL_UNKNOWN
			return ErrKerberosUnknownService
		case 37: // KRB_AP_ERR_SKEW
			return ErrKerberosSkew
		case 32: // KRB_AP_ERR_TKT_EXPIRED
			return ErrKerberosExpired
		}
		return nil
	}
	switch {
	// A KDC that does not ask for pre-authentication answers, and the
	// reply cannot be decrypted with the key of a wrong password.
	case strings.Contains(s, "password/keytab incorrect"):
		return ErrKerberosPassword
	case strings.Contains(s, "Networking_Error"):
		return ErrKerberosKDC
	}
	return nil
}

// defaultKrb5Conf is where krb5.conf is when the caller names none.
func defaultKrb5Conf() string {
	if runtime.GOOS == "windows" {
		return ""
	}
	return "/etc/krb5.conf"
}

// fallbackValue is MIT's dns_canonicalize_hostname = fallback (1.18+,
// Fedora's default), which gokrb5 cannot parse: the name as given is what
// MIT tries first, so it is read as false.
var fallbackValue = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?mi)^(\s*dns_canonicalize_hostname\s*=\s*)fallback\b`)
})

// loadKrb5Conf reads krb5.conf from path, else from the default place.
// found is false when no path was given and the default does not exist.
func loadKrb5Conf(path string) (cfg *config.Config, found bool, err error) {
	explicit := path != ""
	if !explicit {
		path = defaultKrb5Conf()
	}
	if path == "" {
		return nil, false, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		return nil, false, &KerberosError{Reason: ErrKerberosNoConfig, Err: err}
	}
	cfg, err = config.NewFromString(fallbackValue().ReplaceAllString(string(raw), "${1}false"))
	var unsupported config.UnsupportedDirective
	if err != nil && !errors.As(err, &unsupported) { // an unknown directive leaves a usable config
		return nil, true, &KerberosError{Reason: ErrKerberosNoConfig, Err: fmt.Errorf("%s: %w", path, err)}
	}
	return cfg, true, nil
}

// defaultCCache is MIT's default credential cache, FILE:/tmp/krb5cc_UID.
func defaultCCache() string {
	uid := os.Getuid()
	if uid < 0 { // Windows
		return ""
	}
	return "/tmp/krb5cc_" + strconv.Itoa(uid)
}

// ccachePath is the file of a credential cache name: "FILE:" taken off;
// another type (KEYRING:, KCM:, DIR:, MEMORY:, API:) cannot be read.
func ccachePath(name string) (string, error) {
	if name == "" {
		return defaultCCache(), nil
	}
	typ, rest, ok := strings.Cut(name, ":")
	if !ok || len(typ) == 1 { // a path, or a Windows drive letter
		return name, nil
	}
	if strings.EqualFold(typ, "FILE") {
		return rest, nil
	}
	return "", &KerberosError{Reason: ErrKerberosCCacheType, Err: fmt.Errorf("%s is a %s cache", name, typ)}
}

// ccacheExists reports whether there is a credential cache file to try.
func ccacheExists(name string) bool {
	path, err := ccachePath(name)
	if err != nil || path == "" {
		return err != nil // an unreadable type is an error to report, not nothing
	}
	_, err = os.Stat(path)
	return err == nil
}

// principal is who user is in Kerberos. user@domain is user in the realm
// DOMAIN (upper case, as Active Directory's realms are); DOMAIN\user is
// user in the realm DOMAIN, except that a NetBIOS domain name that is the
// first label of krb5.conf's default_realm (CORP for CORP.EXAMPLE.COM)
// stands for that realm; a plain name is in default_realm.
func principal(user string, cfg *config.Config) (name, realm string, err error) {
	def := cfg.LibDefaults.DefaultRealm
	if domain, name, ok := strings.Cut(user, `\`); ok {
		first, _, _ := strings.Cut(def, ".")
		if def != "" && (strings.EqualFold(domain, def) || strings.EqualFold(domain, first)) {
			return name, def, nil
		}
		return name, strings.ToUpper(domain), nil
	}
	if i := strings.LastIndex(user, "@"); i >= 0 {
		return user[:i], strings.ToUpper(user[i+1:]), nil
	}
	if def == "" {
		return "", "", &KerberosError{Principal: user, Reason: ErrKerberosNoRealm,
			Err: errors.New("krb5.conf has no default_realm; give the user as user@REALM")}
	}
	return user, def, nil
}

// kerberosLogin gets a client with a ticket-granting ticket: with the
// password when there is one, else from the credential cache.
func kerberosLogin(opt Options, user, password string) (*krbclient.Client, error) {
	cfg, found, err := loadKrb5Conf(opt.Kerberos.Config)
	if err != nil {
		return nil, err
	}
	if !found {
		why := errors.New("no krb5.conf given")
		if def := defaultKrb5Conf(); def != "" {
			why = fmt.Errorf("%s does not exist", def)
		}
		return nil, &KerberosError{Reason: ErrKerberosNoConfig, Err: why}
	}
	if user != "" && password != "" {
		name, realm, err := principal(user, cfg)
		if err != nil {
			return nil, err
		}
		cl := krbclient.NewWithPassword(name, realm, password, cfg, krbclient.DisablePAFXFAST(true))
		if err := cl.Login(); err != nil {
			return nil, &KerberosError{Principal: name + "@" + realm, Reason: krbReason(err), Err: err}
		}
		return cl, nil
	}
	path, err := ccachePath(opt.Kerberos.CCache)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, &KerberosError{Reason: ErrKerberosNoTicket, Err: errors.New("no credential cache")}
	}
	cc, err := credentials.LoadCCache(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &KerberosError{Reason: ErrKerberosNoTicket, Err: fmt.Errorf("no credential cache %s", path)}
		}
		return nil, &KerberosError{Err: fmt.Errorf("credential cache %s: %w", path, err)}
	}
	who := cc.DefaultPrincipal.PrincipalName.PrincipalNameString() + "@" + cc.DefaultPrincipal.Realm
	tgt, ok := cc.GetEntry(types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", cc.DefaultPrincipal.Realm}})
	if !ok {
		return nil, &KerberosError{Principal: who, Reason: ErrKerberosNoTicket, Err: fmt.Errorf("no ticket-granting ticket in %s", path)}
	}
	if time.Now().After(tgt.EndTime) {
		return nil, &KerberosError{Principal: who, Reason: ErrKerberosExpired,
			Err: fmt.Errorf("the ticket in %s expired at %s", path, tgt.EndTime.Local().Format(time.DateTime))}
	}
	cl, err := krbclient.NewFromCCache(cc, cfg, krbclient.DisablePAFXFAST(true))
	if err != nil {
		return nil, &KerberosError{Principal: who, Err: fmt.Errorf("credential cache %s: %w", path, err)}
	}
	return cl, nil
}

// servicePrincipal is the SPN for a request to host: opt.SPN, else
// HTTP/host, the host canonicalised through DNS (a CNAME) only when
// krb5.conf asks for it (dns_canonicalize_hostname, true by default) and
// it is a name. An IP address is used as it is: give the SPN for it.
func servicePrincipal(ctx context.Context, opt Options, cfg *config.Config, host string) string {
	if opt.SPN != "" {
		return opt.SPN
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if cfg != nil && cfg.LibDefaults.DNSCanonicalizeHostname && net.ParseIP(host) == nil {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if cname, err := net.DefaultResolver.LookupCNAME(ctx, host); err == nil && cname != "" {
			host = strings.ToLower(strings.TrimSuffix(cname, "."))
		}
	}
	return "HTTP/" + host
}
