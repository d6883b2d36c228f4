// Command hello prints the function that called it, which the runtime
// finds through findfunctab: the tests of package wasmshrink build it for
// wasip1 and run it before and after the rewrite.
package main

import (
	"fmt"
	"runtime"
)

func main() { caller() }

//go:noinline
func caller() {
	pc, _, line, _ := runtime.Caller(1)
	fmt.Println(runtime.FuncForPC(pc).Name(), line)
}
