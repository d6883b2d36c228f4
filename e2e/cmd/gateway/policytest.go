package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/apiguard/apiguard/e2e/policytest"
)

// runTests runs a policy test file headlessly (no listener, no upstream, no
// network) and fails if any case does.
func runTests(module, policy []byte, path string, out io.Writer) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	suite, err := policytest.ParseSuite(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	outcomes, err := policytest.Run(module, policy, suite, time.Now().Truncate(time.Second))
	if err != nil {
		return err
	}
	if failed := policytest.Print(out, outcomes); failed > 0 {
		return fmt.Errorf("%s: %d of %d cases failed", path, failed, len(outcomes))
	}
	return nil
}
