// Command soapsess opens, uses and closes SOAP sessions from the shell.
package main

import (
	"os"

	"github.com/soapsess/soapsess/cmd"
)

func main() {
	os.Exit(cmd.Main(os.Args, cmd.SystemIO()))
}
