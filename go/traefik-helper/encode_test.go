package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/traefik/traefik/v3/pkg/config/dynamic"
	"github.com/traefik/traefik/v3/pkg/config/label"
)

var roundTripCases = map[string]map[string]string{
	"full": {
		"traefik.enable":                                                          "true",
		"traefik.swarm.network":                                                   "proxy",
		"traefik.HTTP.Routers.App.Rule":                                           "Host(`a.run.example`) && PathPrefix(`/`)",
		"traefik.http.routers.app.entrypoints":                                    "web,websecure",
		"traefik.http.routers.app.tls":                                            "true",
		"traefik.http.routers.app.tls.certresolver":                               "le",
		"traefik.http.routers.app.tls.domains[0].main":                            "a.run.example",
		"traefik.http.routers.app.tls.domains[0].sans":                            "b.run.example",
		"traefik.http.routers.app.service":                                        "other@docker",
		"traefik.http.routers.app.middlewares":                                    "a@file,b",
		"traefik.http.routers.app.priority":                                       "10",
		"traefik.http.routers.old.rule":                                           "HostRegexp(`{s:[a-z]+}.run.example`)",
		"traefik.http.routers.old.ruleSyntax":                                     "v2",
		"traefik.http.middlewares.b.forwardauth.address":                          "http://auth:4180/",
		"traefik.http.middlewares.b.forwardauth.authResponseHeaders":              "X-User,X-Email",
		"traefik.http.middlewares.h.headers.customrequestheaders.X-A":             "1",
		"traefik.http.middlewares.r.redirectscheme.scheme":                        "https",
		"traefik.http.middlewares.r.redirectscheme.permanent":                     "true",
		"traefik.http.services.app.loadbalancer.server.port":                      "8080",
		"traefik.http.services.app.loadbalancer.server.scheme":                    "http",
		"traefik.http.services.app.loadbalancer.healthcheck.path":                 "/health",
		"traefik.http.services.app.loadbalancer.healthcheck.interval":             "10s",
		"traefik.http.services.app.loadbalancer.healthcheck.timeout":              "1500ms",
		"traefik.http.services.app.loadbalancer.responseforwarding.flushinterval": "5",
		"traefik.http.middlewares.rl.ratelimit.average":                           "100",
		"traefik.http.middlewares.rl.ratelimit.period":                            "1m",
		"traefik.http.middlewares.rt.retry.attempts":                              "3",
		"traefik.http.middlewares.rt.retry.initialinterval":                       "100ms",
		"traefik.http.services.app.loadbalancer.sticky.cookie.name":               "c",
		"traefik.http.services.u.loadbalancer.server.url":                         "http://x:80",
		"traefik.tcp.routers.db.rule":                                             "HostSNI(`db.run.example`)",
		"traefik.tcp.routers.db.tls.passthrough":                                  "true",
		"traefik.tcp.services.db.loadbalancer.server.port":                        "5432",
		"traefik.udp.routers.u.entrypoints":                                       "dns",
		"traefik.udp.services.u.loadbalancer.server.port":                         "53",
		"com.docker.stack.namespace":                                              "run1",
	},
	"provider only": {"traefik.enable": "true"},
	"disabled":      {"traefik.enable": "false", "traefik.http.routers.x.rule": "Host(`a`)"},
	"lbswarm":       {"traefik.enable": "true", "traefik.swarm.lbswarm": "true"},
	"tls store":     {"traefik.tls.stores.default.defaultcertificate.certfile": "/c.pem", "traefik.tls.stores.default.defaultcertificate.keyfile": "/k.pem"},
	"empty tls":     {"traefik.http.routers.x.tls": "true", "traefik.http.routers.x.rule": "Host(`a`)"},
	"tcp catch-all": {"traefik.tcp.routers.t.rule": "HostSNI(`*`)", "traefik.tcp.routers.t.entrypoints": "pg"},
	"no labels":     {},
}

// decodeForRoundTrip: the parts of decode's answer that encode takes back.
func decodeForRoundTrip(t *testing.T, labels map[string]string) (json.RawMessage, *ProviderSettings) {
	t.Helper()
	r := decodeOne(t, labels)
	if len(r.Errors) > 0 {
		t.Fatalf("decode errors: %s", jsonOf(r.Errors))
	}
	return r.Config, r.Provider
}

func TestRoundTrip(t *testing.T) {
	for name, labels := range roundTripCases {
		t.Run(name, func(t *testing.T) {
			conf1, prov1 := decodeForRoundTrip(t, labels)
			net := prov1.Network
			enc, err := Encode(EncodeRequest{Services: map[string]EncodeService{"s": {
				Config:   conf1,
				Provider: &EncodeProvider{Enable: prov1.Enable, Network: &net, LBSwarm: prov1.LBSwarm},
			}}})
			if err != nil {
				t.Fatal(err)
			}
			out := enc.Services["s"]
			if !out.Lossless {
				t.Errorf("not lossless")
			}
			for k := range out.Labels {
				if !strings.HasPrefix(k, "traefik.") {
					t.Errorf("label %q", k)
				}
			}
			conf2, prov2 := decodeForRoundTrip(t, out.Labels)
			if !jsonEqual(t, conf1, conf2) {
				t.Errorf("config differs after the round trip:\n%s\n%s\nlabels %s", conf1, conf2, jsonOf(out.Labels))
			}
			if !reflect.DeepEqual(prov1, prov2) {
				t.Errorf("provider differs: %s vs %s", jsonOf(prov1), jsonOf(prov2))
			}
			// And a second round is a fixed point of the labels themselves.
			enc2, err := Encode(EncodeRequest{Services: map[string]EncodeService{"s": {Config: conf2, Provider: &EncodeProvider{Enable: prov2.Enable, Network: &net, LBSwarm: prov2.LBSwarm}}}})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(enc2.Services["s"].Labels, out.Labels) {
				t.Errorf("labels differ on the second round:\n%s\n%s", jsonOf(out.Labels), jsonOf(enc2.Services["s"].Labels))
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

func TestEncodeExamples(t *testing.T) {
	enc, err := Encode(EncodeRequest{Services: map[string]EncodeService{"s": {
		Config: json.RawMessage(`{"http":{"routers":{"x":{"rule":"Host(` + "`a.run.example`" + `)","service":"s","entryPoints":["web"]}},
			"services":{"s":{"loadBalancer":{"servers":[{"port":"8080"}]}}}}}`),
		Provider: &EncodeProvider{Enable: true},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	got := enc.Services["s"]
	// Traefik's encoder spells keys with Go's field names (and map keys as given).
	want := map[string]string{
		"traefik.Enable":                                           "true",
		"traefik.HTTP.Routers.x.Rule":                              "Host(`a.run.example`)",
		"traefik.HTTP.Routers.x.Service":                           "s",
		"traefik.HTTP.Routers.x.EntryPoints":                       "web",
		"traefik.HTTP.Routers.x.Priority":                          "0",
		"traefik.HTTP.Services.s.LoadBalancer.server.Port":         "8080",
		"traefik.HTTP.Services.s.LoadBalancer.server.PreservePath": "false",
	}
	if !reflect.DeepEqual(got.Labels, want) {
		t.Errorf("labels %s", jsonOf(got.Labels))
	}
	// Hand-written: decoding adds the load balancer's defaults, so it is not lossless.
	if got.Lossless {
		t.Errorf("lossless without the defaults: %s", jsonOf(got.Labels))
	}
}

func TestEncodeMalformed(t *testing.T) {
	for name, req := range map[string]EncodeRequest{
		"no services":   {},
		"unknown field": {Services: map[string]EncodeService{"s": {Config: json.RawMessage(`{"http":{"routerz":{}}}`)}}},
		"bad port":      {Services: map[string]EncodeService{"s": {Config: json.RawMessage(`{"tcp":{"services":{"s":{"loadBalancer":{"servers":[{"port":5432}]}}}}}`)}}},
		"docker labels": {Services: map[string]EncodeService{"s": {Provider: &EncodeProvider{DockerLabels: true}}}},
	} {
		if _, err := Encode(req); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

// Fields that only labels can set carry json:"-" in Traefik's dynamic configuration; ConfigJSON
// must carry each of them.
func TestLabelOnlyFieldsCovered(t *testing.T) {
	found := map[string]bool{}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type, string)
	walk = func(tp reflect.Type, path string) {
		for tp.Kind() == reflect.Pointer || tp.Kind() == reflect.Slice || tp.Kind() == reflect.Map || tp.Kind() == reflect.Array {
			tp = tp.Elem()
		}
		if tp.Kind() != reflect.Struct || seen[tp] {
			return
		}
		seen[tp] = true
		for i := 0; i < tp.NumField(); i++ {
			f := tp.Field(i)
			if !f.IsExported() || f.Tag.Get("label") == "-" {
				continue
			}
			if f.Tag.Get("json") == "-" {
				found[tp.Name()+"."+f.Name] = true
			}
			walk(f.Type, path+"."+f.Name)
		}
	}
	walk(reflect.TypeOf(dynamic.Configuration{}), "")
	want := map[string]bool{"Server.Scheme": true, "Server.Port": true, "TCPServer.Port": true, "UDPServer.Port": true}
	if !reflect.DeepEqual(found, want) {
		t.Errorf("label-only fields %v, ConfigJSON handles %v", found, want)
	}
}

func TestProtocol(t *testing.T) {
	runCmd := func(args []string, stdin string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(args, strings.NewReader(stdin), &out, &errOut)
		return code, out.String()
	}
	if code, out := runCmd([]string{"version"}, ""); code != 0 || !strings.Contains(out, `"traefikModule"`) {
		t.Errorf("version: %d %s", code, out)
	}
	quietGlobalLogger()
	if code, out := runCmd([]string{"decode"}, `{"services":{"a":{"labels":{"traefik.http.routers.x.foo":"1"}}}}`); code != 0 || !strings.Contains(out, "field not found") {
		t.Errorf("decode with a label problem: %d %s", code, out)
	}
	twoServices := `{"services":{"a":{"labels":{"traefik.http.routers.x.rule":"Host(` + "`a`" + `)",
		"traefik.http.services.s1.loadbalancer.server.port":"1","traefik.http.services.s2.loadbalancer.server.port":"2"}}}}`
	if code, out := runCmd([]string{"decode"}, twoServices); code != 0 || !strings.Contains(out, "cannot be linked automatically") {
		t.Errorf("decode: the provider's log is missing: %d %s", code, out)
	}
	for name, tc := range map[string]struct {
		args  []string
		stdin string
	}{
		"no command":      {nil, ""},
		"unknown command": {[]string{"frobnicate"}, "{}"},
		"not JSON":        {[]string{"decode"}, "labels"},
		"no services":     {[]string{"decode"}, "{}"},
		"unknown field":   {[]string{"decode"}, `{"services":{},"servicez":{}}`},
		"number label":    {[]string{"decode"}, `{"services":{"a":{"labels":{"traefik.enable":true}}}}`},
		"trailing data":   {[]string{"decode"}, `{"services":{}} {}`},
		"encode unknown":  {[]string{"encode"}, `{"services":{"a":{"config":{"htp":{}}}}}`},
	} {
		code, out := runCmd(tc.args, tc.stdin)
		if code == 0 || !strings.Contains(out, `"error"`) {
			t.Errorf("%s: exit %d, %s", name, code, out)
		}
	}
}

// Documents why encodeLabels repairs durations: Traefik's own label.EncodeConfiguration writes a
// types.Duration as nanoseconds, and label.DecodeConfiguration reads a bare number as seconds.
// When this test fails, upstream has fixed it and fixDurations can go.
func TestTraefikEncoderDurationAsymmetry(t *testing.T) {
	conf, err := label.DecodeConfiguration(map[string]string{"traefik.http.middlewares.r.retry.initialinterval": "100ms"})
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := label.EncodeConfiguration(conf)
	if err != nil {
		t.Fatal(err)
	}
	back, err := label.DecodeConfiguration(encoded)
	if err != nil {
		t.Fatal(err)
	}
	before, after := conf.HTTP.Middlewares["r"].Retry.InitialInterval, back.HTTP.Middlewares["r"].Retry.InitialInterval
	if before == after {
		t.Errorf("Traefik's encoder now round-trips durations (%v): drop fixDurations", before)
	}
	ours, err := encodeLabels(conf)
	if err != nil {
		t.Fatal(err)
	}
	if v := ours["traefik.HTTP.Middlewares.r.Retry.InitialInterval"]; v != "100ms" {
		t.Errorf("encodeLabels wrote %q (all %s)", v, jsonOf(ours))
	}
}
