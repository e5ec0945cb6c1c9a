package legacyid_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bias-iot/bias/legacyid"
)

type validCase struct {
	name, in, want string
	kind           legacyid.Kind
}

var validCases = []validCase{
	// IMEI
	{"imei/rfc7254-form", "urn:imei:49015420-323751-8", "urn:imei:49015420-323751-8", legacyid.KindIMEI},
	{"imei/plain-digits", "urn:imei:490154203237518", "urn:imei:49015420-323751-8", legacyid.KindIMEI},
	{"imei/upper-case-nid", "URN:IMEI:490154203237518", "urn:imei:49015420-323751-8", legacyid.KindIMEI},
	{"imei/mixed-case-nid", "Urn:Imei:35209900-176148-1", "urn:imei:35209900-176148-1", legacyid.KindIMEI},
	{"imei/check-digit-0", "urn:imei:000000000000000", "urn:imei:00000000-000000-0", legacyid.KindIMEI},

	// E.164
	{"e164/plain", "tel:+14155550123", "tel:+14155550123", legacyid.KindE164},
	{"e164/hyphens", "tel:+1-415-555-0123", "tel:+14155550123", legacyid.KindE164},
	{"e164/dots-parens", "tel:+1.(415).555.0123", "tel:+14155550123", legacyid.KindE164},
	{"e164/separator-run", "tel:+44-(20)-7946-0958", "tel:+442079460958", legacyid.KindE164},
	{"e164/upper-scheme", "TEL:+33123456789", "tel:+33123456789", legacyid.KindE164},
	{"e164/one-digit", "tel:+1", "tel:+1", legacyid.KindE164},
	{"e164/fifteen-digits", "tel:+123456789012345", "tel:+123456789012345", legacyid.KindE164},

	// EPC
	{"epc/sgtin", "urn:epc:id:sgtin:0614141.112345.400", "urn:epc:id:sgtin:0614141.112345.400", legacyid.KindEPC},
	{"epc/sgtin-upper-prefix", "URN:EPC:ID:SGTIN:0614141.112345.400", "urn:epc:id:sgtin:0614141.112345.400", legacyid.KindEPC},
	{"epc/sgtin-alnum-serial", "urn:epc:id:sgtin:0614141.712345.32a%2Fb", "urn:epc:id:sgtin:0614141.712345.32a%2Fb", legacyid.KindEPC},
	{"epc/sgtin-escape-case", "urn:epc:id:sgtin:0614141.712345.32a%2fb", "urn:epc:id:sgtin:0614141.712345.32a%2Fb", legacyid.KindEPC},
	{"epc/sgtin-serial-with-dot", "urn:epc:id:sgtin:061414112.3456.A.b-c", "urn:epc:id:sgtin:061414112.3456.A.b-c", legacyid.KindEPC},
	{"epc/sscc", "urn:epc:id:sscc:0614141.1234567890", "urn:epc:id:sscc:0614141.1234567890", legacyid.KindEPC},
	{"epc/sgln", "urn:epc:id:sgln:0614141.12345.400", "urn:epc:id:sgln:0614141.12345.400", legacyid.KindEPC},
	{"epc/gid", "urn:epc:id:gid:95100000.12345.400", "urn:epc:id:gid:95100000.12345.400", legacyid.KindEPC},
	{"epc/gid-zero", "urn:epc:id:gid:951.0.0", "urn:epc:id:gid:951.0.0", legacyid.KindEPC},
	{"epc/grai", "urn:epc:id:grai:0614141.12345.400", "urn:epc:id:grai:0614141.12345.400", legacyid.KindEPC},
	{"epc/giai", "urn:epc:id:giai:0614141.12345400", "urn:epc:id:giai:0614141.12345400", legacyid.KindEPC},
	{"epc/gsrn", "urn:epc:id:gsrn:0614141.1234567890", "urn:epc:id:gsrn:0614141.1234567890", legacyid.KindEPC},
	{"epc/cpi", "urn:epc:id:cpi:0614141.123ABC.123456789", "urn:epc:id:cpi:0614141.123ABC.123456789", legacyid.KindEPC},
	{"epc/usdod", "urn:epc:id:usdod:2S194.12345678901", "urn:epc:id:usdod:2S194.12345678901", legacyid.KindEPC},
	{"epc/bic", "urn:epc:id:bic:CSQU3054383", "urn:epc:id:bic:CSQU3054383", legacyid.KindEPC},
	{"epc/imovn", "urn:epc:id:imovn:9176187", "urn:epc:id:imovn:9176187", legacyid.KindEPC},

	// OID
	{"oid/simple", "urn:oid:1.3.6.1.4.1.32473", "urn:oid:1.3.6.1.4.1.32473", legacyid.KindOID},
	{"oid/upper-prefix", "URN:OID:2.999", "urn:oid:2.999", legacyid.KindOID},
	{"oid/zero-arcs", "urn:oid:0.0", "urn:oid:0.0", legacyid.KindOID},
	{"oid/second-arc-39", "urn:oid:1.39.0", "urn:oid:1.39.0", legacyid.KindOID},
	{"oid/twenty-digit-arc", "urn:oid:2.25.12345678901234567890", "urn:oid:2.25.12345678901234567890", legacyid.KindOID},

	// Device URNs
	{"dev/mac-48", "urn:dev:mac:0024befffe80", "urn:dev:mac:0024befffe80", legacyid.KindDevURN},
	{"dev/eui-64", "urn:dev:mac:0024befffe804ff1", "urn:dev:mac:0024befffe804ff1", legacyid.KindDevURN},
	{"dev/mac-upper", "URN:DEV:MAC:0024BEFFFE804FF1", "urn:dev:mac:0024befffe804ff1", legacyid.KindDevURN},
	{"dev/mac-hyphens", "urn:dev:mac:00-24-BE-FF-FE-80-4F-F1", "urn:dev:mac:0024befffe804ff1", legacyid.KindDevURN},
	{"dev/mac-colons", "urn:dev:mac:00:24:be:ff:fe:80", "urn:dev:mac:0024befffe80", legacyid.KindDevURN},
	{"dev/mac-component", "urn:dev:mac:00:24:BE:FF:FE:80_eth0", "urn:dev:mac:0024befffe80_eth0", legacyid.KindDevURN},
	{"dev/ow", "urn:dev:ow:10e2073a01080063", "urn:dev:ow:10e2073a01080063", legacyid.KindDevURN},
	{"dev/ow-upper", "urn:dev:OW:10E2073A01080063", "urn:dev:ow:10e2073a01080063", legacyid.KindDevURN},
	{"dev/ow-components", "urn:dev:ow:264437f5000000ed_humidity_1", "urn:dev:ow:264437f5000000ed_humidity_1", legacyid.KindDevURN},
	{"dev/org", "urn:dev:org:32473-foo", "urn:dev:org:32473-foo", legacyid.KindDevURN},
	{"dev/org-colon-ids", "urn:dev:Org:32473-Foo-1:bar.2", "urn:dev:org:32473-Foo-1:bar.2", legacyid.KindDevURN},
	{"dev/os", "urn:dev:os:32473-123456", "urn:dev:os:32473-123456", legacyid.KindDevURN},
	{"dev/os-dashed-serial", "urn:dev:os:32473-12-34-56", "urn:dev:os:32473-12-34-56", legacyid.KindDevURN},
	{"dev/ops", "urn:dev:ops:32473-Refrigerator-5002", "urn:dev:ops:32473-Refrigerator-5002", legacyid.KindDevURN},
	{"dev/ops-dashed-serial", "urn:dev:ops:32473-Fridge.v2-50-02_door", "urn:dev:ops:32473-Fridge.v2-50-02_door", legacyid.KindDevURN},

	// IP
	{"ip/v4", "ip:192.0.2.1", "ip:192.0.2.1", legacyid.KindIP},
	{"ip/v4-bare", "192.0.2.1", "ip:192.0.2.1", legacyid.KindIP},
	{"ip/v6", "ip:2001:db8::1", "ip:2001:db8::1", legacyid.KindIP},
	{"ip/v6-bare-long-upper", "2001:0DB8:0000:0000:0000:0000:0000:0001", "ip:2001:db8::1", legacyid.KindIP},
	{"ip/v6-upper-prefix", "IP:2001:DB8::1", "ip:2001:db8::1", legacyid.KindIP},
	{"ip/v4-mapped", "ip:::ffff:1.2.3.4", "ip:1.2.3.4", legacyid.KindIP},
	{"ip/v4-mapped-bare", "::ffff:1.2.3.4", "ip:1.2.3.4", legacyid.KindIP},
	{"ip/v4-mapped-hex", "::FFFF:0102:0304", "ip:1.2.3.4", legacyid.KindIP},
	{"ip/loopback-v6-bare", "::1", "ip:::1", legacyid.KindIP},
}

func TestNormalizeValid(t *testing.T) {
	for _, c := range validCases {
		t.Run(c.name, func(t *testing.T) {
			got, k, err := legacyid.Normalize(c.in)
			if err != nil {
				t.Fatalf("Normalize(%q): %v", c.in, err)
			}
			if got != c.want || k != c.kind {
				t.Fatalf("Normalize(%q) = %q, %q; want %q, %q", c.in, got, k, c.want, c.kind)
			}
		})
	}
}

func TestNormalizeIdempotent(t *testing.T) {
	for _, c := range validCases {
		t.Run(c.name, func(t *testing.T) {
			got, k, err := legacyid.Normalize(c.want)
			if err != nil {
				t.Fatalf("Normalize(canonical %q): %v", c.want, err)
			}
			if got != c.want || k != c.kind {
				t.Fatalf("Normalize(%q) = %q, %q; not idempotent", c.want, got, k)
			}
		})
	}
}

func TestSameIdentifierManySpellings(t *testing.T) {
	groups := []struct {
		name      string
		spellings []string
	}{
		{"the same IMEI in two spellings is one identifier", []string{
			"urn:imei:490154203237518", "urn:imei:49015420-323751-8", "URN:imei:490154203237518", "urn:IMEI:49015420-323751-8"}},
		{"the same phone number with and without separators is one identifier", []string{
			"tel:+14155550123", "tel:+1-415-555-0123", "tel:+1(415)555.0123", "Tel:+1-415-5550123"}},
		{"the same EPC with any prefix case is one identifier", []string{
			"urn:epc:id:sgtin:0614141.112345.400", "URN:EPC:ID:SGTIN:0614141.112345.400", "urn:epc:id:SGTIN:0614141.112345.400"}},
		{"an EPC escape in either hex case is one identifier", []string{
			"urn:epc:id:giai:0614141.A%2FB", "urn:epc:id:giai:0614141.A%2fB"}},
		{"the same OID with any prefix case is one identifier", []string{
			"urn:oid:1.3.6.1.4.1.32473", "URN:OID:1.3.6.1.4.1.32473"}},
		{"the same MAC in four spellings is one identifier", []string{
			"urn:dev:mac:0024befffe804ff1", "urn:dev:mac:0024BEFFFE804FF1", "urn:dev:mac:00-24-BE-FF-FE-80-4F-F1", "urn:dev:mac:00:24:be:ff:fe:80:4f:f1"}},
		{"the same IPv6 address in three spellings is one identifier", []string{
			"ip:2001:db8::1", "2001:DB8:0:0:0:0:0:1", "IP:2001:0db8::0001"}},
		{"an IPv4 address and its IPv4-mapped IPv6 form are one identifier", []string{
			"ip:192.0.2.1", "192.0.2.1", "::ffff:192.0.2.1", "ip:::ffff:c000:201"}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			first, k0, err := legacyid.Normalize(g.spellings[0])
			if err != nil {
				t.Fatalf("Normalize(%q): %v", g.spellings[0], err)
			}
			for _, s := range g.spellings[1:] {
				c, k, err := legacyid.Normalize(s)
				if err != nil {
					t.Fatalf("Normalize(%q): %v", s, err)
				}
				if c != first || k != k0 {
					t.Errorf("Normalize(%q) = %q, %q; want %q, %q", s, c, k, first, k0)
				}
			}
		})
	}
}

type failCase struct {
	name, in, msg string // msg: a substring of the error message
}

const unknownMsg = "unknown identifier type; use urn:imei:, tel:+, urn:epc:id:, urn:oid:, urn:dev:, ip:"

var failCases = []failCase{
	// general
	{"fail/empty", "", "empty"},
	{"fail/too-long", "urn:oid:1." + strings.Repeat("1.", 60), "longer than 128 bytes"},
	{"fail/leading-space", " urn:imei:490154203237518", "contains a space"},
	{"fail/trailing-space", "tel:+14155550123 ", "contains a space"},
	{"fail/inner-space", "tel:+1 415 555 0123", "contains a space"},
	{"fail/control-char", "urn:oid:1.2\n", "control or non-ASCII"},
	{"fail/non-ascii", "urn:dev:org:32473-caf\u00e9", "control or non-ASCII"},
	{"fail/unknown-scheme", "mailto:a@example.com", unknownMsg},
	{"fail/unknown-urn-nid", "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", unknownMsg},
	{"fail/urn-without-nss", "urn:imei", unknownMsg},
	{"fail/bare-imei", "490154203237518", unknownMsg},
	{"fail/bare-word", "device42", unknownMsg},
	{"fail/did", "did:bias:local:abc", unknownMsg},

	// IMEI
	{"fail/imei-check-digit", "urn:imei:490154203237519", "IMEI check digit is wrong"},
	{"fail/imei-check-digit-hyphenated", "urn:imei:49015420-323751-9", "IMEI check digit is wrong"},
	{"fail/imei-14-digits", "urn:imei:49015420323751", "15 plain digits"},
	{"fail/imei-16-digits", "urn:imei:4901542032375180", "15 plain digits"},
	{"fail/imei-letter", "urn:imei:49015420323751x", "15 plain digits"},
	{"fail/imei-misplaced-hyphens", "urn:imei:4901542-0323751-8", "TTTTTTTT-SSSSSS-C"},
	{"fail/imei-one-hyphen", "urn:imei:49015420-3237518", "TTTTTTTT-SSSSSS-C"},
	{"fail/imei-svn-parameter", "urn:imei:49015420-323751-8;svn=42", "TTTTTTTT-SSSSSS-C"},
	{"fail/imei-empty", "urn:imei:", "TTTTTTTT-SSSSSS-C"},

	// E.164
	{"fail/e164-local-number", "tel:4155550123", "must be global"},
	{"fail/e164-no-digits", "tel:+", "no digits"},
	{"fail/e164-16-digits", "tel:+1234567890123456", "more than 15 digits"},
	{"fail/e164-leading-zero", "tel:+0123456", "cannot start with 0"},
	{"fail/e164-parameter", "tel:+14155550123;ext=12", "parameters"},
	{"fail/e164-letter", "tel:+1415555CALL", "only digits and the separators"},
	{"fail/e164-slash", "tel:+1/415", "only digits and the separators"},
	{"fail/e164-leading-separator", "tel:+(1)4155550123", "start with a digit"},
	{"fail/e164-trailing-separator", "tel:+14155550123-", "end with a digit"},
	{"fail/e164-double-plus", "tel:++14155550123", "only digits and the separators"},

	// EPC
	{"fail/epc-tag-uri", "urn:epc:tag:sgtin-96:3.0614141.112345.400", "pure-identity"},
	{"fail/epc-pattern-uri", "urn:epc:idpat:sgtin:0614141.112345.*", "pure-identity"},
	{"fail/epc-no-scheme", "urn:epc:id:sgtin", "urn:epc:id:<scheme>:<fields>"},
	{"fail/epc-unknown-scheme", "urn:epc:id:foo:0614141.1", "not a GS1 EPC pure-identity scheme"},
	{"fail/epc-empty-fields", "urn:epc:id:grai:", "fields are empty"},
	{"fail/epc-bad-char", "urn:epc:id:giai:0614141.A/B", "may contain only"},
	{"fail/epc-bad-percent", "urn:epc:id:giai:0614141.A%2", "not followed by two hex digits"},
	{"fail/epc-percent-not-hex", "urn:epc:id:giai:0614141.A%zz", "not followed by two hex digits"},
	{"fail/epc-needless-escape", "urn:epc:id:adi:2S194.12345.%23A-B", "escapes only"},
	{"fail/epc-sgtin-two-fields", "urn:epc:id:sgtin:0614141.112345", "CompanyPrefix.ItemReference.Serial"},
	{"fail/epc-sgtin-non-digit-prefix", "urn:epc:id:sgtin:06141A1.112345.400", "decimal digits"},
	{"fail/epc-sgtin-empty-reference", "urn:epc:id:sgtin:0614141..400", "decimal digits"},
	{"fail/epc-sgtin-short-prefix", "urn:epc:id:sgtin:06141.11234567.400", "6 to 12 digits"},
	{"fail/epc-sgtin-wrong-total", "urn:epc:id:sgtin:0614141.12345.400", "13 digits together"},
	{"fail/epc-sgtin-empty-serial", "urn:epc:id:sgtin:0614141.112345.", "1 to 20 characters"},
	{"fail/epc-sgtin-long-serial", "urn:epc:id:sgtin:0614141.112345.123456789012345678901", "1 to 20 characters"},
	{"fail/epc-sscc-three-fields", "urn:epc:id:sscc:0614141.1234567890.1", "CompanyPrefix.SerialReference"},
	{"fail/epc-sscc-wrong-total", "urn:epc:id:sscc:0614141.123456789", "17 digits together"},
	{"fail/epc-sgln-two-fields", "urn:epc:id:sgln:0614141.12345", "CompanyPrefix.LocationReference.Extension"},
	{"fail/epc-sgln-wrong-total", "urn:epc:id:sgln:0614141.123456.0", "12 digits together"},
	{"fail/epc-sgln-empty-extension", "urn:epc:id:sgln:0614141.12345.", "1 to 20 characters"},
	{"fail/epc-gid-two-fields", "urn:epc:id:gid:95100000.12345", "Manager.ObjectClass.Serial"},
	{"fail/epc-gid-non-digit", "urn:epc:id:gid:95100000.12345.4a0", "decimal numbers"},
	{"fail/epc-gid-empty-field", "urn:epc:id:gid:95100000..400", "decimal numbers"},
	{"fail/epc-gid-leading-zero", "urn:epc:id:gid:095100000.12345.400", "leading zeros"},

	// OID
	{"fail/oid-one-arc", "urn:oid:1", "at least two arcs"},
	{"fail/oid-empty", "urn:oid:", "at least two arcs"},
	{"fail/oid-empty-arc", "urn:oid:1..2", "empty arc"},
	{"fail/oid-trailing-dot", "urn:oid:1.2.", "empty arc"},
	{"fail/oid-non-digit", "urn:oid:1.2.a", "decimal numbers"},
	{"fail/oid-negative", "urn:oid:1.-2", "decimal numbers"},
	{"fail/oid-leading-zero", "urn:oid:1.3.06", "leading zero"},
	{"fail/oid-arc-too-long", "urn:oid:2.25.329800735698586629295641978511506172918", "more than 20 digits"},
	{"fail/oid-first-arc", "urn:oid:3.1", "first arc must be 0, 1 or 2"},
	{"fail/oid-second-arc-40", "urn:oid:1.40", "at most 39"},
	{"fail/oid-second-arc-big", "urn:oid:0.12345", "at most 39"},

	// Device URNs
	{"fail/dev-no-subtype", "urn:dev:0024befffe804ff1", "urn:dev:<subtype>"},
	{"fail/dev-unknown-subtype", "urn:dev:foo:bar", "subtype \"foo\" is not supported"},
	{"fail/dev-mac-short", "urn:dev:mac:0024befffe", "12 or 16 hex digits"},
	{"fail/dev-mac-14", "urn:dev:mac:0024befffe804f", "12 or 16 hex digits"},
	{"fail/dev-mac-not-hex", "urn:dev:mac:0024befffe8g", "12 or 16 hex digits"},
	{"fail/dev-mac-mixed-separators", "urn:dev:mac:00-24-be:ff-fe-80", "12 or 16 hex digits"},
	{"fail/dev-mac-dot-separators", "urn:dev:mac:00.24.be.ff.fe.80", "12 or 16 hex digits"},
	{"fail/dev-mac-misplaced-separator", "urn:dev:mac:002-4b-ef-ff-e8-00", "12 or 16 hex digits"},
	{"fail/dev-mac-empty", "urn:dev:mac:", "12 or 16 hex digits"},
	{"fail/dev-ow-short", "urn:dev:ow:10e2073a010800", "16 hex digits"},
	{"fail/dev-ow-not-hex", "urn:dev:ow:10e2073a0108006z", "16 hex digits"},
	{"fail/dev-org-no-dash", "urn:dev:org:32473", "<PEN>-<identifier>"},
	{"fail/dev-org-pen-not-digits", "urn:dev:org:acme-foo", "enterprise number"},
	{"fail/dev-org-pen-leading-zero", "urn:dev:org:032473-foo", "enterprise number"},
	{"fail/dev-org-pen-zero", "urn:dev:org:0-foo", "enterprise number"},
	{"fail/dev-org-pen-empty", "urn:dev:org:-foo", "enterprise number"},
	{"fail/dev-org-pen-too-large", "urn:dev:org:4294967296-foo", "too large"},
	{"fail/dev-org-empty-identifier", "urn:dev:org:32473-", "identifier must be"},
	{"fail/dev-org-bad-char", "urn:dev:org:32473-foo+bar", "identifier must be"},
	{"fail/dev-org-percent", "urn:dev:org:32473-foo%20bar", "identifier must be"},
	{"fail/dev-org-empty-colon-identifier", "urn:dev:org:32473-foo::bar", "identifier must be"},
	{"fail/dev-os-no-dash", "urn:dev:os:32473", "<PEN>-<identifier>"},
	{"fail/dev-os-bad-serial", "urn:dev:os:32473-12*34", "identifier must be"},
	{"fail/dev-ops-no-serial", "urn:dev:ops:32473-Refrigerator", "<PEN>-<product>-<serial>"},
	{"fail/dev-ops-no-product", "urn:dev:ops:32473", "<PEN>-<product>-<serial>"},
	{"fail/dev-ops-empty-product", "urn:dev:ops:32473--5002", "product class"},
	{"fail/dev-ops-bad-product", "urn:dev:ops:32473-Fri*dge-5002", "product class"},
	{"fail/dev-ops-empty-serial", "urn:dev:ops:32473-Fridge-", "identifier must be"},
	{"fail/dev-ops-bad-pen", "urn:dev:ops:x-Fridge-1", "enterprise number"},
	{"fail/dev-empty-component", "urn:dev:ow:264437f5000000ed_", "component"},
	{"fail/dev-double-underscore", "urn:dev:ow:264437f5000000ed__humidity", "component"},
	{"fail/dev-bad-component", "urn:dev:ow:264437f5000000ed_hum:idity", "component"},

	// IP
	{"fail/ip-zone", "ip:fe80::1%eth0", "zones"},
	{"fail/ip-zone-bare", "fe80::1%eth0", "zones"},
	{"fail/ip-v4-out-of-range", "ip:192.0.2.256", "not a valid IPv4 or IPv6 address"},
	{"fail/ip-v4-out-of-range-bare", "192.0.2.256", "not a valid IPv4 or IPv6 address"},
	{"fail/ip-v4-leading-zero", "ip:192.0.2.01", "not a valid IPv4 or IPv6 address"},
	{"fail/ip-v4-three-fields", "ip:192.0.2", "not a valid IPv4 or IPv6 address"},
	{"fail/ip-v6-bad", "ip:2001:db8:::1", "not a valid IPv4 or IPv6 address"},
	{"fail/ip-v6-bad-bare", "2001:db8:::1", "not a valid IPv4 or IPv6 address"},
	{"fail/ip-brackets", "ip:[2001:db8::1]", "not a valid IPv4 or IPv6 address"},
	{"fail/ip-with-port", "ip:192.0.2.1:80", "not a valid IPv4 or IPv6 address"},
	{"fail/ip-cidr", "ip:192.0.2.0/24", "not a valid IPv4 or IPv6 address"},
	{"fail/ip-empty", "ip:", "not a valid IPv4 or IPv6 address"},
	{"fail/ip-hostname", "ip:example.com", "not a valid IPv4 or IPv6 address"},
}

func TestNormalizeRejects(t *testing.T) {
	for _, c := range failCases {
		t.Run(c.name, func(t *testing.T) {
			got, k, err := legacyid.Normalize(c.in)
			if err == nil {
				t.Fatalf("Normalize(%q) = %q, %q; want an error", c.in, got, k)
			}
			if got != "" || k != "" {
				t.Errorf("Normalize(%q) returned %q, %q with an error", c.in, got, k)
			}
			if !errors.Is(err, legacyid.ErrSyntax) {
				t.Errorf("error %v does not wrap ErrSyntax", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("Normalize(%q) error %q; want it to contain %q", c.in, err, c.msg)
			}
			checkErrorBounded(t, c.in, err)
		})
	}
}

// checkErrorBounded checks that an error message is short and does not repeat
// much of the input.
func checkErrorBounded(t testing.TB, in string, err error) {
	t.Helper()
	msg := err.Error()
	if len(msg) > 200 {
		t.Errorf("error message is %d bytes long: %q", len(msg), msg)
	}
	const window = 33
	for i := 0; i+window <= len(in); i++ {
		if strings.Contains(msg, in[i:i+window]) {
			t.Errorf("error message %q echoes %d bytes of the input", msg, window)
			return
		}
	}
}

func TestMaxLen(t *testing.T) {
	// A valid OID of exactly MaxLen bytes is accepted; one byte more is not.
	s := "urn:oid:2"
	for len(s)+2 <= legacyid.MaxLen {
		s += ".1"
	}
	if len(s) < legacyid.MaxLen {
		s += "1"
	}
	if len(s) != legacyid.MaxLen {
		t.Fatalf("test setup: len %d", len(s))
	}
	if c, _, err := legacyid.Normalize(s); err != nil || c != s {
		t.Fatalf("Normalize(%d-byte OID) = %q, %v", len(s), c, err)
	}
	if _, _, err := legacyid.Normalize(s + "1"); !errors.Is(err, legacyid.ErrSyntax) {
		t.Fatalf("Normalize(%d bytes) error %v; want ErrSyntax", len(s)+1, err)
	}
	// A huge input is rejected before any parsing, without echoing it.
	huge := strings.Repeat("urn:imei:", 1<<16)
	_, _, err := legacyid.Normalize(huge)
	if !errors.Is(err, legacyid.ErrSyntax) {
		t.Fatalf("huge input: %v", err)
	}
	checkErrorBounded(t, huge[:1024], err)
}

func TestIMEICheckDigits(t *testing.T) {
	// Exactly one check digit is accepted for a given TAC and SNR.
	for _, body := range []string{"49015420323751", "35209900176148", "00000000000000", "99999999999999", "12345678901234"} {
		ok := 0
		for d := '0'; d <= '9'; d++ {
			if _, _, err := legacyid.Normalize("urn:imei:" + body + string(d)); err == nil {
				ok++
			} else if !strings.Contains(err.Error(), "IMEI check digit is wrong") {
				t.Errorf("%s%c: %v", body, d, err)
			}
		}
		if ok != 1 {
			t.Errorf("IMEI %s: %d check digits accepted; want 1", body, ok)
		}
	}
}

func ExampleNormalize() {
	for _, s := range []string{
		"urn:imei:490154203237518",
		"tel:+1-415-555-0123",
		"urn:dev:mac:00-24-BE-FF-FE-80-4F-F1",
		"::ffff:192.0.2.1",
		"urn:imei:490154203237519",
	} {
		c, k, err := legacyid.Normalize(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(k, c)
	}
	// Output:
	// imei urn:imei:49015420-323751-8
	// e164 tel:+14155550123
	// dev urn:dev:mac:0024befffe804ff1
	// ip ip:192.0.2.1
	// invalid legacy identifier: IMEI check digit is wrong
}
