package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/traefik/traefik/v3/pkg/config/dynamic"
)

// Traefik's dynamic configuration marshals to JSON with its own field names (as its API shows
// it), except for a few fields that only labels can set and that carry json:"-": the port (and,
// for HTTP, the scheme) of a load-balancer server, which the provider turns into the server's
// address. They matter here (traefik.http.services.x.loadbalancer.server.port is how a recipe
// names its port), so ConfigJSON adds them as "port"/"scheme" next to the server's other fields,
// and ConfigFromJSON reads them back. TestLabelOnlyFieldsCovered keeps this list complete.
type serverExtras struct {
	proto  string // http, tcp, udp
	fields []string
}

var labelOnlyServerFields = []serverExtras{
	{"http", []string{"scheme", "port"}},
	{"tcp", []string{"port"}},
	{"udp", []string{"port"}},
}

// ConfigJSON marshals a dynamic configuration, label-only server fields included.
func ConfigJSON(conf *dynamic.Configuration) (json.RawMessage, error) {
	if conf == nil {
		return json.RawMessage("null"), nil
	}
	raw, err := marshal(conf)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	for _, ex := range labelOnlyServerFields {
		forEachServer(doc, ex.proto, func(svc string, i int, server map[string]any) {
			for _, f := range ex.fields {
				if v := getServerField(conf, ex.proto, svc, i, f); v != "" {
					server[f] = v
				}
			}
		})
	}
	return marshal(doc)
}

// ConfigFromJSON is the inverse of ConfigJSON; unknown fields are an error.
func ConfigFromJSON(raw json.RawMessage) (*dynamic.Configuration, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	type extra struct {
		proto, svc string
		i          int
		field, val string
	}
	var extras []extra
	for _, ex := range labelOnlyServerFields {
		var bad error
		forEachServer(doc, ex.proto, func(svc string, i int, server map[string]any) {
			for _, f := range ex.fields {
				v, ok := server[f]
				if !ok {
					continue
				}
				s, isString := v.(string)
				if !isString {
					bad = fmt.Errorf("%s.services.%s.loadBalancer.servers[%d].%s must be a string", ex.proto, svc, i, f)
					return
				}
				extras = append(extras, extra{ex.proto, svc, i, f, s})
				delete(server, f)
			}
		})
		if bad != nil {
			return nil, bad
		}
	}
	stripped, err := marshal(doc)
	if err != nil {
		return nil, err
	}
	conf := &dynamic.Configuration{}
	dec := json.NewDecoder(bytes.NewReader(stripped))
	dec.DisallowUnknownFields()
	if err := dec.Decode(conf); err != nil {
		return nil, err
	}
	for _, e := range extras {
		setServerField(conf, e.proto, e.svc, e.i, e.field, e.val)
	}
	return conf, nil
}

func marshal(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// forEachServer calls fn for every <proto>.services.<name>.loadBalancer.servers[i] object.
func forEachServer(doc map[string]any, proto string, fn func(svc string, i int, server map[string]any)) {
	p, _ := doc[proto].(map[string]any)
	services, _ := p["services"].(map[string]any)
	for name, s := range services {
		svc, _ := s.(map[string]any)
		lb, _ := svc["loadBalancer"].(map[string]any)
		servers, _ := lb["servers"].([]any)
		for i, srv := range servers {
			if m, ok := srv.(map[string]any); ok {
				fn(name, i, m)
			}
		}
	}
}

func getServerField(conf *dynamic.Configuration, proto, svc string, i int, field string) string {
	switch proto {
	case "http":
		if s := conf.HTTP.Services[svc]; s != nil && s.LoadBalancer != nil && i < len(s.LoadBalancer.Servers) {
			if field == "scheme" {
				return s.LoadBalancer.Servers[i].Scheme
			}
			return s.LoadBalancer.Servers[i].Port
		}
	case "tcp":
		if s := conf.TCP.Services[svc]; s != nil && s.LoadBalancer != nil && i < len(s.LoadBalancer.Servers) {
			return s.LoadBalancer.Servers[i].Port
		}
	case "udp":
		if s := conf.UDP.Services[svc]; s != nil && s.LoadBalancer != nil && i < len(s.LoadBalancer.Servers) {
			return s.LoadBalancer.Servers[i].Port
		}
	}
	return ""
}

func setServerField(conf *dynamic.Configuration, proto, svc string, i int, field, val string) {
	switch proto {
	case "http":
		srv := &conf.HTTP.Services[svc].LoadBalancer.Servers[i]
		if field == "scheme" {
			srv.Scheme = val
		} else {
			srv.Port = val
		}
	case "tcp":
		conf.TCP.Services[svc].LoadBalancer.Servers[i].Port = val
	case "udp":
		conf.UDP.Services[svc].LoadBalancer.Servers[i].Port = val
	}
}
