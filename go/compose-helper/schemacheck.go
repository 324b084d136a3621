package main

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
	_ "unsafe" // for go:linkname

	"github.com/docker/cli/cli/compose/schema"
	"github.com/docker/go-connections/nat"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// dockerSchemas is docker/cli's own embedded copy of the compose file JSON schemas
// (cli/compose/schema/data/config_schema_v3.*.json). schema.Validate stops at the single "most specific"
// error; to list every error we compile the very same schema documents with the very same library
// (santhosh-tekuri/jsonschema/v6) and the same two custom formats, and walk the whole error tree. The
// package keeps the files in an unexported variable, hence the linkname (a reference, not a copy: the
// schemas are never copied into this project).
//
//go:linkname dockerSchemas github.com/docker/cli/cli/compose/schema.schemas
var dockerSchemas embed.FS

var (
	schemaMu    sync.Mutex
	schemaCache = map[string]*jsonschema.Schema{}
)

// compileSchema mirrors schema.Validate's set-up. version must already be normalised (schema.Version).
func compileSchema(version string) (*jsonschema.Schema, error) {
	schemaMu.Lock()
	defer schemaMu.Unlock()
	if s, ok := schemaCache[version]; ok {
		return s, nil
	}
	data, err := dockerSchemas.ReadFile("data/config_schema_v" + version + ".json")
	if err != nil {
		// The same message schema.Validate gives.
		return nil, fmt.Errorf("unsupported Compose file version: %s", version)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.RegisterFormat(&jsonschema.Format{Name: "ports", Validate: validatePortsFormat})
	c.RegisterFormat(&jsonschema.Format{Name: "duration", Validate: validateDurationFormat})
	if err := c.AddResource("schema.json", doc); err != nil {
		return nil, err
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		return nil, err
	}
	schemaCache[version] = s
	return s, nil
}

// validatePortsFormat and validateDurationFormat are docker/cli's portsFormatChecker and
// durationFormatChecker (unexported there).
func validatePortsFormat(input any) error {
	switch input.(type) {
	case string, json.Number, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		_, err := nat.ParsePortSpec(fmt.Sprint(input))
		return err
	default:
		return nil
	}
}

func validateDurationFormat(input any) error {
	value, ok := input.(string)
	if !ok {
		return nil
	}
	_, err := time.ParseDuration(value)
	return err
}

// schemaError is one schema violation: its Docker-formatted message and the instance path it is about.
type schemaError struct {
	path    []string
	message string
}

// validateAll validates dict against Docker's schema for version and returns every error, each formatted
// exactly as schema.Validate formats the one it returns. Docker's own single error is always among them
// (it is the "most specific" of this same list).
func validateAll(dict map[string]any, version string) ([]schemaError, error) {
	version = schema.Version(map[string]any{"version": version})
	s, err := compileSchema(version)
	if err != nil {
		return nil, err
	}
	verr := s.Validate(toJSONValue(dict))
	if verr == nil {
		return nil, nil
	}
	ve, ok := verr.(*jsonschema.ValidationError)
	if !ok {
		return []schemaError{{message: verr.Error()}}, nil
	}
	var out []schemaError
	seen := map[string]bool{}
	for _, e := range flattenErrors(ve) {
		v := validationError{parent: e}
		switch e.ErrorKind.(type) {
		case *kind.OneOf, *kind.AnyOf:
			v.child = mostSpecificCause(e)
		}
		target := v.parent
		if v.child != nil {
			target = v.child
		}
		path := append([]string(nil), target.InstanceLocation...)
		// Point an unknown key at the key itself rather than at its parent mapping.
		if ap, ok := target.ErrorKind.(*kind.AdditionalProperties); ok && len(ap.Properties) > 0 {
			path = append(path, ap.Properties[0])
		}
		msg := v.Error()
		k := strings.Join(path, "\x00") + "\x01" + msg
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, schemaError{path: path, message: msg})
	}
	return out, nil
}

// What follows mirrors docker/cli's cli/compose/schema/schema.go (toJSONValue, the error description and
// the "most specific" choice), so that every message reads exactly as Docker's would.

func toJSONValue(v any) any {
	if v == nil {
		return nil
	}
	switch value := reflect.ValueOf(v); value.Kind() { //nolint:exhaustive
	case reflect.Map:
		result := make(map[string]any, value.Len())
		iter := value.MapRange()
		for iter.Next() {
			result[iter.Key().String()] = toJSONValue(iter.Value().Interface())
		}
		return result
	case reflect.Slice:
		result := make([]any, value.Len())
		for i := range value.Len() {
			result[i] = toJSONValue(value.Index(i).Interface())
		}
		return result
	default:
		return v
	}
}

var printer = message.NewPrinter(language.English)

type validationError struct {
	parent *jsonschema.ValidationError
	child  *jsonschema.ValidationError
}

func (err validationError) Error() string {
	ve := err.parent
	if err.child != nil {
		ve = err.child
	}
	field := strings.Join(ve.InstanceLocation, ".")
	if field == "" {
		field = "(root)"
	}
	return field + ": " + getDescription(err)
}

func getDescription(err validationError) string {
	switch parent := err.parent.ErrorKind.(type) {
	case *kind.Type:
		types := make([]string, len(parent.Want))
		for i, typ := range parent.Want {
			types[i] = humanReadableType(typ)
		}
		return "must be " + strings.Join(types, " or ")
	case *kind.AnyOf, *kind.OneOf:
		if err.child != nil {
			return getDescription(validationError{parent: err.child})
		}
		return err.parent.ErrorKind.LocalizedString(printer)
	case *kind.AdditionalProperties:
		if len(parent.Properties) == 1 {
			return fmt.Sprintf("additional property '%s' is not allowed", parent.Properties[0])
		}
		return err.parent.ErrorKind.LocalizedString(printer)
	case *kind.Minimum:
		want, _ := parent.Want.Float64()
		return fmt.Sprintf("must be greater than or equal to %v", want)
	default:
		return err.parent.ErrorKind.LocalizedString(printer)
	}
}

func humanReadableType(definition string) string {
	if definition[0:1] == "[" {
		allTypes := strings.Split(definition[1:len(definition)-1], ",")
		for i, t := range allTypes {
			allTypes[i] = humanReadableType(t)
		}
		return fmt.Sprintf("%s or %s", strings.Join(allTypes[0:len(allTypes)-1], ", "), allTypes[len(allTypes)-1])
	}
	switch definition {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "integer":
		return "an integer"
	case "null":
		return "null"
	default:
		return "a " + definition
	}
}

func mostSpecificCause(err *jsonschema.ValidationError) *jsonschema.ValidationError {
	var best *jsonschema.ValidationError
	for _, cause := range err.Causes {
		for _, candidate := range flattenErrors(cause) {
			switch candidate.ErrorKind.(type) {
			case *kind.OneOf, *kind.AnyOf:
				if nested := mostSpecificCause(candidate); nested != nil {
					candidate = nested
				}
			}
			if best == nil || specificity(candidate) > specificity(best) {
				best = candidate
				continue
			}
			if specificity(candidate) == specificity(best) && !isTypeError(candidate) && isTypeError(best) {
				best = candidate
			}
		}
	}
	return best
}

func flattenErrors(err *jsonschema.ValidationError) []*jsonschema.ValidationError {
	var errs []*jsonschema.ValidationError
	var walk func(*jsonschema.ValidationError)
	walk = func(err *jsonschema.ValidationError) {
		switch err.ErrorKind.(type) {
		case *kind.Schema, *kind.Group, *kind.Reference:
			for _, cause := range err.Causes {
				walk(cause)
			}
		default:
			errs = append(errs, err)
		}
	}
	walk(err)
	return errs
}

func isTypeError(err *jsonschema.ValidationError) bool {
	_, ok := err.ErrorKind.(*kind.Type)
	return ok
}

func specificity(err *jsonschema.ValidationError) int {
	return len(err.InstanceLocation)
}
