// Command ccci-traefik lets cc-ci's policy ask Traefik itself what it will make of a recipe's
// labels: the decoding, the rule parsing and the label encoding below are Traefik's own code
// (the module github.com/traefik/traefik/v3 at the version the cc-ci/traefik image is built
// from), so there is no second parser of ours to disagree with the one that routes traffic.
//
//	ccci-traefik decode   < {"services": {"<key>": {"labels": {...}}}}
//	ccci-traefik encode   < {"services": {"<key>": {"config": {...}, "provider": {...}}}}
//	ccci-traefik version
//
// JSON in, JSON out. Problems with the labels are data (exit 0); only a request that is not
// what the protocol describes exits non-zero (2), with {"error": "..."} on stdout. See README.md.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/log"
	"github.com/traefik/traefik/v3/pkg/version"
)

// Set with -ldflags -X by scripts/env/traefik-helper.sh: the hash of this helper's source and of
// the Traefik version, which is also the key of its cache directory.
var sourceHash = "dev"

const traefikModule = "github.com/traefik/traefik/v3"

func main() {
	quietGlobalLogger()
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// quietGlobalLogger: Traefik's code logs through zerolog's global logger (e.g. the deprecation
// warning for traefik.docker.* labels on the swarm provider); keep stdout for our JSON only. The
// provider steps whose messages we report log to a logger of ours, passed in their context.
func quietGlobalLogger() {
	log.Logger = zerolog.New(io.Discard)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		return usage(stdout, stderr, "expected exactly one command")
	}
	var (
		out any
		err error
	)
	switch args[0] {
	case "decode":
		var req DecodeRequest
		if err = readRequest(stdin, &req); err == nil {
			out, err = Decode(req)
		}
	case "encode":
		var req EncodeRequest
		if err = readRequest(stdin, &req); err == nil {
			out, err = Encode(req)
		}
	case "version":
		out = versionInfo()
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return 0
	default:
		return usage(stdout, stderr, fmt.Sprintf("unknown command %q", args[0]))
	}
	if err != nil {
		return fail(stdout, stderr, err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintf(stderr, "ccci-traefik: writing the answer: %v\n", err)
		return 1
	}
	return 0
}

const usageText = `usage: ccci-traefik decode|encode|version  (JSON request on stdin, JSON answer on stdout)
`

func usage(stdout, stderr io.Writer, msg string) int {
	fmt.Fprint(stderr, usageText)
	return fail(stdout, stderr, errors.New(msg))
}

// fail reports a malformed request: {"error": ...} on stdout (for a caller that parses it) and
// the message on stderr (for a human), exit status 2.
func fail(stdout, stderr io.Writer, err error) int {
	b, _ := json.Marshal(map[string]string{"error": err.Error()})
	fmt.Fprintf(stdout, "%s\n", b)
	fmt.Fprintf(stderr, "ccci-traefik: %v\n", err)
	return 2
}

// readRequest decodes exactly one JSON object, refusing unknown fields (a misspelt field would
// otherwise be silently ignored) and trailing data.
func readRequest(r io.Reader, v any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("reading the request: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed request: %w", err)
	}
	if dec.More() {
		return errors.New("malformed request: trailing data after the JSON object")
	}
	var rest json.RawMessage
	if err := dec.Decode(&rest); !errors.Is(err, io.EOF) {
		return errors.New("malformed request: trailing data after the JSON object")
	}
	return nil
}

type VersionInfo struct {
	Helper string `json:"helper"`
	// Traefik is the version stamped into Traefik's pkg/version (as the image's build does);
	// TraefikModule is the module version actually linked, read from the build information.
	Traefik       string `json:"traefik"`
	TraefikModule string `json:"traefikModule"`
	Paerser       string `json:"paerser,omitempty"`
	Mux           string `json:"mux,omitempty"`
	Go            string `json:"go"`
	SourceHash    string `json:"sourceHash"`
}

func versionInfo() VersionInfo {
	v := VersionInfo{Helper: "ccci-traefik", Traefik: version.Version, Go: runtime.Version(), SourceHash: sourceHash}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			ver := m.Version
			if m.Replace != nil {
				ver = m.Replace.Path + "@" + m.Replace.Version
			}
			switch m.Path {
			case traefikModule:
				v.TraefikModule = ver
			case "github.com/traefik/paerser":
				v.Paerser = ver
			case "github.com/gorilla/mux":
				v.Mux = ver
			}
		}
	}
	return v
}
