package e2e

import (
	"fmt"
	"os"
	"regexp"
	"sync"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

// tokenLike is what any compact JWS or JWE begins with: a base64url JSON
// object ("{" encodes to "ey") and a dot. Every token the suite mints
// matches it, so no log line of any test may.
var tokenLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`)

var (
	leaksMu sync.Mutex
	leaks   []string
)

// watchLogs makes an environment report every log line that holds a token.
func watchLogs(cfg *host.Config) {
	next := cfg.LogSink
	cfg.LogSink = func(e host.LogEntry) {
		if tokenLike.MatchString(e.Message) {
			leaksMu.Lock()
			leaks = append(leaks, e.Message)
			leaksMu.Unlock()
		}
		if next != nil {
			next(e)
		}
	}
}

// TestMain runs the suite, then fails it if any plugin, in any test, logged
// a token: tokens are credentials, and logs are read by many.
func TestMain(m *testing.M) {
	code := m.Run()
	if len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d log line(s) hold a token, e.g. %q\n", len(leaks), leaks[0])
		code = 1
	}
	os.Exit(code)
}

// TestTheLogWatchRecognizesEveryMintedToken: the watch above catches each
// kind of token the suite mints, whole or cut after its payload.
func TestTheLogWatchRecognizesEveryMintedToken(t *testing.T) {
	for alg, k := range idpKeys() {
		tok := k.Token(idpClaims())
		if !tokenLike.MatchString("apiguard: bearer " + tok) {
			t.Errorf("%s token %q not recognized", alg, tok)
		}
	}
}
