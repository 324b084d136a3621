// Command whoami is a tiny HTTP echo server standing in for traefik/whoami (which is not on the
// Go module proxy). Like it, it answers every path with the container's hostname, IPs and the
// request it received, so a test can see which backend Traefik routed to and with which
// headers. Stdlib only.
//
//	GET /health    200 "OK" (for healthchecks)
//	GET /api       the same information as JSON
//	anything else  plain text: Hostname, IP, RemoteAddr, request line, headers
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
)

type info struct {
	Hostname   string              `json:"hostname"`
	IP         []string            `json:"ip"`
	Name       string              `json:"name,omitempty"`
	RemoteAddr string              `json:"remoteAddr"`
	Method     string              `json:"method"`
	Host       string              `json:"host"`
	URL        string              `json:"url"`
	Headers    map[string][]string `json:"headers"`
}

func localIPs() []string {
	var ips []string
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ips
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ips = append(ips, n.IP.String())
		}
	}
	return ips
}

func main() {
	port := flag.String("port", envOr("WHOAMI_PORT_NUMBER", "80"), "port to listen on")
	name := flag.String("name", os.Getenv("WHOAMI_NAME"), "name to print (Name: line)")
	flag.Parse()
	hostname, _ := os.Hostname()

	describe := func(r *http.Request) info {
		return info{hostname, localIPs(), *name, r.RemoteAddr, r.Method, r.Host, r.URL.RequestURI(), r.Header}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "OK")
	})
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(describe(r))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		i := describe(r)
		var b strings.Builder
		if i.Name != "" {
			fmt.Fprintf(&b, "Name: %s\n", i.Name)
		}
		fmt.Fprintf(&b, "Hostname: %s\n", i.Hostname)
		for _, ip := range i.IP {
			fmt.Fprintf(&b, "IP: %s\n", ip)
		}
		fmt.Fprintf(&b, "RemoteAddr: %s\n", i.RemoteAddr)
		fmt.Fprintf(&b, "%s %s %s\n", r.Method, i.URL, r.Proto)
		fmt.Fprintf(&b, "Host: %s\n", r.Host)
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range r.Header[k] {
				fmt.Fprintf(&b, "%s: %s\n", k, v)
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, b.String())
	})
	log.Printf("whoami listening on :%s", *port)
	log.Fatal(http.ListenAndServe(":"+*port, mux))
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
