package main

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/traefik/traefik/v3/pkg/config/dynamic"
)

func decodeOne(t *testing.T, labels map[string]string) *ServiceResult {
	t.Helper()
	resp, err := Decode(DecodeRequest{Services: map[string]ServiceLabels{"svc": {Name: "run1_app", Labels: labels}}})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return resp.Services["svc"]
}

func configOf(t *testing.T, raw json.RawMessage) *dynamic.Configuration {
	t.Helper()
	if string(raw) == "null" {
		t.Fatalf("config is null")
	}
	conf, err := ConfigFromJSON(raw)
	if err != nil {
		t.Fatalf("ConfigFromJSON: %v\n%s", err, raw)
	}
	return conf
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const enable = "traefik.enable"

func TestDecodeTable(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		check  func(t *testing.T, r *ServiceResult)
	}{
		{
			name: "label key case: traefik.HTTP.Routers.x.Rule",
			labels: map[string]string{
				enable:                        "true",
				"traefik.HTTP.Routers.x.Rule": "Host(`a.run.example`)",
			},
			check: func(t *testing.T, r *ServiceResult) {
				c := configOf(t, r.Config)
				if got := c.HTTP.Routers["x"].Rule; got != "Host(`a.run.example`)" {
					t.Errorf("rule %q", got)
				}
				ri := r.Rules.HTTP["x"]
				if !ri.HostConfinement.Confined || jsonOf(ri.HostConfinement.Hosts) != `["a.run.example"]` {
					t.Errorf("confinement %+v", ri.HostConfinement)
				}
			},
		},
		{
			name: "two spellings of one key: the last in sort order wins",
			labels: map[string]string{
				enable:                        "true",
				"traefik.http.routers.x.Rule": "Host(`good.run.example`)",
				"traefik.http.routers.x.rule": "Host(`evil.example`)",
			},
			check: func(t *testing.T, r *ServiceResult) {
				// "...x.Rule" sorts before "...x.rule"; paerser merges nodes case-insensitively
				// and the later value overwrites the earlier.
				if got := configOf(t, r.Config).HTTP.Routers["x"].Rule; got != "Host(`evil.example`)" {
					t.Errorf("rule %q", got)
				}
				if h := r.Rules.HTTP["x"].HostConfinement.Hosts; jsonOf(h) != `["evil.example"]` {
					t.Errorf("hosts %v", h)
				}
			},
		},
		{
			name: "router name case: names merge case-insensitively, the first spelling in sort order is kept",
			labels: map[string]string{
				enable:                                 "true",
				"traefik.http.routers.app.rule":        "Host(`a.run.example`)",
				"traefik.http.routers.App.entrypoints": "web",
			},
			check: func(t *testing.T, r *ServiceResult) {
				c := configOf(t, r.Config)
				if len(c.HTTP.Routers) != 1 || c.HTTP.Routers["App"] == nil {
					t.Fatalf("routers %s", jsonOf(c.HTTP.Routers))
				}
				if rt := c.HTTP.Routers["App"]; rt.Rule != "Host(`a.run.example`)" || jsonOf(rt.EntryPoints) != `["web"]` {
					t.Errorf("router %s", jsonOf(rt))
				}
			},
		},
		{
			name: "label root in another case is an error for the whole service",
			labels: map[string]string{
				enable:                        "true",
				"Traefik.http.routers.x.rule": "Host(`a.run.example`)",
			},
			check: func(t *testing.T, r *ServiceResult) {
				if string(r.Config) != "null" || r.Exposed {
					t.Errorf("config %s exposed %v", r.Config, r.Exposed)
				}
				wantError(t, r, "config", "invalid label root Traefik", "Traefik.http.routers.x.rule")
			},
		},
		{
			name: "or with PathPrefix: not confined",
			labels: map[string]string{
				enable:                        "true",
				"traefik.http.routers.x.rule": "Host(`a.run.example`) || PathPrefix(`/`)",
			},
			check: func(t *testing.T, r *ServiceResult) {
				ri := r.Rules.HTTP["x"]
				if jsonOf(ri.Tree) != `{"or":[{"matcher":"Host","args":["a.run.example"]},{"matcher":"PathPrefix","args":["/"]}]}` {
					t.Errorf("tree %s", jsonOf(ri.Tree))
				}
				if ri.HostConfinement.Confined {
					t.Errorf("confined")
				}
				if ri.Priority != len("Host(`a.run.example`) || PathPrefix(`/`)") || !ri.PriorityFromRule {
					t.Errorf("priority %d", ri.Priority)
				}
			},
		},
		{
			name: "and with PathPrefix: confined",
			labels: map[string]string{
				enable:                            "true",
				"traefik.http.routers.x.rule":     "PathPrefix(`/api`) && (Host(`a.run.example`) || HOST(`b.run.example`)) && Method(`GET`)",
				"traefik.http.routers.x.priority": "42",
			},
			check: func(t *testing.T, r *ServiceResult) {
				ri := r.Rules.HTTP["x"]
				if !ri.HostConfinement.Confined || jsonOf(ri.HostConfinement.Hosts) != `["a.run.example","b.run.example"]` {
					t.Errorf("confinement %+v", ri.HostConfinement)
				}
				if ri.Priority != 42 || ri.PriorityFromRule {
					t.Errorf("priority %d", ri.Priority)
				}
				if !strings.Contains(jsonOf(ri.Tree), `{"matcher":"Host","args":["b.run.example"]}`) {
					t.Errorf("HOST is not read as Host: %s", jsonOf(ri.Tree))
				}
			},
		},
		{
			name: "negation",
			labels: map[string]string{
				enable:                        "true",
				"traefik.http.routers.x.rule": "!Host(`a.run.example`)",
			},
			check: func(t *testing.T, r *ServiceResult) {
				ri := r.Rules.HTTP["x"]
				if jsonOf(ri.Tree) != `{"not":{"matcher":"Host","args":["a.run.example"]}}` || ri.HostConfinement.Confined {
					t.Errorf("tree %s confinement %+v", jsonOf(ri.Tree), ri.HostConfinement)
				}
			},
		},
		{
			name: "negation of a conjunction is pushed down by Traefik's parser",
			labels: map[string]string{
				enable:                        "true",
				"traefik.http.routers.x.rule": "!(Host(`a.run.example`) && PathPrefix(`/x`))",
			},
			check: func(t *testing.T, r *ServiceResult) {
				want := `{"or":[{"not":{"matcher":"Host","args":["a.run.example"]}},{"not":{"matcher":"PathPrefix","args":["/x"]}}]}`
				if got := jsonOf(r.Rules.HTTP["x"].Tree); got != want {
					t.Errorf("tree %s", got)
				}
			},
		},
		{
			name: "TCP catch-all HostSNI(`*`)",
			labels: map[string]string{
				enable:                       "true",
				"traefik.tcp.routers.t.rule": "HostSNI(`*`)",
				"traefik.tcp.services.t.loadbalancer.server.port": "5432",
			},
			check: func(t *testing.T, r *ServiceResult) {
				ri := r.Rules.TCP["t"]
				if !ri.CatchAll || ri.Priority != -1 || ri.HostConfinement.Confined || ri.Error != "" {
					t.Errorf("rule %s", jsonOf(ri))
				}
				c := configOf(t, r.Config)
				if p := c.TCP.Services["t"].LoadBalancer.Servers[0].Port; p != "5432" {
					t.Errorf("port %q", p)
				}
			},
		},
		{
			name: "TCP HostSNI and HostSNIRegexp",
			labels: map[string]string{
				enable:                       "true",
				"traefik.tcp.routers.t.rule": "HostSNI(`db.run.example`) || HostSNIRegexp(`^[a-z]+\\.run\\.example$`)",
				"traefik.tcp.routers.t.tls":  "true",
			},
			check: func(t *testing.T, r *ServiceResult) {
				hc := r.Rules.TCP["t"].HostConfinement
				if !hc.Confined || jsonOf(hc.Hosts) != `["db.run.example"]` || jsonOf(hc.Suffixes) != `[".run.example"]` {
					t.Errorf("confinement %+v", hc)
				}
			},
		},
		{
			name: "HostRegexp(`^.+$`)",
			labels: map[string]string{
				enable:                        "true",
				"traefik.http.routers.x.rule": "HostRegexp(`^.+$`)",
			},
			check: func(t *testing.T, r *ServiceResult) {
				hr := r.Rules.HTTP["x"].HostRegexps
				if len(hr) != 1 || hr[0].RequiredSuffix != "" || !hr[0].Anchored || r.Rules.HTTP["x"].HostConfinement.Confined {
					t.Errorf("%s", jsonOf(hr))
				}
			},
		},
		{
			name: "HostRegexp confined",
			labels: map[string]string{
				enable:                        "true",
				"traefik.http.routers.x.rule": "HostRegexp(`^[a-z]+\\.run\\.example$`)",
			},
			check: func(t *testing.T, r *ServiceResult) {
				ri := r.Rules.HTTP["x"]
				hr := ri.HostRegexps
				if len(hr) != 1 || hr[0].Pattern != `^[a-z]+\.run\.example$` || hr[0].RequiredSuffix != ".run.example" || !hr[0].Anchored {
					t.Errorf("%s", jsonOf(hr))
				}
				if !ri.HostConfinement.Confined || jsonOf(ri.HostConfinement.Suffixes) != `[".run.example"]` {
					t.Errorf("%+v", ri.HostConfinement)
				}
			},
		},
		{
			name: "HostRegexp unanchored: Traefik does not anchor it",
			labels: map[string]string{
				enable:                        "true",
				"traefik.http.routers.x.rule": "HostRegexp(`[a-z]+\\.run\\.example`)",
			},
			check: func(t *testing.T, r *ServiceResult) {
				hr := r.Rules.HTTP["x"].HostRegexps
				if len(hr) != 1 || hr[0].Pattern != `[a-z]+\.run\.example` || hr[0].RequiredSuffix != "" || hr[0].AnchoredEnd || hr[0].AnchoredStart {
					t.Errorf("%s", jsonOf(hr))
				}
			},
		},
		{
			name: "HostRegexp that matches the empty string",
			labels: map[string]string{
				enable:                        "true",
				"traefik.http.routers.x.rule": "HostRegexp(`^(a\\.run\\.example)?$`)",
			},
			check: func(t *testing.T, r *ServiceResult) {
				hr := r.Rules.HTTP["x"].HostRegexps
				if len(hr) != 1 || !hr[0].MatchesEmpty || hr[0].RequiredSuffix != "" {
					t.Errorf("%s", jsonOf(hr))
				}
			},
		},
		{
			name: "quote escapes inside the rule",
			labels: map[string]string{
				enable:                        "true",
				"traefik.http.routers.x.rule": "Host(\"a\\x2erun.example\") && PathPrefix(\"/a`b\\\"c\")",
			},
			check: func(t *testing.T, r *ServiceResult) {
				ri := r.Rules.HTTP["x"]
				want := `{"and":[{"matcher":"Host","args":["a.run.example"]},{"matcher":"PathPrefix","args":["/a` + "`" + `b\"c"]}]}`
				if ri.Error != "" || jsonOf(ri.Tree) != want {
					t.Errorf("error %q tree %s", ri.Error, jsonOf(ri.Tree))
				}
				if jsonOf(ri.HostConfinement.Hosts) != `["a.run.example"]` {
					t.Errorf("%+v", ri.HostConfinement)
				}
			},
		},
		{
			name: "a backtick cannot be escaped inside a raw string: the rule does not parse",
			labels: map[string]string{
				enable:                        "true",
				"traefik.http.routers.x.rule": "Host(`a.run.example\\`) || Host(`evil.example`)",
			},
			check: func(t *testing.T, r *ServiceResult) {
				// Go's raw strings have no escapes: the argument is `a.run.example\`, and the
				// rest is a second call. Traefik parses it that way; so do we.
				ri := r.Rules.HTTP["x"]
				if ri.Error != "" {
					// Host(`a.run.example\`) is a valid call with a strange host: fine either way,
					// as long as we agree with Traefik; the tree must then show both hosts.
					t.Logf("Traefik: %s", ri.Error)
					return
				}
				if !strings.Contains(jsonOf(ri.Tree), "evil.example") {
					t.Errorf("tree %s", jsonOf(ri.Tree))
				}
			},
		},
		{
			name: "a rule that does not parse",
			labels: map[string]string{
				enable:                        "true",
				"traefik.http.routers.x.rule": "Host(`a.run.example`) ||",
			},
			check: func(t *testing.T, r *ServiceResult) {
				ri := r.Rules.HTTP["x"]
				if ri.Error == "" || ri.Tree != nil {
					t.Errorf("rule %s", jsonOf(ri))
				}
				wantError(t, r, "rule", "error while parsing rule", "")
			},
		},
		{
			name: "v3 Host takes one argument",
			labels: map[string]string{
				enable:                        "true",
				"traefik.http.routers.x.rule": "Host(`a.run.example`, `evil.example`)",
			},
			check: func(t *testing.T, r *ServiceResult) {
				if ri := r.Rules.HTTP["x"]; !strings.Contains(ri.Error, "unexpected number of parameters") || ri.HostConfinement.Confined {
					t.Errorf("rule %s", jsonOf(ri))
				}
			},
		},
		{
			name: "v2 syntax router",
			labels: map[string]string{
				enable:                              "true",
				"traefik.http.routers.x.rule":       "Host(`a.run.example`, `b.run.example`) && HostRegexp(`{sub:[a-z]+}.run.example`)",
				"traefik.http.routers.x.ruleSyntax": "v2",
			},
			check: func(t *testing.T, r *ServiceResult) {
				ri := r.Rules.HTTP["x"]
				if ri.Syntax != "v2" || ri.Error != "" {
					t.Fatalf("rule %s", jsonOf(ri))
				}
				hr := ri.HostRegexps
				if len(hr) != 1 || hr[0].Pattern != `(?i)^(?P<v0>[a-z]+)\.run\.example$` || hr[0].RequiredSuffix != ".run.example" || !hr[0].Anchored {
					t.Errorf("%s", jsonOf(hr))
				}
				if jsonOf(ri.HostConfinement.Hosts) != `["a.run.example","b.run.example"]` {
					t.Errorf("%+v", ri.HostConfinement)
				}
			},
		},
		{
			name: "v2 HostRegexp template with a variable after the domain",
			labels: map[string]string{
				enable:                              "true",
				"traefik.http.routers.x.rule":       "HostRegexp(`{x:.*}.run.example{y:.*}`)",
				"traefik.http.routers.x.ruleSyntax": "v2",
			},
			check: func(t *testing.T, r *ServiceResult) {
				hr := r.Rules.HTTP["x"].HostRegexps
				if len(hr) != 1 || hr[0].Pattern != `(?i)^(?P<v0>.*)\.run\.example(?P<v1>.*)$` || hr[0].RequiredSuffix != "" || !hr[0].Anchored {
					t.Errorf("%s", jsonOf(hr))
				}
			},
		},
		{
			name: "v2 HostRegexp template trying to close its group: mux refuses it",
			labels: map[string]string{
				enable:                              "true",
				"traefik.http.routers.x.rule":       "HostRegexp(`{x:a)|(.*}.run.example`)",
				"traefik.http.routers.x.ruleSyntax": "v2",
			},
			check: func(t *testing.T, r *ServiceResult) {
				ri := r.Rules.HTTP["x"]
				if !strings.Contains(ri.Error, "error parsing regexp") || ri.HostConfinement.Confined {
					t.Errorf("%s", jsonOf(ri))
				}
			},
		},
		{
			name: "ruleSyntax V2 (other case) gets the v3 parser",
			labels: map[string]string{
				enable:                              "true",
				"traefik.http.routers.x.rule":       "Host(`a.run.example`, `b.run.example`)",
				"traefik.http.routers.x.ruleSyntax": "V2",
			},
			check: func(t *testing.T, r *ServiceResult) {
				if ri := r.Rules.HTTP["x"]; ri.Syntax != "v3" || ri.Error == "" {
					t.Errorf("rule %s", jsonOf(ri))
				}
			},
		},
		{
			name: "unknown key",
			labels: map[string]string{
				enable:                        "true",
				"traefik.http.routers.x.rule": "Host(`a.run.example`)",
				"traefik.http.routers.x.foo":  "1",
			},
			check: func(t *testing.T, r *ServiceResult) {
				if string(r.Config) != "null" || r.Exposed {
					t.Errorf("config %s", r.Config)
				}
				wantError(t, r, "config", "field not found, node: foo", "traefik.http.routers.x.foo")
				if _, ok := r.KeyErrors["traefik.http.routers.x.rule"]; ok {
					t.Errorf("the rule label is blamed: %v", r.KeyErrors)
				}
			},
		},
		{
			name: "labels Traefik ignores",
			labels: map[string]string{
				enable:                             "true",
				"traefik.tls.options.x.minVersion": "VersionTLS12",
				"traefik.foo":                      "bar",
				"TRAEFIK.whatever":                 "x",
				"com.docker.stack.namespace":       "run1",
				"traefik.tls.stores.default.defaultCertificate.certFile":   "/x",
				"traefik.tls.stores.default.defaultgeneratedcert.resolver": "le",
				"traefik.http.routers.x.rule":                              "Host(`a.run.example`)",
				"traefik.http.routers.x.tls":                               "false",
			},
			check: func(t *testing.T, r *ServiceResult) {
				var got []string
				for k := range r.IgnoredKeys {
					got = append(got, k)
				}
				sort.Strings(got)
				want := `["TRAEFIK.whatever","traefik.foo","traefik.http.routers.x.tls","traefik.tls.options.x.minVersion","traefik.tls.stores.default.defaultCertificate.certFile"]`
				if jsonOf(got) != want {
					t.Errorf("ignored %s", jsonOf(r.IgnoredKeys))
				}
				c := configOf(t, r.Config)
				if s := c.TLS.Stores["default"]; s.DefaultCertificate != nil || s.DefaultGeneratedCert.Resolver != "le" {
					t.Errorf("tls %s", jsonOf(c.TLS))
				}
				if c.HTTP.Routers["x"].TLS != nil {
					t.Errorf("tls=false gave the router TLS: %s", jsonOf(c.HTTP.Routers["x"]))
				}
			},
		},
		{
			name: "middlewares, services, tls domains, cross-provider references",
			labels: map[string]string{
				enable:                                               "true",
				"traefik.http.routers.x.rule":                        "Host(`a.run.example`)",
				"traefik.http.routers.x.service":                     "other@docker",
				"traefik.http.routers.x.middlewares":                 "a@file,b",
				"traefik.http.routers.x.tls.domains[0].main":         "a.run.example",
				"traefik.http.routers.x.tls.domains[0].sans":         "b.run.example,c.run.example",
				"traefik.http.middlewares.b.forwardauth.address":     "http://auth:4180/",
				"traefik.http.services.y.loadbalancer.server.url":    "http://evil.example:80",
				"traefik.http.services.z.loadbalancer.server.port":   "8080",
				"traefik.http.services.z.loadbalancer.server.scheme": "h2c",
			},
			check: func(t *testing.T, r *ServiceResult) {
				c := configOf(t, r.Config)
				rt := c.HTTP.Routers["x"]
				if rt.Service != "other@docker" || jsonOf(rt.Middlewares) != `["a@file","b"]` {
					t.Errorf("router %s", jsonOf(rt))
				}
				if d := rt.TLS.Domains; len(d) != 1 || d[0].Main != "a.run.example" || jsonOf(d[0].SANs) != `["b.run.example","c.run.example"]` {
					t.Errorf("domains %s", jsonOf(d))
				}
				if a := c.HTTP.Middlewares["b"].ForwardAuth.Address; a != "http://auth:4180/" {
					t.Errorf("forwardauth %q", a)
				}
				if u := c.HTTP.Services["y"].LoadBalancer.Servers[0].URL; u != "http://evil.example:80" {
					t.Errorf("url %q", u)
				}
				if s := c.HTTP.Services["z"].LoadBalancer.Servers[0]; s.Port != "8080" || s.Scheme != "h2c" {
					t.Errorf("server %+v", s)
				}
				if !strings.Contains(string(r.Config), `"port":"8080"`) || !strings.Contains(string(r.Config), `"scheme":"h2c"`) {
					t.Errorf("port/scheme missing from the JSON: %s", r.Config)
				}
			},
		},
		{
			name: "no router: the provider adds one with defaultRule",
			labels: map[string]string{
				enable: "true",
				"traefik.http.services.app.loadbalancer.server.port": "80",
			},
			check: func(t *testing.T, r *ServiceResult) {
				ri, ok := r.Rules.HTTP["run1-app"]
				if !ok || !ri.DefaultRule || ri.Rule != "Host(`run1-app`)" {
					t.Errorf("rules %s", jsonOf(r.Rules))
				}
			},
		},
		{
			name: "router without a service, several services: dropped by the provider",
			labels: map[string]string{
				enable:                        "true",
				"traefik.http.routers.x.rule": "Host(`a.run.example`)",
				"traefik.http.services.a.loadbalancer.server.port": "80",
				"traefik.http.services.b.loadbalancer.server.port": "81",
			},
			check: func(t *testing.T, r *ServiceResult) {
				if _, ok := r.Rules.HTTP["x"]; ok {
					t.Errorf("router x kept")
				}
				if len(r.ProviderLog) != 1 || r.ProviderLog[0].Router != "x" || !strings.Contains(r.ProviderLog[0].Message, "cannot be linked automatically") {
					t.Errorf("log %s", jsonOf(r.ProviderLog))
				}
			},
		},
		{
			name: "priority above Traefik's maximum",
			labels: map[string]string{
				enable:                            "true",
				"traefik.http.routers.x.rule":     "Host(`a.run.example`)",
				"traefik.http.routers.x.priority": "9223372036854775000",
			},
			check: func(t *testing.T, r *ServiceResult) {
				wantError(t, r, "rule", "exceeds the max user-defined priority", "")
			},
		},
		{
			name: "provider labels",
			labels: map[string]string{
				"traefik.enable":        "TRUE",
				"traefik.swarm.network": "proxy",
				"traefik.swarm.lbswarm": "true",
			},
			check: func(t *testing.T, r *ServiceResult) {
				if p := r.Provider; p == nil || !p.Enable || p.Network != "proxy" || !p.LBSwarm || p.DockerLabels {
					t.Errorf("provider %s", jsonOf(r.Provider))
				}
			},
		},
		{
			name: "provider labels: docker and swarm together",
			labels: map[string]string{
				"traefik.enable":         "true",
				"traefik.docker.network": "a",
				"traefik.swarm.network":  "b",
			},
			check: func(t *testing.T, r *ServiceResult) {
				if r.Provider != nil || r.Exposed {
					t.Errorf("provider %s", jsonOf(r.Provider))
				}
				wantError(t, r, "provider", "both Docker and Swarm labels are defined", "")
			},
		},
		{
			name: "provider labels: bad value",
			labels: map[string]string{
				"traefik.enable": "yes",
			},
			check: func(t *testing.T, r *ServiceResult) {
				wantError(t, r, "provider", "decoding Swarm labels", "traefik.enable")
			},
		},
		{
			name:   "not enabled",
			labels: map[string]string{"traefik.http.routers.x.rule": "Host(`a.run.example`)"},
			check: func(t *testing.T, r *ServiceResult) {
				if r.Exposed || r.Provider == nil || r.Provider.Enable {
					t.Errorf("exposed %v provider %s", r.Exposed, jsonOf(r.Provider))
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := decodeOne(t, tc.labels)
			tc.check(t, r)
			if t.Failed() {
				t.Logf("result: %s", jsonOf(r))
			}
		})
	}
}

func wantError(t *testing.T, r *ServiceResult, stage, contains, key string) {
	t.Helper()
	for _, e := range r.Errors {
		if e.Stage == stage && strings.Contains(e.Error, contains) && (key == "" || reflect.DeepEqual(e.Keys, []string{key})) {
			return
		}
	}
	t.Errorf("no %s error containing %q (keys [%s]): %s", stage, contains, key, jsonOf(r.Errors))
}

func TestDecodeOptions(t *testing.T) {
	rule := "Host(`{{ normalize .Name }}.run.example`)"
	resp, err := Decode(DecodeRequest{
		Services: map[string]ServiceLabels{
			"a": {Name: "run1_app", Labels: map[string]string{"cc-ci.run": "run1", "traefik.http.routers.r.entrypoints": "web"}},
			"b": {Name: "run1_db", Labels: map[string]string{"cc-ci.run": "run2", "traefik.swarm.network": "other"}},
		},
		Options: DecodeOptions{ExposedByDefault: true, Network: "proxy", DefaultRule: &rule, Constraints: "Label(`cc-ci.run`,`run1`)"},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b := resp.Services["a"], resp.Services["b"]
	if !a.Exposed || a.Provider.Network != "proxy" || *a.ConstraintsMatch != true {
		t.Errorf("a: %s", jsonOf(a))
	}
	if ri := a.Rules.HTTP["r"]; ri.Rule != "Host(`run1-app.run.example`)" || !ri.DefaultRule {
		t.Errorf("a: default rule %s", jsonOf(ri))
	}
	if b.Exposed || b.Provider.Network != "other" || *b.ConstraintsMatch != false {
		t.Errorf("b: %s", jsonOf(b))
	}
}

func TestDecodeMalformed(t *testing.T) {
	if _, err := Decode(DecodeRequest{}); err == nil {
		t.Error("want an error without services")
	}
	bad := "Host(`{{ .Name`"
	if _, err := Decode(DecodeRequest{Services: map[string]ServiceLabels{}, Options: DecodeOptions{DefaultRule: &bad}}); err == nil {
		t.Error("want an error for a broken defaultRule template")
	}
}
