package cmd

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/refserver"
)

func (a *appCtx) demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "try it all: begin, send and end against the built-in reference server",
		Description: `Starts the reference server on a free loopback port and, with a temporary
state directory, runs begin -> send -> end for each dialect, showing what went
over the wire and what came back. Nothing outside the temporary directory is
touched.

Examples:
   soapsess demo
   go run . demo          # from a clone, without installing`,
		Action: a.demo,
	}
}

// demoBodies are the requests the demo sends inside each session.
var demoBodies = []struct{ dialect, path, file, body, about string }{
	{"dsml", "/dsml", "search.xml", `<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core">
  <searchRequest dn="ou=People,dc=example,dc=com" scope="singleLevel" derefAliases="neverDerefAliases">
    <filter><present name="objectClass"/></filter>
    <attributes><attribute name="cn"/><attribute name="mail"/></attributes>
  </searchRequest>
</batchRequest>
`, "DSML Services for Windows: BeginSession / Session / EndSession headers"},
	{"xmla", "/xmla", "discover.xml", `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis">
  <RequestType>DISCOVER_DATASOURCES</RequestType>
  <Restrictions/>
  <Properties><PropertyList><Format>Tabular</Format></PropertyList></Properties>
</Discover>
`, "XML for Analysis (SSAS, Mondrian, Kylin): BeginSession / Session / EndSession headers"},
	{"sqlsoap", "/sql", "batch.xml", `<sql:sqlbatch xmlns:sql="http://schemas.microsoft.com/sqlserver/2004/SOAP">
  <sql:BatchCommands>SELECT 1; SELECT 2</sql:BatchCommands>
</sql:sqlbatch>
`, "SQL Server native SOAP: sqlSession initiate / sessionId / terminate"},
}

func (a *appCtx) demo(c *cli.Context) error {
	if err := noMoreArgs(c, 0); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "soapsess-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the reference server: %w", err)
	}
	srv := &http.Server{Handler: refserver.New(refserver.Options{})}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	out := a.io.Out
	fmt.Fprintf(out, "soapsess demo: the reference server listens on %s; sessions are kept in %s\n", base, dir)
	fmt.Fprintf(out, "Lines starting with > went to the server and < came back; after each exchange comes what soapsess printed: the reply's Body on stdout, messages on stderr.\n")
	sub := &IO{In: strings.NewReader(""), Out: out, Err: out, Trace: out}
	failed := 0
	step := func(want int, args ...string) {
		fmt.Fprintf(out, "\n$ soapsess %s\n", strings.Join(args, " "))
		full := append([]string{"soapsess", "--state-dir", filepath.Join(dir, "state")}, args...)
		code := run(c.Context, full, sub)
		fmt.Fprintf(out, "[exit status %d]\n", code)
		if code != want {
			failed++
		}
	}
	for _, d := range demoBodies {
		file := filepath.Join(dir, d.file)
		if err := os.WriteFile(file, []byte(d.body), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(out, "\n=== %s: %s\n", d.dialect, d.about)
		step(ExitOK, "--session", d.dialect, "begin", "--url", base+d.path, "--dialect", d.dialect)
		step(ExitOK, "--session", d.dialect, "send", file)
		step(ExitOK, "--session", d.dialect, "status")
		step(ExitOK, "--session", d.dialect, "end")
	}
	fmt.Fprintf(out, "\n=== after end, the session is closed: exit status %d tells a script so\n", ExitSession)
	step(ExitSession, "--session", "xmla", "send", filepath.Join(dir, "discover.xml"))
	if failed > 0 {
		return fmt.Errorf("the demo went wrong in %d step(s)", failed)
	}
	fmt.Fprintf(out, "\nAll done. Try it on your own: soapsess serve, then soapsess begin --url http://127.0.0.1:8808/xmla --dialect xmla\n")
	return nil
}
