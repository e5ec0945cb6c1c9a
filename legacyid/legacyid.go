// Package legacyid normalises legacy device identifiers (IMEIs, E.164
// telephone numbers, GS1 EPCs, OIDs, RFC 9039 device URNs and IP addresses)
// so that two spellings of the same identifier become one string, fit to be
// stored and looked up.
//
//	c, k, err := legacyid.Normalize("URN:IMEI:490154203237518")
//	if err != nil { ... }       // errors.Is(err, legacyid.ErrSyntax)
//	// c == "urn:imei:49015420-323751-8", k == legacyid.KindIMEI
//
// Accepted spellings and their canonical forms:
//
//	urn:imei:TTTTTTTT-SSSSSS-C or urn:imei:<15 digits>  -> urn:imei:TTTTTTTT-SSSSSS-C (Luhn digit checked)
//	tel:+<1-15 digits, with - . ( ) between digits>      -> tel:+<digits>
//	urn:epc:id:<scheme>:<fields>                         -> urn:epc:id:<scheme>:<fields> (%-escapes in upper case)
//	urn:oid:<arc>.<arc>...                               -> urn:oid:<arcs>
//	urn:dev:mac|ow|org|os|ops:...[_component...]         -> urn:dev:<subtype>:... (hex in lower case)
//	ip:<address> or a bare IPv4/IPv6 address             -> ip:<address> (IPv4-mapped IPv6 unmapped)
//
// The URI scheme, the URN namespace ("urn:imei:", "urn:epc:id:", ...), the EPC
// scheme and the device URN subtype are case-insensitive and lower-cased in
// the canonical form. Normalize is strict: it rejects anything it does not
// recognise, including surrounding spaces, with an error that wraps ErrSyntax,
// says what is wrong, and never echoes more than a few bytes of the input.
// The package is pure: no I/O and no dependency outside the standard library.
package legacyid

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Kind names the type of a legacy identifier.
type Kind string

// The kinds of legacy identifier Normalize accepts.
const (
	KindIMEI   Kind = "imei" // urn:imei: (RFC 7254)
	KindE164   Kind = "e164" // tel:+ (RFC 3966 global number)
	KindEPC    Kind = "epc"  // urn:epc:id: (GS1 EPC Tag Data Standard)
	KindOID    Kind = "oid"  // urn:oid: (RFC 3061)
	KindDevURN Kind = "dev"  // urn:dev: (RFC 9039)
	KindIP     Kind = "ip"   // ip: (IPv4 or IPv6 address)
)

// ErrSyntax is wrapped by every error Normalize returns.
var ErrSyntax = errors.New("invalid legacy identifier")

// MaxLen is the maximum length in bytes of an identifier, as given to
// Normalize and as returned by it.
const MaxLen = 128

// maxEcho bounds what an error message repeats of the input: the quoted
// fragment, between its quotes, is at most this many bytes.
const maxEcho = 24

// fail returns an error wrapping ErrSyntax.
func fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSyntax, fmt.Sprintf(format, args...))
}

// echo quotes a fragment of the input for an error message, bounded
// after quoting (maxEcho): escapes lengthen the quoted form, so a fragment
// cut by input bytes alone could repeat more of an input of backslashes
// than the bound.
func echo(s string) string {
	if q := strconv.Quote(s); len(q) <= maxEcho+2 {
		return q
	}
	n := 0 // the longest prefix whose quoted form fits
	for n < len(s) && len(strconv.Quote(s[:n+1])) <= maxEcho+2 {
		n++
	}
	return strconv.Quote(s[:n]) + "..."
}

var errUnknown = fail("unknown identifier type; use urn:imei:, tel:+, urn:epc:id:, urn:oid:, urn:dev:, ip:")

// Normalize parses s and returns its canonical spelling and kind.
// Every error wraps ErrSyntax.
func Normalize(s string) (canonical string, k Kind, err error) {
	if len(s) > MaxLen {
		return "", "", fail("longer than %d bytes", MaxLen)
	}
	if s == "" {
		return "", "", fail("empty")
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ':
			return "", "", fail("contains a space at byte %d", i)
		case c < 0x21 || c > 0x7e:
			return "", "", fail("contains a control or non-ASCII byte at byte %d", i)
		}
	}
	canonical, k, err = parse(s)
	if err != nil {
		return "", "", err
	}
	if len(canonical) > MaxLen { // cannot happen with the forms above; kept as a guard
		return "", "", fail("canonical form longer than %d bytes", MaxLen)
	}
	return canonical, k, nil
}

func parse(s string) (string, Kind, error) {
	if scheme, rest, ok := strings.Cut(s, ":"); ok {
		switch {
		case strings.EqualFold(scheme, "urn"):
			if nid, nss, ok := strings.Cut(rest, ":"); ok {
				switch {
				case strings.EqualFold(nid, "imei"):
					return parseIMEI(nss)
				case strings.EqualFold(nid, "epc"):
					return parseEPC(nss)
				case strings.EqualFold(nid, "oid"):
					return parseOID(nss)
				case strings.EqualFold(nid, "dev"):
					return parseDev(nss)
				}
			}
			return "", "", errUnknown
		case strings.EqualFold(scheme, "tel"):
			return parseTel(rest)
		case strings.EqualFold(scheme, "ip"):
			return parseIP(rest)
		}
	}
	if looksLikeIP(s) {
		return parseIP(s)
	}
	return "", "", errUnknown
}

// ---- IMEI (RFC 7254) ----

func parseIMEI(nss string) (string, Kind, error) {
	var d string
	switch len(nss) {
	case 15:
		d = nss
	case 17:
		if nss[8] != '-' || nss[15] != '-' {
			return "", "", fail("IMEI must be TTTTTTTT-SSSSSS-C (8, 6 and 1 digits) or 15 plain digits")
		}
		d = nss[:8] + nss[9:15] + nss[16:]
	default:
		return "", "", fail("IMEI must be TTTTTTTT-SSSSSS-C (8, 6 and 1 digits) or 15 plain digits")
	}
	if !allDigits(d) {
		return "", "", fail("IMEI must be TTTTTTTT-SSSSSS-C (8, 6 and 1 digits) or 15 plain digits")
	}
	if luhn(d[:14]) != d[14] {
		return "", "", fail("IMEI check digit is wrong")
	}
	return "urn:imei:" + d[:8] + "-" + d[8:14] + "-" + d[14:], KindIMEI, nil
}

// luhn returns the Luhn check digit of the decimal string d.
func luhn(d string) byte {
	sum := 0
	double := true // the digit left of the check digit is doubled
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// ---- E.164 (RFC 3966 global number) ----

const maxE164Digits = 15

func parseTel(rest string) (string, Kind, error) {
	if !strings.HasPrefix(rest, "+") {
		return "", "", fail("telephone number must be global: tel:+ then the country code")
	}
	body := rest[1:]
	if strings.IndexByte(body, ';') >= 0 {
		return "", "", fail("telephone number parameters (;...) are not accepted")
	}
	var digits [maxE164Digits]byte
	n := 0
	lastSep := false
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			if n == maxE164Digits {
				return "", "", fail("telephone number has more than %d digits", maxE164Digits)
			}
			digits[n] = c
			n++
			lastSep = false
		case '-', '.', '(', ')':
			if n == 0 {
				return "", "", fail("telephone number must start with a digit after +")
			}
			lastSep = true
		default:
			return "", "", fail("telephone number may contain only digits and the separators - . ( )")
		}
	}
	if n == 0 {
		return "", "", fail("telephone number has no digits")
	}
	if lastSep {
		return "", "", fail("telephone number must end with a digit")
	}
	if digits[0] == '0' {
		return "", "", fail("telephone number country code cannot start with 0")
	}
	return "tel:+" + string(digits[:n]), KindE164, nil
}

// ---- EPC (GS1 EPC Tag Data Standard, pure-identity URIs) ----

var epcSchemes = map[string]bool{
	"sgtin": true, "sscc": true, "sgln": true, "grai": true, "giai": true,
	"gsrn": true, "gsrnp": true, "gdti": true, "cpi": true, "sgcn": true,
	"ginc": true, "gsin": true, "itip": true, "upui": true, "pgln": true,
	"gid": true, "usdod": true, "adi": true, "bic": true, "imovn": true,
}

// epcEscapes are the characters the TDS writes as %-escapes in URIs
// (" % & / < > ?), by their upper-case hex code.
var epcEscapes = map[string]bool{"22": true, "25": true, "26": true, "2F": true, "3C": true, "3E": true, "3F": true}

func parseEPC(nss string) (string, Kind, error) {
	typ, rest, ok := strings.Cut(nss, ":")
	if !ok || !strings.EqualFold(typ, "id") {
		return "", "", fail("EPC must be a pure-identity URI, urn:epc:id:<scheme>:<fields>")
	}
	scheme, fields, ok := strings.Cut(rest, ":")
	if !ok {
		return "", "", fail("EPC must be urn:epc:id:<scheme>:<fields>")
	}
	scheme = strings.ToLower(scheme)
	if !epcSchemes[scheme] {
		return "", "", fail("EPC scheme %s is not a GS1 EPC pure-identity scheme", echo(scheme))
	}
	if fields == "" {
		return "", "", fail("EPC %s fields are empty", scheme)
	}
	fields, err := epcFields(fields)
	if err != nil {
		return "", "", err
	}
	switch scheme {
	case "sgtin": // CompanyPrefix.IndicatorItemRef.Serial
		p := strings.SplitN(fields, ".", 3)
		if len(p) != 3 {
			return "", "", fail("EPC sgtin must be CompanyPrefix.ItemReference.Serial")
		}
		if err := gs1Key("sgtin", p[0], p[1], 13); err != nil {
			return "", "", err
		}
		if err := gs1Text("sgtin serial", p[2]); err != nil {
			return "", "", err
		}
	case "sscc": // CompanyPrefix.SerialReference
		p := strings.Split(fields, ".")
		if len(p) != 2 {
			return "", "", fail("EPC sscc must be CompanyPrefix.SerialReference")
		}
		if err := gs1Key("sscc", p[0], p[1], 17); err != nil {
			return "", "", err
		}
	case "sgln": // CompanyPrefix.LocationReference.Extension
		p := strings.SplitN(fields, ".", 3)
		if len(p) != 3 {
			return "", "", fail("EPC sgln must be CompanyPrefix.LocationReference.Extension")
		}
		if err := gs1Key("sgln", p[0], p[1], 12); err != nil {
			return "", "", err
		}
		if err := gs1Text("sgln extension", p[2]); err != nil {
			return "", "", err
		}
	case "gid": // Manager.Class.Serial, decimal without leading zeros
		p := strings.Split(fields, ".")
		if len(p) != 3 {
			return "", "", fail("EPC gid must be Manager.ObjectClass.Serial")
		}
		for _, f := range p {
			if f == "" || !allDigits(f) {
				return "", "", fail("EPC gid fields must be decimal numbers")
			}
			if len(f) > 1 && f[0] == '0' {
				return "", "", fail("EPC gid fields must not have leading zeros")
			}
		}
	}
	return "urn:epc:id:" + scheme + ":" + fields, KindEPC, nil
}

// epcFields checks the characters of the fields of an EPC URI and returns
// them with the hex digits of %-escapes in upper case.
func epcFields(f string) (string, error) {
	var b []byte // allocated on the first escape that needs rewriting
	for i := 0; i < len(f); i++ {
		c := f[i]
		switch {
		case isAlnum(c):
		case strings.IndexByte("-._:*'()!,+;=", c) >= 0:
		case c == '%':
			if i+2 >= len(f) || !isHex(f[i+1]) || !isHex(f[i+2]) {
				return "", fail("EPC has a %% not followed by two hex digits")
			}
			hex := strings.ToUpper(f[i+1 : i+3])
			if !epcEscapes[hex] {
				return "", fail("EPC escapes only \" %% & / < > ? (%%22 %%25 %%26 %%2F %%3C %%3E %%3F)")
			}
			if hex != f[i+1:i+3] {
				if b == nil {
					b = []byte(f)
				}
				b[i+1], b[i+2] = hex[0], hex[1]
			}
			i += 2
		default:
			return "", fail("EPC fields may contain only letters, digits, %%-escapes and - . _ : * ' ( ) ! , + ; =")
		}
	}
	if b != nil {
		return string(b), nil
	}
	return f, nil
}

// gs1Key checks a GS1 company prefix and the reference that follows it: both
// decimal, the prefix 6 to 12 digits, together total digits.
func gs1Key(scheme, prefix, ref string, total int) error {
	if prefix == "" || ref == "" || !allDigits(prefix) || !allDigits(ref) {
		return fail("EPC %s company prefix and reference must be decimal digits", scheme)
	}
	if len(prefix) < 6 || len(prefix) > 12 {
		return fail("EPC %s company prefix must have 6 to 12 digits", scheme)
	}
	if len(prefix)+len(ref) != total {
		return fail("EPC %s company prefix and reference must have %d digits together", scheme, total)
	}
	return nil
}

// gs1Text checks an alphanumeric GS1 field: 1 to 20 characters, an escape
// counting as one.
func gs1Text(what, s string) error {
	n := len(s) - 2*strings.Count(s, "%")
	if n < 1 || n > 20 {
		return fail("EPC %s must have 1 to 20 characters", what)
	}
	return nil
}

// ---- OID (RFC 3061) ----

const maxArcDigits = 20

func parseOID(nss string) (string, Kind, error) {
	arcs := strings.Split(nss, ".")
	if len(arcs) < 2 {
		return "", "", fail("OID must have at least two arcs")
	}
	for _, a := range arcs {
		switch {
		case a == "":
			return "", "", fail("OID has an empty arc")
		case !allDigits(a):
			return "", "", fail("OID arcs must be decimal numbers separated by dots")
		case len(a) > 1 && a[0] == '0':
			return "", "", fail("OID arc has a leading zero")
		case len(a) > maxArcDigits:
			return "", "", fail("OID arc has more than %d digits", maxArcDigits)
		}
	}
	switch arcs[0] {
	case "0", "1":
		if n, err := strconv.Atoi(arcs[1]); err != nil || n > 39 {
			return "", "", fail("OID second arc must be at most 39 under arcs 0 and 1")
		}
	case "2":
	default:
		return "", "", fail("OID first arc must be 0, 1 or 2")
	}
	return "urn:oid:" + nss, KindOID, nil
}

// ---- Device URNs (RFC 9039) ----

func parseDev(nss string) (string, Kind, error) {
	sub, rest, ok := strings.Cut(nss, ":")
	if !ok {
		return "", "", fail("device URN must be urn:dev:<subtype>:..., subtype mac, ow, org, os or ops")
	}
	sub = strings.ToLower(sub)
	body, comps, hasComps := strings.Cut(rest, "_")
	if hasComps {
		for _, c := range strings.Split(comps, "_") {
			if c == "" || !devIdentifier(c, true) {
				return "", "", fail("device URN component (after _) must be letters, digits, . and -")
			}
		}
	}
	switch sub {
	case "mac":
		hex, ok := macHex(body)
		if !ok {
			return "", "", fail("device URN mac must be 12 or 16 hex digits (MAC-48 or EUI-64), optionally in pairs separated by : or -")
		}
		body = hex
	case "ow":
		if len(body) != 16 || !allHex(body) {
			return "", "", fail("device URN ow must be 16 hex digits (a 1-Wire id)")
		}
		body = strings.ToLower(body)
	case "org", "os":
		pen, ids, ok := strings.Cut(body, "-")
		if !ok {
			return "", "", fail("device URN %s must be <PEN>-<identifier>", sub)
		}
		if err := checkPEN(pen); err != nil {
			return "", "", err
		}
		if err := devIdentifiers(sub, ids); err != nil {
			return "", "", err
		}
	case "ops":
		pen, pr, ok := strings.Cut(body, "-")
		if !ok {
			return "", "", fail("device URN ops must be <PEN>-<product>-<serial>")
		}
		if err := checkPEN(pen); err != nil {
			return "", "", err
		}
		product, serial, ok := strings.Cut(pr, "-")
		if !ok {
			return "", "", fail("device URN ops must be <PEN>-<product>-<serial>")
		}
		if product == "" || !devIdentifier(product, false) {
			return "", "", fail("device URN ops product class must be letters, digits and .")
		}
		if err := devIdentifiers(sub, serial); err != nil {
			return "", "", err
		}
	default:
		return "", "", fail("device URN subtype %s is not supported; use mac, ow, org, os or ops", echo(sub))
	}
	c := "urn:dev:" + sub + ":" + body
	if hasComps {
		c += "_" + comps
	}
	return c, KindDevURN, nil
}

// macHex returns the lower-case hex digits of a MAC-48 or EUI-64, given as
// 12 or 16 hex digits or as byte pairs separated by ':' or '-' throughout.
func macHex(s string) (string, bool) {
	switch len(s) {
	case 12, 16:
		if !allHex(s) {
			return "", false
		}
		return strings.ToLower(s), true
	case 17, 23: // 6 or 8 pairs, separated
		sep := s[2]
		if sep != ':' && sep != '-' {
			return "", false
		}
		b := make([]byte, 0, 16)
		for i := 0; i < len(s); i += 3 {
			if !isHex(s[i]) || !isHex(s[i+1]) || (i+2 < len(s) && s[i+2] != sep) {
				return "", false
			}
			b = append(b, s[i], s[i+1])
		}
		return strings.ToLower(string(b)), true
	}
	return "", false
}

// checkPEN checks an IANA Private Enterprise Number: decimal, no leading
// zero, not 0, at most 2^32-1.
func checkPEN(pen string) error {
	if pen == "" || !allDigits(pen) || pen[0] == '0' {
		return fail("device URN enterprise number (PEN) must be a positive decimal number without leading zeros")
	}
	if _, err := strconv.ParseUint(pen, 10, 32); err != nil {
		return fail("device URN enterprise number (PEN) is too large")
	}
	return nil
}

// devIdentifiers checks identifier *(":" identifier).
func devIdentifiers(sub, s string) error {
	for _, id := range strings.Split(s, ":") {
		if id == "" || !devIdentifier(id, true) {
			return fail("device URN %s identifier must be letters, digits, . and -", sub)
		}
	}
	return nil
}

// devIdentifier reports whether s is made of RFC 9039's devunreserved
// characters (ALPHA / DIGIT / "." / "-"), or without "-" if !dash.
func devIdentifier(s string, dash bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && (!dash || c != '-') {
			return false
		}
	}
	return true
}

// ---- IP addresses ----

func parseIP(s string) (string, Kind, error) {
	if strings.IndexByte(s, '%') >= 0 {
		return "", "", fail("IP address zones (%%...) are not accepted")
	}
	a, err := netip.ParseAddr(s) // its error echoes the input; not passed on
	if err != nil {
		return "", "", fail("not a valid IPv4 or IPv6 address")
	}
	if a.Zone() != "" { // unreachable without '%'; kept as a guard
		return "", "", fail("IP address zones (%%...) are not accepted")
	}
	return "ip:" + a.Unmap().String(), KindIP, nil
}

// looksLikeIP reports whether s, given without the ip: prefix, is plainly
// meant as an IP address: an IPv6 literal (hex digits, ':' and '.', with a
// ':'), possibly with a zone, or four dotted decimal fields.
func looksLikeIP(s string) bool {
	addr, _, _ := strings.Cut(s, "%")
	if strings.IndexByte(addr, ':') >= 0 {
		for i := 0; i < len(addr); i++ {
			if c := addr[i]; !isHex(c) && c != ':' && c != '.' {
				return false
			}
		}
		return true
	}
	if strings.Count(addr, ".") != 3 {
		return false
	}
	for i := 0; i < len(addr); i++ {
		if c := addr[i]; !isDigit(c) && c != '.' {
			return false
		}
	}
	return true
}

// ---- characters ----

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isAlnum(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}
