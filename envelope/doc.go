// Package envelope holds session protocols as data and builds their
// requests.
//
// A Dialect is one protocol (DSML Services for Windows, XML for Analysis,
// SQL Server native SOAP, or a user's own): header templates for the three
// phases of a session (begin, in session, end), default bodies, and a
// manifest.toml saying where a reply carries the session ID and its
// timeout, how an end is confirmed, which faults mean the server no longer
// knows the session, and which elements of a reply's body report errors.
// Builtin, Find and Load read dialects; one code path serves them all.
//
// NewRequest is the one place a request is made: the SOAP 1.1 or 1.2
// envelope around a body (or the session header put into a whole envelope),
// its Content-Type and its SOAPAction. Every value a template sees is
// XML-escaped, and every envelope is checked to be well-formed before it
// can be sent. Reading replies is package reply's.
package envelope
