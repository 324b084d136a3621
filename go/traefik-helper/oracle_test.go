package main

// Checks of the helper's claims against Traefik's running code: the real HTTP and TCP muxers
// route sample hosts, and every host they accept must fit what the helper said about the rule.

import (
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	_ "unsafe" // go:linkname

	"github.com/traefik/traefik/v3/pkg/middlewares/requestdecorator"
	httpmuxer "github.com/traefik/traefik/v3/pkg/muxer/http"
	tcpmuxer "github.com/traefik/traefik/v3/pkg/muxer/tcp"
	"github.com/traefik/traefik/v3/pkg/tcp"
)

// Traefik's matcher tables, read for the test only. The value types are Traefik's unexported
// function types; a func value is one pointer either way and only the keys are read.
//
//go:linkname traefikHTTPFuncs github.com/traefik/traefik/v3/pkg/muxer/http.httpFuncs
var traefikHTTPFuncs map[string]func()

//go:linkname traefikHTTPFuncsV2 github.com/traefik/traefik/v3/pkg/muxer/http.httpFuncsV2
var traefikHTTPFuncsV2 map[string]func()

//go:linkname traefikTCPFuncs github.com/traefik/traefik/v3/pkg/muxer/tcp.tcpFuncs
var traefikTCPFuncs map[string]func()

//go:linkname traefikTCPFuncsV2 github.com/traefik/traefik/v3/pkg/muxer/tcp.tcpFuncsV2
var traefikTCPFuncsV2 map[string]func()

func keys(m map[string]func()) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestMatcherNamesAreTraefiks(t *testing.T) {
	for _, tc := range []struct {
		kind, syntax string
		traefik      map[string]func()
	}{
		{"http", "v3", traefikHTTPFuncs},
		{"http", "v2", traefikHTTPFuncsV2},
		{"tcp", "v3", traefikTCPFuncs},
		{"tcp", "v2", traefikTCPFuncsV2},
	} {
		ours := slices.Clone(matcherNames[tc.kind][tc.syntax])
		sort.Strings(ours)
		if !slices.Equal(ours, keys(tc.traefik)) {
			t.Errorf("%s %s: ours %v, Traefik's %v", tc.kind, tc.syntax, ours, keys(tc.traefik))
		}
	}
}

var sampleHosts = []string{
	"a.run.example", "zz.run.example", "A.RUN.EXAMPLE", "a.run.example.evil.com", "evil.com",
	"run.example", ".run.example", "a.run.examplex", "xa.run.example", "a-b.run.example",
	"a.run.example.", "evilrun.example", "a.other.example", "1.run.example", "", "a",
	"a.run.example:443", "foo.a.run.example", "a.b.run.example", "keycloak.run.example",
}

// httpMatches: the hosts of sampleHosts that Traefik's HTTP muxer routes to the rule.
func httpMatches(t *testing.T, rule, syntax string) []string {
	t.Helper()
	parser, err := httpmuxer.NewSyntaxParser()
	if err != nil {
		t.Fatal(err)
	}
	m := httpmuxer.NewMuxer(parser)
	matched := false
	if err := m.AddRoute(rule, syntax, 1, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { matched = true })); err != nil {
		t.Fatalf("Traefik refuses %s: %v", rule, err)
	}
	rd := requestdecorator.New(nil)
	var out []string
	for _, h := range sampleHosts {
		matched = false
		req := httptest.NewRequest(http.MethodGet, "http://placeholder/", nil)
		req.Host = h
		rd.ServeHTTP(httptest.NewRecorder(), req, m.ServeHTTP)
		if matched {
			out = append(out, h)
		}
	}
	return out
}

type fakeConn struct{ net.Conn }

func (fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (fakeConn) CloseWrite() error                { return nil }
func (fakeConn) Read([]byte) (int, error)         { return 0, nil }
func (fakeConn) Write(b []byte) (int, error)      { return len(b), nil }
func (fakeConn) Close() error                     { return nil }
func (fakeConn) SetDeadline(time.Time) error      { return nil }
func (fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (fakeConn) SetWriteDeadline(time.Time) error { return nil }
func (fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }

func tcpMatches(t *testing.T, rule, syntax string) []string {
	t.Helper()
	m, err := tcpmuxer.NewMuxer()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddRoute(rule, syntax, 1, tcp.HandlerFunc(func(tcp.WriteCloser) {})); err != nil {
		t.Fatalf("Traefik refuses %s: %v", rule, err)
	}
	var out []string
	for _, h := range sampleHosts {
		meta, err := tcpmuxer.NewConnData(h, fakeConn{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if hd, _ := m.Match(meta); hd != nil {
			out = append(out, h)
		}
	}
	return out
}

// fits: host is one of hosts (up to case and one trailing dot) or ends with one of suffixes
// (case-insensitively), after Traefik's own host clean-up (port dropped).
func fits(host string, hc HostConfinement) bool {
	h := strings.ToLower(host)
	if i := strings.LastIndex(h, ":"); i >= 0 {
		h = h[:i]
	}
	for _, want := range hc.Hosts {
		if h == want || strings.TrimSuffix(h, ".") == strings.TrimSuffix(want, ".") {
			return true
		}
	}
	for _, s := range hc.Suffixes {
		if strings.HasSuffix(h, s) {
			return true
		}
	}
	return false
}

func TestConfinementAgainstTraefik(t *testing.T) {
	tests := []struct {
		kind, rule, syntax string
		confined           bool
		// some hosts Traefik must route (checks that the oracle itself works)
		mustMatch []string
	}{
		{"http", "Host(`a.run.example`)", "", true, []string{"a.run.example", "A.RUN.EXAMPLE", "a.run.example."}},
		{"http", "Host(`a.run.example`) || PathPrefix(`/`)", "", false, []string{"evil.com"}},
		{"http", "!Host(`a.run.example`)", "", false, []string{"evil.com"}},
		{"http", "HostRegexp(`^[a-z]+\\.run\\.example$`)", "", true, []string{"a.run.example", "A.RUN.EXAMPLE"}},
		{"http", "HostRegexp(`[a-z]+\\.run\\.example`)", "", false, []string{"a.run.example.evil.com", "a.run.examplex"}},
		{"http", "HostRegexp(`^.+$`)", "", false, []string{"evil.com"}},
		// Matches "" and therefore, through the empty CNAME-flattened host, every request.
		{"http", "HostRegexp(`^(a\\.run\\.example)?$`)", "", false, []string{"evil.com"}},
		{"http", "HostRegexp(`^[a-z]+\\.RUN\\.example$`)", "", true, nil}, // never matches: hosts are lower-cased
		{"http", "HostRegexp(`(?i)^[a-z]+\\.RUN\\.example$`)", "", true, []string{"a.run.example"}},
		{"http", "Host(`a.run.example`) && HostRegexp(`.*`)", "", true, []string{"a.run.example"}},
		{"http", "HostRegexp(`{sub:[a-z]+}.run.example`)", "v2", true, []string{"a.run.example", "A.RUN.EXAMPLE", "a.run.example:443"}},
		{"http", "HostRegexp(`{x:.*}.run.example{y:.*}`)", "v2", false, []string{"a.run.example.evil.com"}},
		{"http", "Host(`a.run.example`,`b.run.example`)", "v2", true, []string{"a.run.example"}},
		{"tcp", "HostSNI(`*`)", "", false, []string{"evil.com", ""}},
		{"tcp", "HostSNI(`db.run.example`)", "", true, nil},
		{"tcp", "HostSNIRegexp(`^[a-z0-9]+\\.run\\.example$`)", "", true, []string{"a.run.example", "A.RUN.EXAMPLE"}},
		{"tcp", "HostSNIRegexp(`[a-z]+\\.run\\.example`)", "", false, []string{"a.run.example.evil.com"}},
		{"tcp", "HostSNIRegexp(`{x:[a-z]+}.run.example`)", "v2", true, []string{"a.run.example"}},
		{"tcp", "HostSNIRegexp(`{x:.*}.run.example{y:.*}`)", "v2", false, []string{"a.run.example.evil.com"}},
	}
	for _, tc := range tests {
		t.Run(tc.kind+" "+tc.syntax+" "+tc.rule, func(t *testing.T) {
			info := AnalyzeRule(tc.kind, tc.rule, tc.syntax, 0)
			if info.Error != "" {
				t.Fatalf("helper: %s", info.Error)
			}
			if info.HostConfinement.Confined != tc.confined {
				t.Errorf("confined %v, want %v: %s", info.HostConfinement.Confined, tc.confined, jsonOf(info))
			}
			var got []string
			if tc.kind == "http" {
				got = httpMatches(t, tc.rule, tc.syntax)
			} else {
				got = tcpMatches(t, tc.rule, tc.syntax)
			}
			for _, h := range tc.mustMatch {
				if !slices.Contains(got, h) {
					t.Errorf("Traefik does not route %q (routes %q)", h, got)
				}
			}
			if info.HostConfinement.Confined {
				for _, h := range got {
					if !fits(h, info.HostConfinement) {
						t.Errorf("Traefik routes %q, outside %+v", h, info.HostConfinement)
					}
				}
			}
		})
	}
}
