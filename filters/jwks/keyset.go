package jwks

import (
	"errors"

	"github.com/apiguard/apiguard/filters/jwt"
)

// ParseFetched reads a JWKS fetched from an identity provider. Entries that
// cannot verify a signature here are skipped, each with the reason (see
// jwt.ParseKeys): real IdPs publish encryption keys and key types apiguard
// does not use next to their signing keys. A fetch whose set has entries but
// none usable fails (err), keeping the last good keys: that is more likely a
// broken endpoint than a revocation. An explicitly empty set ({"keys": []})
// is a good answer with no keys: the IdP withdrew them all.
func ParseFetched(doc []byte) (set *jwt.KeySet, skipped []*jwt.KeyError, err error) {
	set, skipped, err = jwt.ParseKeys(doc)
	switch {
	case err != nil:
		return nil, skipped, err
	case set.Len() == 0 && len(skipped) > 0:
		return nil, skipped, errNoUsableKey
	}
	return set, skipped, nil
}

var errNoUsableKey = errors.New("JWKS: no usable signature key")
