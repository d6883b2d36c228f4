package host

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
)

// TLS is what Envoy's TLS transport socket knows of a downstream session
// (Ssl::ConnectionInfo), as the connection.* properties expose it.
type TLS struct {
	// Version is "TLSv1.2" or "TLSv1.3" (connection.tls_version).
	Version string
	// Peer is the client's certificate, which the listener verified; nil
	// when the client presented none (plain TLS).
	Peer *PeerCertificate
}

// PeerCertificate is a verified client certificate as Envoy reads it.
type PeerCertificate struct {
	// URISANs and DNSSANs are its subject alternative names, in the
	// certificate's order.
	URISANs, DNSSANs []string
	// Subject is its subject in RFC 2253 form ("CN=billing,O=orders").
	Subject string
	// SHA256 is the lower-case hex SHA-256 of its DER encoding.
	SHA256 string
}

// oidSubjectAltName is the subjectAltName extension (RFC 5280 section
// 4.2.1.6).
var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// uriSANs are the certificate's URI SANs as written: Go's c.URIs are parsed
// and re-serialized (url.Parse lower-cases a scheme), while Envoy passes on
// the name's bytes, so that "SPIFFE://..." reaches the plugin as it was
// issued.
func uriSANs(c *x509.Certificate) []string {
	var out []string
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var names asn1.RawValue
		if _, err := asn1.Unmarshal(ext.Value, &names); err != nil {
			return nil
		}
		for rest := names.Bytes; len(rest) > 0; {
			var name asn1.RawValue
			var err error
			if rest, err = asn1.Unmarshal(rest, &name); err != nil {
				return out
			}
			// uniformResourceIdentifier [6] IA5String
			if name.Class == asn1.ClassContextSpecific && name.Tag == 6 {
				out = append(out, string(name.Bytes))
			}
		}
	}
	return out
}

// SessionOf is what Envoy's TLS transport socket reports of a finished
// handshake: its version and, when the client presented a certificate that
// verified, that certificate (the chain's leaf).
func SessionOf(cs tls.ConnectionState) *TLS {
	t := &TLS{Version: map[uint16]string{tls.VersionTLS12: "TLSv1.2", tls.VersionTLS13: "TLSv1.3"}[cs.Version]}
	if len(cs.VerifiedChains) > 0 && len(cs.PeerCertificates) > 0 {
		t.Peer = PeerOf(cs.PeerCertificates[0])
	}
	return t
}

// PeerOf reads a certificate as Envoy's Ssl::ConnectionInfo does: its URI
// and DNS SANs in order, its subject (Go's RFC 2253 rendering, which
// OpenSSL's XN_FLAG_RFC2253 matches for the usual attributes) and the hex
// SHA-256 of its DER.
func PeerOf(c *x509.Certificate) *PeerCertificate {
	p := &PeerCertificate{URISANs: uriSANs(c), DNSSANs: c.DNSNames, Subject: c.Subject.String()}
	sum := sha256.Sum256(c.Raw)
	p.SHA256 = hex.EncodeToString(sum[:])
	return p
}
