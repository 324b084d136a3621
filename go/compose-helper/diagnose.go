package main

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	interp "github.com/docker/cli/cli/compose/interpolation"
	"github.com/docker/cli/cli/compose/loader"
	"github.com/docker/cli/cli/compose/schema"
	"github.com/docker/cli/cli/compose/types"
)

type diagnosis struct {
	problems []Problem
	warnings []Warning
}

func (d *diagnosis) problem(pf *parsedFile, kind, msg string, path []string) {
	p := Problem{Kind: kind, Message: msg, File: pf.name, Path: joinPath(path), Line: 1, Column: 1}
	if at, _, ok := pf.positions.lookup(path); ok {
		p.Line, p.Column = at.Line, at.Column
	}
	d.problems = append(d.problems, p)
}

func (d *diagnosis) warning(pf *parsedFile, kind, msg string, path []string) {
	w := Warning{Kind: kind, Message: msg, File: pf.name, Path: joinPath(path), Line: 1, Column: 1}
	if at, _, ok := pf.positions.lookup(path); ok {
		w.Line, w.Column = at.Line, at.Column
	}
	d.warnings = append(d.warnings, w)
}

// silentlyIgnored are service keys the loader accepts without a word but docker stack deploy's conversion
// to a swarm service never reads (cli/compose/convert): our warnings, not Docker's.
var silentlyIgnored = map[string]string{
	"tmpfs":      "docker stack deploy ignores the service-level `tmpfs` key without a warning; use a `volumes` entry of `type: tmpfs`",
	"depends_on": "docker stack deploy ignores `depends_on` without a warning: swarm starts services in no particular order",
}

// diagnoseFile takes one parsed file through loader.Load's per-file steps (version, forbidden keys,
// interpolation, schema, section loading), but collects every problem instead of stopping at the first.
func diagnoseFile(pf *parsedFile, version, workingDir string, env map[string]string, lookup *envLookup, opts interp.Options) diagnosis {
	var d diagnosis
	dict := pf.dict

	if v := schema.Version(dict); v != version {
		d.problem(pf, "version", fmt.Sprintf("version mismatched between two composefiles : %v and %v", version, v), []string{"version"})
	}

	// Forbidden keys (validateForbidden), checked by Docker before interpolation.
	forbidden := map[string]bool{}
	services, _ := dict["services"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(services)) {
		svc, ok := services[name].(map[string]any)
		if !ok {
			continue
		}
		for _, prop := range slices.Sorted(maps.Keys(types.ForbiddenProperties)) {
			if _, set := svc[prop]; set {
				path := []string{"services", name, prop}
				forbidden[joinPath(path)] = true
				d.problem(pf, "forbidden", "compose file contains unsupported options: "+prop+": "+types.ForbiddenProperties[prop], path)
			}
		}
		for _, prop := range types.UnsupportedProperties {
			if _, set := svc[prop]; set {
				d.warning(pf, "unsupported", "Ignoring unsupported options: "+prop, []string{"services", name, prop})
			}
		}
		for _, prop := range slices.Sorted(maps.Keys(types.DeprecatedProperties)) {
			if _, set := svc[prop]; set {
				d.warning(pf, "deprecated", "Ignoring deprecated options: "+prop+": "+types.DeprecatedProperties[prop], []string{"services", name, prop})
			}
		}
		for _, prop := range slices.Sorted(maps.Keys(silentlyIgnored)) {
			if _, set := svc[prop]; set {
				d.warning(pf, "ignored", silentlyIgnored[prop], []string{"services", name, prop})
			}
		}
	}

	// Interpolation, every leaf.
	lookup.record = true
	interpolated, ierrs := interpolateLeaves(dict, opts, env)
	lookup.record = false
	var bad [][]string
	for _, e := range ierrs {
		d.problem(pf, e.kind, e.message, e.path)
		bad = append(bad, e.path)
	}

	// Schema, every error.
	serrs, err := validateAll(interpolated, version)
	if err != nil {
		d.problem(pf, "schema", err.Error(), []string{"version"})
		bad = append(bad, nil) // nothing can be loaded without a schema
	}
	for _, e := range serrs {
		if forbidden[joinPath(e.path)] || underAny(e.path, bad) {
			continue // already reported as forbidden / as the interpolation error that caused it
		}
		d.problem(pf, "schema", e.message, e.path)
		bad = append(bad, e.path)
	}

	// Sections, entity by entity (loadSections), skipping what the schema already refused: the loader
	// trusts the schema and would panic on some shapes.
	details := types.ConfigDetails{Version: version, WorkingDir: workingDir, Environment: env}
	section := func(key string) map[string]any {
		m, _ := interpolated[key].(map[string]any)
		return m
	}
	for _, key := range []string{"services", "networks", "volumes", "secrets", "configs"} {
		sec := section(key)
		for _, name := range slices.Sorted(maps.Keys(sec)) {
			path := []string{key, name}
			if touches(path, bad) {
				continue
			}
			err := safeLoad(func() error {
				switch key {
				case "services":
					svc, ok := sec[name].(map[string]any)
					if !ok {
						return nil
					}
					_, err := loader.LoadService(name, svc, workingDir, details.LookupEnv)
					return err
				case "networks":
					_, err := loader.LoadNetworks(map[string]any{name: sec[name]}, version)
					return err
				case "volumes":
					_, err := loader.LoadVolumes(map[string]any{name: sec[name]}, version)
					return err
				case "secrets":
					_, err := loader.LoadSecrets(map[string]any{name: sec[name]}, details)
					return err
				default:
					_, err := loader.LoadConfigObjs(map[string]any{name: sec[name]}, details)
					return err
				}
			})
			if err != nil {
				if key == "services" {
					path = append(path, decodeErrorPath(err.Error())...)
				}
				d.problem(pf, "load", err.Error(), path)
			}
			for _, msg := range logs.take() {
				d.warning(pf, "docker", msg, warningPath(msg, key, name, sec[name]))
			}
		}
	}
	return d
}

func safeLoad(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("docker's loader panicked: %v", r)
		}
	}()
	return f()
}

// underAny: path is one of prefixes or below one of them.
func underAny(path []string, prefixes [][]string) bool {
	for _, p := range prefixes {
		if len(p) <= len(path) && slices.Equal(path[:len(p)], p) {
			return true
		}
	}
	return false
}

// touches: a problem lies at, below or above path.
func touches(path []string, problems [][]string) bool {
	for _, p := range problems {
		n := min(len(p), len(path))
		if slices.Equal(path[:n], p[:n]) {
			return true
		}
	}
	return false
}

// mapstructure names the failing field by its Go names, "'Volumes[1]' invalid spec: ..." or
// "'Deploy.Resources.Limits.memory' invalid size: ...".
var decodeField = regexp.MustCompile(`'([A-Za-z_.\[\]0-9]+)' `)
var decodeIndex = regexp.MustCompile(`^([A-Za-z_]+)\[(\d+)\]$`)

// decodeErrorPath turns the fields a decoding error names into the compose key path below the service
// (["deploy", "resources", "limits", "memory"]), as far as it can follow them.
func decodeErrorPath(msg string) []string {
	m := decodeField.FindStringSubmatch(msg)
	if m == nil {
		return nil
	}
	var out []string
	t := reflect.TypeFor[types.ServiceConfig]()
	for _, seg := range strings.Split(m[1], ".") {
		name, index := seg, ""
		if im := decodeIndex.FindStringSubmatch(seg); im != nil {
			name, index = im[1], im[2]
		}
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			break
		}
		f, ok := t.FieldByNameFunc(func(n string) bool { return strings.EqualFold(n, name) })
		if !ok {
			for i := range t.NumField() {
				if tf := t.Field(i); strings.Split(tf.Tag.Get("mapstructure"), ",")[0] == name {
					f, ok = tf, true
				}
			}
		}
		if !ok {
			break
		}
		key := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		out = append(out, key)
		if index != "" {
			out = append(out, index)
		}
		t = f.Type
	}
	return out
}

var ipWarning = regexp.MustCompile(`^ignoring IP-address \((.*)\) service will listen`)

// warningPath points a warning logged by the loader at the key it is about.
func warningPath(msg, section, name string, def any) []string {
	base := []string{section, name}
	switch {
	case strings.Contains(msg, ".external.name is deprecated"):
		return append(base, "external", "name")
	case strings.HasPrefix(msg, "cannot expand '~'"):
		return append(base, "volumes")
	}
	if m := ipWarning.FindStringSubmatch(msg); m != nil {
		svc, _ := def.(map[string]any)
		ports, _ := svc["ports"].([]any)
		hostPort := m[1]
		ip := hostPort
		if i := strings.LastIndex(hostPort, ":"); i >= 0 {
			ip = hostPort[:i]
		}
		for i, p := range ports {
			if s, ok := p.(string); ok && strings.HasPrefix(s, ip+":") {
				return append(base, "ports", fmt.Sprint(i))
			}
		}
		return append(base, "ports")
	}
	return base
}
