// Command ccci-compose puts Docker's own compose-file code in the path of cc-ci's recipe loader.
//
//	ccci-compose load     < request.json   # docker stack deploy's loader: merge, interpolate, validate
//	ccci-compose render   < request.json   # dockerd's `template_driver: golang` config rendering
//	ccci-compose reference < request.json  # image references as Docker's distribution/reference reads them
//	ccci-compose version                   # versions of docker/cli and swarmkit built in
//
// Requests are JSON on stdin, responses JSON on stdout. Problems found in the compose files or templates
// are data: they come back in the response and the exit status stays 0. Only a malformed request (bad
// JSON, a missing required field, an unknown command) exits non-zero (2), with a message on stderr.
// See README.md for the protocol.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// requestError is a malformed request: the only failure that exits non-zero.
type requestError struct{ msg string }

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &requestError{msg: fmt.Sprintf(format, args...)}
}

const usage = `usage: ccci-compose load|render|reference|version  (request JSON on stdin, response JSON on stdout)`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	var resp any
	var err error
	switch args[0] {
	case "load":
		var req LoadRequest
		if err = decodeRequest(stdin, &req); err == nil {
			resp, err = Load(req)
		}
	case "render":
		var req RenderRequest
		if err = decodeRequest(stdin, &req); err == nil {
			resp, err = Render(req)
		}
	case "reference":
		var req ReferenceRequest
		if err = decodeRequest(stdin, &req); err == nil {
			resp = References(req)
		}
	case "version":
		resp = Versions()
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return 0
	default:
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "ccci-compose %s: %v\n", args[0], err)
		var re *requestError
		if errors.As(err, &re) {
			return 2
		}
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(resp); err != nil {
		fmt.Fprintf(stderr, "ccci-compose %s: writing the response: %v\n", args[0], err)
		return 1
	}
	return 0
}

func decodeRequest(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed request: %v", err)
	}
	if dec.More() {
		return badRequest("malformed request: more than one JSON value on stdin")
	}
	return nil
}
