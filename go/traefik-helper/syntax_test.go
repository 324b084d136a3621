package main

import "testing"

// core.defaultRuleSyntax decides how a router without ruleSyntax is parsed, as Traefik's aggregator does.
func TestDefaultRuleSyntax(t *testing.T) {
	labels := map[string]string{
		"traefik.enable":                                   "true",
		"traefik.http.routers.a.rule":                      "Host(`a.run.example`, `www.a.run.example`)",
		"traefik.http.services.a.loadbalancer.server.port": "80",
	}
	for _, c := range []struct {
		syntax  string
		wantErr bool
	}{{"", true}, {"v3", true}, {"v2", false}} {
		resp, err := Decode(DecodeRequest{
			Services: map[string]ServiceLabels{"app": {Labels: labels}},
			Options:  DecodeOptions{DefaultRuleSyntax: c.syntax},
		})
		if err != nil {
			t.Fatal(err)
		}
		info := resp.Services["app"].Rules.HTTP["a"]
		if (info.Error != "") != c.wantErr {
			t.Errorf("defaultRuleSyntax %q: error %q, want error: %v", c.syntax, info.Error, c.wantErr)
		}
		if !c.wantErr && (!info.HostConfinement.Confined || len(info.HostConfinement.Hosts) != 2) {
			t.Errorf("defaultRuleSyntax v2: confinement %+v", info.HostConfinement)
		}
	}
}
