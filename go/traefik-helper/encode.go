package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/traefik/paerser/parser"
	ptypes "github.com/traefik/paerser/types"
	"github.com/traefik/traefik/v3/pkg/config/dynamic"
	"github.com/traefik/traefik/v3/pkg/config/label"
	"github.com/traefik/traefik/v3/pkg/version"
)

type EncodeRequest struct {
	Services map[string]EncodeService `json:"services"`
}

type EncodeService struct {
	// Config: the shape of decode's "config" (Traefik's dynamic configuration, JSON field names).
	Config json.RawMessage `json:"config"`
	// Provider: the shape of decode's "provider"; enable, network, lbswarm. Encoded as
	// traefik.enable and traefik.swarm.* (never the deprecated traefik.docker.*).
	Provider *EncodeProvider `json:"provider,omitempty"`
}

type EncodeProvider struct {
	Enable  bool    `json:"enable"`
	Network *string `json:"network,omitempty"`
	LBSwarm bool    `json:"lbswarm"`
	// Accepted so that decode's "provider" can be passed back as is; must be false.
	DockerLabels bool `json:"dockerLabels,omitempty"`
}

type EncodeResponse struct {
	Traefik  string                   `json:"traefik"`
	Services map[string]EncodedLabels `json:"services"`
}

type EncodedLabels struct {
	Labels map[string]string `json:"labels"`
	// Lossless: Traefik decodes Labels back to exactly the config given (false when the config
	// holds what labels cannot say, e.g. fields Traefik marks label:"-", or lacks defaults that
	// decoding adds). Decode the labels to see what Traefik will make of them.
	Lossless bool `json:"lossless"`
}

func Encode(req EncodeRequest) (*EncodeResponse, error) {
	if req.Services == nil {
		return nil, errors.New(`malformed request: "services" is missing`)
	}
	resp := &EncodeResponse{Traefik: version.Version, Services: map[string]EncodedLabels{}}
	for key, svc := range req.Services {
		labels, lossless, err := encodeService(svc)
		if err != nil {
			return nil, fmt.Errorf("malformed request: service %q: %w", key, err)
		}
		resp.Services[key] = EncodedLabels{Labels: labels, Lossless: lossless}
	}
	return resp, nil
}

func encodeService(svc EncodeService) (map[string]string, bool, error) {
	labels := map[string]string{}
	lossless := true
	if len(svc.Config) > 0 && !bytes.Equal(bytes.TrimSpace(svc.Config), []byte("null")) {
		conf, err := ConfigFromJSON(svc.Config)
		if err != nil {
			return nil, false, fmt.Errorf("config: %w", err)
		}
		encoded, err := encodeLabels(conf)
		if err != nil {
			return nil, false, fmt.Errorf("config: encoding labels: %w", err)
		}
		for k, v := range encoded {
			labels[k] = v
		}
		lossless, err = sameConfig(conf, encoded)
		if err != nil {
			return nil, false, err
		}
	}
	if p := svc.Provider; p != nil {
		if p.DockerLabels {
			return nil, false, errors.New("provider: dockerLabels is not encodable (traefik.docker.* labels are deprecated on swarm)")
		}
		pl := providerLabels{Enable: p.Enable}
		if p.Network != nil || p.LBSwarm {
			pl.Swarm = &providerSwarmLabels{Network: p.Network, LBSwarm: p.LBSwarm}
		}
		encoded, err := encodeLabels(&pl)
		if err != nil {
			return nil, false, fmt.Errorf("provider: encoding labels: %w", err)
		}
		for k, v := range encoded {
			labels[k] = v
		}
	}
	return labels, lossless, nil
}

// encodeLabels is paerser's parser.Encode (which label.EncodeConfiguration is) with one repair.
// paerser writes a types.Duration as its number of nanoseconds, but reads a number without a
// unit as seconds: "10s" would come back as 10000000000s. Traefik never encodes labels itself,
// so upstream does not notice. Between paerser's two stages (element -> nodes, nodes -> labels)
// such values are rewritten in Go's duration syntax ("10s"), which paerser reads back exactly.
func encodeLabels(element any) (map[string]string, error) {
	node, err := parser.EncodeToNode(element, parser.DefaultRootName,
		parser.EncoderToNodeOpts{OmitEmpty: true, TagName: parser.TagLabel, AllowSliceAsStruct: true})
	if err != nil {
		return nil, err
	}
	fixDurations(node, reflect.ValueOf(element))
	return parser.EncodeNode(node), nil
}

var paerserDuration = reflect.TypeOf(ptypes.Duration(0))

// fixDurations walks the node tree alongside the value it was encoded from, the way paerser's
// encoder built it (struct fields by FieldName, map entries by key, slices by index or as one
// struct), and rewrites the value of every types.Duration node.
func fixDurations(node *parser.Node, v reflect.Value) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Type() == paerserDuration {
		node.Value = time.Duration(v.Int()).String()
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for _, child := range node.Children {
			if f := v.FieldByName(child.FieldName); f.IsValid() {
				fixDurations(child, f)
			}
		}
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return
		}
		for _, child := range node.Children {
			if e := v.MapIndex(reflect.ValueOf(child.FieldName).Convert(v.Type().Key())); e.IsValid() {
				fixDurations(child, e)
			}
		}
	case reflect.Slice:
		elem := v.Type().Elem()
		for elem.Kind() == reflect.Pointer {
			elem = elem.Elem()
		}
		if elem.Kind() != reflect.Struct {
			return
		}
		if len(node.Children) > 0 && strings.HasPrefix(node.Children[0].Name, "[") {
			for i, child := range node.Children {
				if i < v.Len() {
					fixDurations(child, v.Index(i))
				}
			}
		} else if v.Len() == 1 {
			fixDurations(node, v.Index(0)) // label-slice-as-struct: one entry, encoded in place
		}
	}
}

// sameConfig tells whether Traefik decodes labels back to conf (compared as JSON documents).
func sameConfig(conf *dynamic.Configuration, labels map[string]string) (bool, error) {
	back, err := label.DecodeConfiguration(labels)
	if err != nil {
		return false, nil
	}
	a, err := normalizedJSON(conf)
	if err != nil {
		return false, err
	}
	b, err := normalizedJSON(back)
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(a, b), nil
}

// normalizedJSON: the configuration as a generic JSON value, with empty sections dropped
// (decoding always creates http, tcp, udp and tls; a caller may leave them out).
func normalizedJSON(conf *dynamic.Configuration) (any, error) {
	raw, err := ConfigJSON(conf)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	for k, v := range doc {
		if m, ok := v.(map[string]any); ok && len(m) == 0 {
			delete(doc, k)
		}
	}
	return doc, nil
}
