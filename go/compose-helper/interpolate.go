package main

import (
	"fmt"
	"strconv"
	"strings"

	interp "github.com/docker/cli/cli/compose/interpolation"
	"github.com/docker/cli/cli/compose/loader"
	"github.com/docker/cli/cli/compose/template"
	"github.com/docker/cli/cli/compose/types"
)

// dockerInterpolateOptions returns the interpolation options loader.Load builds for itself (template.
// Substitute, and the unexported table that casts `deploy.replicas`, `ports.*.published`, booleans and so
// on), by asking Load for them through its options hook on an empty document.
func dockerInterpolateOptions() interp.Options {
	var captured interp.Options
	_, _ = loader.Load(types.ConfigDetails{ConfigFiles: []types.ConfigFile{{Config: map[string]any{}}}},
		func(o *loader.Options) {
			captured = *o.Interpolate
			o.SkipInterpolation = true
			o.SkipValidation = true
		})
	return captured
}

// Template substitution calls the lookup once per `$VAR`: either from one of the modifier functions
// (`${VAR:-default}`, `${VAR-default}`, `${VAR:?err}`, `${VAR?err}`), or, for a plain `$VAR`/`${VAR}`,
// directly, substituting "" when the variable is unset. To tell them apart, every function of
// template.DefaultSubstituteFuncs (which template.Substitute reads on each call) is wrapped once, at start,
// by one that only notes which substitution it is working on. Results are untouched.
// modifierSub is the substitution ("VAR:-default", "VAR?err", ...) a modifier function is working on,
// "" outside of them.
var modifierSub string

func init() {
	for i, f := range template.DefaultSubstituteFuncs {
		template.DefaultSubstituteFuncs[i] = func(sub string, m template.Mapping) (string, bool, error) {
			saved := modifierSub
			modifierSub = sub
			defer func() { modifierSub = saved }()
			return f(sub, m)
		}
	}
}

// envLookup is the interpolation lookup over the request's env map only (never the process environment),
// recording the variables it was asked for and did not have.
type envLookup struct {
	env       map[string]string
	unset     map[string]bool // plain $VAR: Docker substituted ""
	defaulted map[string]bool // ${VAR-x} / ${VAR:-x}: a default was used
	record    bool
}

func newEnvLookup(env map[string]string) *envLookup {
	return &envLookup{env: env, unset: map[string]bool{}, defaulted: map[string]bool{}}
}

func (l *envLookup) lookup(key string) (string, bool) {
	v, ok := l.env[key]
	if !ok && l.record {
		rest, isModifier := strings.CutPrefix(modifierSub, key)
		switch {
		case !isModifier || modifierSub == "":
			l.unset[key] = true // plain $VAR: "" substituted
		case strings.HasPrefix(rest, ":-") || strings.HasPrefix(rest, "-"):
			l.defaulted[key] = true
		default:
			// ${VAR:?err} / ${VAR?err}: an interpolation problem, reported as such.
		}
	}
	return v, ok
}

type interpError struct {
	path    []string
	message string
	// kind is "interpolation" (Docker's own error) or "bound" (a value that could grow past its limit,
	// refused before Docker interpolates it).
	kind string
}

// interpolateLeaves interpolates dict the way interp.Interpolate does, but leaf by leaf, so that every
// failing value is reported rather than the first. Interpolate treats each string leaf on its own, given
// only its path (with "[]" for list items) for the type-cast table: each leaf is run through
// interp.Interpolate itself inside a one-leaf document with the same path, so values, casts and error
// messages are Docker's. A failing leaf is left as it was written.
func interpolateLeaves(dict map[string]any, opts interp.Options, env map[string]string) (map[string]any, []interpError) {
	var errs []interpError
	var total int64
	var walk func(v any, path, dockerPath []string) any
	walk = func(v any, path, dockerPath []string) any {
		switch v := v.(type) {
		case string:
			bound := interpolationBound(v, env)
			total += bound
			if bound > MaxInterpolated {
				errs = append(errs, interpError{path: path, kind: "bound",
					message: fmt.Sprintf("could interpolate to %d bytes, over the limit of %d for one value", bound, MaxInterpolated)})
				return v
			}
			res, err := interp.Interpolate(oneLeaf(dockerPath, v).(map[string]any), opts)
			if err != nil {
				errs = append(errs, interpError{path: path, message: err.Error(), kind: "interpolation"})
				return v
			}
			return extractLeaf(res, dockerPath)
		case map[string]any:
			out := make(map[string]any, len(v))
			for k, e := range v {
				out[k] = walk(e, appendPath(path, k), appendPath(dockerPath, k))
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i, e := range v {
				out[i] = walk(e, appendPath(path, strconv.Itoa(i)), appendPath(dockerPath, interp.PathMatchList))
			}
			return out
		default:
			return v
		}
	}
	out := walk(dict, nil, nil).(map[string]any)
	if total > MaxInterpolatedTotal {
		errs = append(errs, interpError{kind: "bound",
			message: fmt.Sprintf("the file could interpolate to %d bytes, over the limit of %d", total, MaxInterpolatedTotal)})
	}
	return out, errs
}

func appendPath(p []string, s string) []string {
	return append(append(make([]string, 0, len(p)+1), p...), s)
}

func oneLeaf(dockerPath []string, leaf any) any {
	v := leaf
	for i := len(dockerPath) - 1; i >= 0; i-- {
		if dockerPath[i] == interp.PathMatchList {
			v = []any{v}
		} else {
			v = map[string]any{dockerPath[i]: v}
		}
	}
	return v
}

func extractLeaf(v any, dockerPath []string) any {
	for _, p := range dockerPath {
		if p == interp.PathMatchList {
			v = v.([]any)[0]
		} else {
			v = v.(map[string]any)[p]
		}
	}
	return v
}
