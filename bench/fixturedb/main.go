// Command fixturedb writes the test vulnerability DB (built from
// testdata/trivydb) into a gatehouse data directory, so benchmarks run
// offline: go run ./bench/fixturedb DATA_DIR
package main

import (
	"fmt"
	"os"

	"github.com/gatehouse/gatehouse/checks/deps/depstest"
	"github.com/gatehouse/gatehouse/checks/registry"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fixturedb DATA_DIR")
		os.Exit(2)
	}
	if err := depstest.Write("testdata/trivydb", registry.DBDir(os.Args[1])); err != nil {
		fmt.Fprintln(os.Stderr, "fixturedb:", err)
		os.Exit(1)
	}
}
