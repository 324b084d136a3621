package main

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/cli/cli/compose/types"
)

// configToJSON turns the loaded types.Config into plain JSON values with the compose file's key names.
//
// It follows what `docker stack config` prints (it YAML-encodes the same types.Config with go.yaml.in/
// yaml/v3): keys from the `yaml` struct tags (else the lower-cased field name), `omitempty`, `inline`
// extension fields (`x-*`), and the types' own MarshalYAML (services as a map by name, `external`, single-
// value ulimits). Two things differ on purpose, for a typed consumer: byte sizes (types.UnitBytes, which
// MarshalYAML writes as a string) are JSON numbers, and floats are plain numbers.
//
// types.Config does carry `json` tags, but its JSON form drops the `x-*` fields of services, networks,
// volumes, secrets and configs (`json:"-"`), writes sizes as strings and always writes some empty structs
// (build, deploy, credential_spec): hence this converter.
func configToJSON(cfg *types.Config) any {
	return toPlain(reflect.ValueOf(cfg), 0)
}

type yamlMarshaler interface {
	MarshalYAML() (any, error)
}

var (
	unitBytesType = reflect.TypeFor[types.UnitBytes]()
	durationType  = reflect.TypeFor[types.Duration]()
)

func toPlain(v reflect.Value, depth int) any {
	if depth > 100 || !v.IsValid() {
		return nil
	}
	// Checked before MarshalYAML, which writes these as strings.
	switch v.Type() {
	case unitBytesType:
		return v.Int()
	case durationType:
		return types.Duration(v.Int()).String()
	}
	if v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
	}
	if v.CanInterface() {
		if m, ok := v.Interface().(yamlMarshaler); ok {
			// Like yaml.v3: encode what MarshalYAML returns by its kind, without asking it again.
			out, err := m.MarshalYAML()
			if err != nil {
				return fmt.Sprintf("<error: %v>", err)
			}
			return toPlainNoMarshaler(reflect.ValueOf(out), depth+1)
		}
	}
	return toPlainNoMarshaler(v, depth)
}

func toPlainNoMarshaler(v reflect.Value, depth int) any {
	if !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return toPlain(v.Elem(), depth+1)
	case reflect.Struct:
		out := map[string]any{}
		addStructFields(out, v, depth)
		return out
	case reflect.Map:
		if v.IsNil() {
			return map[string]any{}
		}
		out := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out[fmt.Sprint(iter.Key().Interface())] = toPlain(iter.Value(), depth+1)
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return string(v.Bytes())
		}
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = toPlain(v.Index(i), depth+1)
		}
		return out
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint()
	case reflect.Float32:
		// As yaml.v3 writes a float32: 0.3, not 0.30000001192092896.
		f, _ := strconv.ParseFloat(strconv.FormatFloat(v.Float(), 'g', -1, 32), 64)
		return f
	case reflect.Float64:
		return v.Float()
	default:
		return fmt.Sprint(v.Interface())
	}
}

type yamlTag struct {
	name      string
	skip      bool
	omitEmpty bool
	inline    bool
}

func parseYAMLTag(f reflect.StructField) yamlTag {
	tag := f.Tag.Get("yaml")
	if tag == "-" {
		return yamlTag{skip: true}
	}
	parts := strings.Split(tag, ",")
	t := yamlTag{name: parts[0]}
	for _, flag := range parts[1:] {
		switch flag {
		case "omitempty":
			t.omitEmpty = true
		case "inline":
			t.inline = true
		}
	}
	if t.name == "" {
		t.name = strings.ToLower(f.Name) // yaml.v3's default key
	}
	return t
}

func addStructFields(out map[string]any, v reflect.Value, depth int) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.PkgPath != "" { // unexported
			continue
		}
		tag := parseYAMLTag(f)
		if tag.skip {
			continue
		}
		fv := v.Field(i)
		if tag.inline {
			switch fv.Kind() {
			case reflect.Map:
				keys := fv.MapKeys()
				sort.Slice(keys, func(a, b int) bool { return fmt.Sprint(keys[a]) < fmt.Sprint(keys[b]) })
				for _, k := range keys {
					out[fmt.Sprint(k.Interface())] = toPlain(fv.MapIndex(k), depth+1)
				}
			case reflect.Struct:
				addStructFields(out, fv, depth+1)
			}
			continue
		}
		if tag.omitEmpty && isZeroYAML(fv) {
			continue
		}
		out[tag.name] = toPlain(fv, depth+1)
	}
}

// isZeroYAML is yaml.v3's notion of "empty" for omitempty.
func isZeroYAML(v reflect.Value) bool {
	if !v.IsValid() {
		return true
	}
	if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
		if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
			return true
		}
		return z.IsZero()
	}
	switch v.Kind() {
	case reflect.String:
		return v.Len() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Struct:
		vt := v.Type()
		for i := v.NumField() - 1; i >= 0; i-- {
			if vt.Field(i).PkgPath != "" {
				continue
			}
			if !isZeroYAML(v.Field(i)) {
				return false
			}
		}
		return true
	}
	return false
}
