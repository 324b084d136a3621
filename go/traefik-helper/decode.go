package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/template"

	"github.com/rs/zerolog"
	"github.com/traefik/paerser/parser"
	"github.com/traefik/traefik/v3/pkg/config/dynamic"
	"github.com/traefik/traefik/v3/pkg/config/label"
	"github.com/traefik/traefik/v3/pkg/provider"
	"github.com/traefik/traefik/v3/pkg/provider/constraints"
	"github.com/traefik/traefik/v3/pkg/provider/docker"
	"github.com/traefik/traefik/v3/pkg/version"
)

// ---- request ---------------------------------------------------------------------------------

type DecodeRequest struct {
	Services map[string]ServiceLabels `json:"services"`
	// Options: the swarm provider's static settings; the defaults are those of cc-ci's Traefik
	// (components/traefik.ts): exposedByDefault false, Traefik's default defaultRule.
	Options DecodeOptions `json:"options"`
}

type ServiceLabels struct {
	Labels map[string]string `json:"labels"`
	// Name: the swarm service's name (<stack>_<service>); the key when empty. Traefik names the
	// service's default router and service after it and feeds it to defaultRule.
	Name string `json:"name,omitempty"`
}

type DecodeOptions struct {
	ExposedByDefault bool    `json:"exposedByDefault"`
	Network          string  `json:"network,omitempty"`
	DefaultRule      *string `json:"defaultRule,omitempty"`
	Constraints      string  `json:"constraints,omitempty"`
	// DefaultRuleSyntax is Traefik's core.defaultRuleSyntax: the syntax of a router that names none
	// (v3 when empty, as Traefik's default).
	DefaultRuleSyntax string `json:"defaultRuleSyntax,omitempty"`
}

// routerSyntax is what pkg/server/aggregator.go gives a router: its own ruleSyntax, else (unless the
// provider filled in the default rule) the internal model's, i.e. core.defaultRuleSyntax.
func routerSyntax(own string, defaultRule bool, opts DecodeOptions) string {
	if own == "" && !defaultRule && opts.DefaultRuleSyntax != "" {
		return opts.DefaultRuleSyntax
	}
	return own
}

// ---- answer ----------------------------------------------------------------------------------

type DecodeResponse struct {
	Traefik  string                    `json:"traefik"`
	Services map[string]*ServiceResult `json:"services"`
}

type ServiceResult struct {
	// Config: label.DecodeConfiguration's result (what the labels say, before the provider adds
	// defaults); null when Traefik refuses the labels (then it ignores the whole service's
	// dynamic configuration).
	Config json.RawMessage `json:"config"`
	// Effective: Config after the swarm provider's own steps that need no running task: a
	// default service when none is declared (no servers here), a default router with
	// defaultRule when there is no HTTP router, defaultRule for routers without a rule, the
	// router->service link, dropped routers. Null when Config is.
	Effective json.RawMessage `json:"effective"`
	// Provider: the swarm provider's own labels; null when Traefik refuses them (then it skips
	// the service altogether).
	Provider *ProviderSettings `json:"provider"`
	// Exposed: Traefik will route to this service: provider labels decoded, enabled, matching
	// the constraints, and its dynamic configuration decoded.
	Exposed          bool  `json:"exposed"`
	ConstraintsMatch *bool `json:"constraintsMatch,omitempty"`
	// Errors: every reason Traefik refuses some of the labels, in Traefik's words.
	Errors []LabelError `json:"errors"`
	// KeyErrors: each traefik label that Traefik refuses even on its own, and why. (Traefik
	// reports only its first error for a set of labels.)
	KeyErrors map[string]string `json:"keyErrors"`
	// IgnoredKeys: labels that look like Traefik's (traefik.*, any case) but that Traefik
	// decodes to nothing, and why: no decoder reads them (e.g. traefik.tls.options.*), the
	// field is not settable by labels (label:"-", e.g. tls.stores.default.defaultCertificate),
	// or an allowEmpty option (router tls) is given a value other than "true".
	IgnoredKeys map[string]string `json:"ignoredKeys"`
	// ProviderLog: what the provider's steps logged (dropped routers and the like).
	ProviderLog []LogEntry `json:"providerLog"`
	// Rules: every HTTP and TCP router of Effective, by name.
	Rules RulesByKind `json:"rules"`
}

type RulesByKind struct {
	HTTP map[string]RuleInfo `json:"http"`
	TCP  map[string]RuleInfo `json:"tcp"`
}

type ProviderSettings struct {
	Enable  bool   `json:"enable"`
	Network string `json:"network"`
	LBSwarm bool   `json:"lbswarm"`
	// DockerLabels: set through the deprecated traefik.docker.* labels (Traefik warns).
	DockerLabels bool `json:"dockerLabels,omitempty"`
}

type LabelError struct {
	// Stage: "provider" (traefik.enable / traefik.swarm.* / traefik.docker.*: the service is
	// skipped), "config" (dynamic configuration: the service's routers etc. are ignored),
	// "constraints", "rule" (one router's rule: that router is not served).
	Stage  string   `json:"stage"`
	Error  string   `json:"error"`
	Keys   []string `json:"keys,omitempty"`
	Router string   `json:"router,omitempty"`
}

type LogEntry struct {
	Level   string `json:"level"`
	Router  string `json:"router,omitempty"`
	Message string `json:"message"`
}

// ---- the provider's label struct ------------------------------------------------------------
// These mirror the unexported labelConfiguration, dockerSpecificConfiguration and
// specificConfiguration of Traefik's pkg/provider/docker (shared_labels.go), field for field:
// paerser decodes by field name, so the same shape decodes the same labels the same way, and
// the same filters are used.

type providerLabels struct {
	Enable bool
	Docker *providerDockerLabels
	Swarm  *providerSwarmLabels
}

type providerDockerLabels struct {
	Network         *string
	LBSwarm         bool
	AllowNonRunning bool
}

type providerSwarmLabels struct {
	Network *string
	LBSwarm bool
}

// Filters of label.DecodeConfiguration and of the swarm provider's extractSwarmLabels.
var (
	configFilters   = []string{"traefik.http", "traefik.tcp", "traefik.udp", "traefik.tls.stores.default"}
	providerFilters = []string{"traefik.enable", "traefik.docker.", "traefik.swarm."}
)

// decodeProvider is extractSwarmLabels of Traefik's swarm provider.
func decodeProvider(labels map[string]string, opts DecodeOptions) (*ProviderSettings, error) {
	lc := providerLabels{Enable: opts.ExposedByDefault}
	if err := label.Decode(labels, &lc, providerFilters...); err != nil {
		return nil, fmt.Errorf("decoding Swarm labels: %w", err)
	}
	if lc.Docker != nil && lc.Swarm != nil {
		return nil, errors.New("both Docker and Swarm labels are defined")
	}
	ps := &ProviderSettings{Enable: lc.Enable, Network: opts.Network}
	if lc.Docker != nil {
		ps.DockerLabels = true
		ps.LBSwarm = lc.Docker.LBSwarm
		if lc.Docker.Network != nil {
			ps.Network = *lc.Docker.Network
		}
	}
	if lc.Swarm != nil {
		ps.LBSwarm = lc.Swarm.LBSwarm
		if lc.Swarm.Network != nil {
			ps.Network = *lc.Swarm.Network
		}
	}
	return ps, nil
}

// ---- decode ----------------------------------------------------------------------------------

func Decode(req DecodeRequest) (*DecodeResponse, error) {
	if req.Services == nil {
		return nil, errors.New(`malformed request: "services" is missing`)
	}
	defaultRule := docker.DefaultTemplateRule
	switch req.Options.DefaultRuleSyntax {
	case "", "v2", "v3":
	default:
		return nil, fmt.Errorf("malformed request: options.defaultRuleSyntax must be v2 or v3, got %q", req.Options.DefaultRuleSyntax)
	}
	if req.Options.DefaultRule != nil {
		defaultRule = *req.Options.DefaultRule
	}
	// As the swarm provider's Init does.
	tpl, err := provider.MakeDefaultRuleTemplate(defaultRule, nil)
	if err != nil {
		return nil, fmt.Errorf("malformed request: options.defaultRule: error while parsing default rule: %w", err)
	}
	resp := &DecodeResponse{Traefik: version.Version, Services: map[string]*ServiceResult{}}
	for key, svc := range req.Services {
		if svc.Labels == nil {
			svc.Labels = map[string]string{}
		}
		name := svc.Name
		if name == "" {
			name = key
		}
		resp.Services[key] = decodeService(name, svc.Labels, req.Options, tpl)
	}
	return resp, nil
}

func decodeService(name string, labels map[string]string, opts DecodeOptions, tpl *template.Template) *ServiceResult {
	res := &ServiceResult{
		Errors:      []LabelError{},
		KeyErrors:   map[string]string{},
		IgnoredKeys: map[string]string{},
		ProviderLog: []LogEntry{},
		Rules:       RulesByKind{HTTP: map[string]RuleInfo{}, TCP: map[string]RuleInfo{}},
	}

	// Which labels each decoder reads, by Traefik's own filter (paerser's DecodeToNode keeps a
	// key when it starts with a filter, case-insensitively), and what each refuses on its own.
	var configKeys, providerKeys []string
	for _, k := range sortedKeys(labels) {
		one := map[string]string{k: labels[k]}
		inConfig, inProvider := readBy(one, configFilters), readBy(one, providerFilters)
		if inConfig {
			configKeys = append(configKeys, k)
			if _, err := label.DecodeConfiguration(one); err != nil {
				res.KeyErrors[k] = err.Error()
			} else if why := disabled(one, newConfigElement(), configFilters); why != "" {
				res.IgnoredKeys[k] = why
			}
		}
		if inProvider {
			providerKeys = append(providerKeys, k)
			if _, err := decodeProvider(one, opts); err != nil {
				res.KeyErrors[k] = err.Error()
			} else if why := disabled(one, &providerLabels{}, providerFilters); why != "" {
				res.IgnoredKeys[k] = why
			}
		}
		if !inConfig && !inProvider && len(k) >= len("traefik.") && strings.EqualFold(k[:len("traefik.")], "traefik.") {
			res.IgnoredKeys[k] = "no Traefik decoder reads this label"
		}
	}
	blame := func(keys []string) []string {
		var out []string
		for _, k := range keys {
			if _, bad := res.KeyErrors[k]; bad {
				out = append(out, k)
			}
		}
		return out
	}

	ps, err := decodeProvider(labels, opts)
	if err != nil {
		res.Errors = append(res.Errors, LabelError{Stage: "provider", Error: err.Error(), Keys: blame(providerKeys)})
	}
	res.Provider = ps

	if opts.Constraints != "" {
		ok, err := constraints.MatchLabels(labels, opts.Constraints)
		if err != nil {
			res.Errors = append(res.Errors, LabelError{Stage: "constraints", Error: "Error matching constraints expression: " + err.Error()})
		}
		res.ConstraintsMatch = &ok
	}

	res.Config, res.Effective = json.RawMessage("null"), json.RawMessage("null")
	conf, err := label.DecodeConfiguration(labels)
	if err != nil {
		res.Errors = append(res.Errors, LabelError{Stage: "config", Error: err.Error(), Keys: blame(configKeys)})
		return res
	}
	if res.Config, err = ConfigJSON(conf); err != nil {
		res.Errors = append(res.Errors, LabelError{Stage: "config", Error: "ccci-traefik: marshalling the configuration: " + err.Error()})
		return res
	}
	res.Exposed = ps != nil && ps.Enable && (res.ConstraintsMatch == nil || *res.ConstraintsMatch)

	eff, logs := effectiveConfig(name, labels, ps, conf, tpl)
	res.ProviderLog = logs
	if res.Effective, err = ConfigJSON(eff); err != nil {
		res.Errors = append(res.Errors, LabelError{Stage: "config", Error: "ccci-traefik: marshalling the configuration: " + err.Error()})
	}

	var ruleErrors []LabelError
	for rn, r := range eff.HTTP.Routers {
		info := AnalyzeRule("http", r.Rule, routerSyntax(r.RuleSyntax, r.DefaultRule, opts), r.Priority)
		info.DefaultRule = r.DefaultRule
		res.Rules.HTTP[rn] = info
		if info.Error != "" {
			ruleErrors = append(ruleErrors, LabelError{Stage: "rule", Router: "http/" + rn, Error: info.Error})
		}
	}
	for rn, r := range eff.TCP.Routers {
		info := AnalyzeRule("tcp", r.Rule, routerSyntax(r.RuleSyntax, false, opts), r.Priority)
		res.Rules.TCP[rn] = info
		if info.Error != "" {
			ruleErrors = append(ruleErrors, LabelError{Stage: "rule", Router: "tcp/" + rn, Error: info.Error})
		}
	}
	sort.Slice(ruleErrors, func(i, j int) bool { return ruleErrors[i].Router < ruleErrors[j].Router })
	res.Errors = append(res.Errors, ruleErrors...)
	return res
}

// newConfigElement is the element label.DecodeConfiguration decodes into.
func newConfigElement() *dynamic.Configuration {
	return &dynamic.Configuration{
		HTTP: &dynamic.HTTPConfiguration{},
		TCP:  &dynamic.TCPConfiguration{},
		UDP:  &dynamic.UDPConfiguration{},
		TLS:  &dynamic.TLSConfiguration{},
	}
}

// disabled runs the first two stages of paerser's Decode (labels -> nodes -> nodes with
// metadata, with Decode's options) on one label and tells why, if so, paerser then skips it:
// a node on its path is Disabled.
func disabled(one map[string]string, element any, filters []string) string {
	node, err := parser.DecodeToNode(one, parser.DefaultRootName, filters...)
	if err != nil || node == nil {
		return ""
	}
	if err := parser.AddMetadata(element, node, parser.MetadataOpts{TagName: parser.TagLabel, AllowSliceAsStruct: true}); err != nil {
		return ""
	}
	for n := node; n != nil; {
		if n.Disabled {
			if n.Tag.Get(parser.TagLabel) == "-" {
				return "Traefik does not read this field from labels (label:\"-\")"
			}
			return "the value is not \"true\": Traefik leaves this option unset"
		}
		if len(n.Children) == 0 {
			break
		}
		n = n.Children[0]
	}
	return ""
}

// readBy tells whether paerser, given these filters, reads the (single) label.
func readBy(one map[string]string, filters []string) bool {
	node, err := parser.DecodeToNode(one, parser.DefaultRootName, filters...)
	return node != nil || err != nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// effectiveConfig runs, on a copy of conf, the steps of the docker/swarm provider's
// DynConfBuilder.build that do not need a running task: Traefik's own
// provider.BuildTCPRouterConfiguration, BuildUDPRouterConfiguration and
// BuildRouterConfiguration, preceded (as in build) by a default service named after the swarm
// service when the labels declare none. Servers are not filled in (they come from the tasks).
func effectiveConfig(name string, labels map[string]string, ps *ProviderSettings, conf *dynamic.Configuration, tpl *template.Template) (*dynamic.Configuration, []LogEntry) {
	var buf bytes.Buffer
	logger := zerolog.New(&buf).Level(zerolog.DebugLevel)
	ctx := logger.WithContext(context.Background())

	eff := conf.DeepCopy()
	serviceName := swarmServiceName(name, labels)

	var tcpOrUDP bool
	if len(eff.TCP.Routers) > 0 || len(eff.TCP.Services) > 0 {
		tcpOrUDP = true
		if len(eff.TCP.Services) == 0 {
			eff.TCP.Services = map[string]*dynamic.TCPService{serviceName: {LoadBalancer: new(dynamic.TCPServersLoadBalancer)}}
		}
		provider.BuildTCPRouterConfiguration(ctx, eff.TCP)
	}
	if len(eff.UDP.Routers) > 0 || len(eff.UDP.Services) > 0 {
		tcpOrUDP = true
		if len(eff.UDP.Services) == 0 {
			eff.UDP.Services = map[string]*dynamic.UDPService{serviceName: {LoadBalancer: &dynamic.UDPServersLoadBalancer{}}}
		}
		provider.BuildUDPRouterConfiguration(ctx, eff.UDP)
	}
	if !(tcpOrUDP && len(eff.HTTP.Routers) == 0 && len(eff.HTTP.Middlewares) == 0 && len(eff.HTTP.Services) == 0) {
		if len(eff.HTTP.Services) == 0 {
			lb := &dynamic.ServersLoadBalancer{}
			lb.SetDefaults()
			eff.HTTP.Services = map[string]*dynamic.Service{serviceName: {LoadBalancer: lb}}
		}
		containerName := name
		if ps == nil || !ps.LBSwarm {
			containerName = name + ".1" // a task: <service>.<slot>
		}
		model := struct {
			Name          string
			ContainerName string
			Labels        map[string]string
		}{Name: serviceName, ContainerName: containerName, Labels: labels}
		provider.BuildRouterConfiguration(ctx, eff.HTTP, serviceName, tpl, model)
	}

	entries := []LogEntry{}
	for _, line := range bytes.Split(buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e map[string]any
		if json.Unmarshal(line, &e) != nil {
			continue
		}
		le := LogEntry{}
		le.Level, _ = e["level"].(string)
		le.Router, _ = e["routerName"].(string)
		le.Message, _ = e["message"].(string)
		if s, ok := e["error"].(string); ok {
			le.Message = strings.TrimSpace(le.Message + " " + s)
		}
		entries = append(entries, le)
	}
	return eff, entries
}

// swarmServiceName is the docker provider's getServiceName: the swarm service's name, or
// <compose service>_<compose project> when both compose labels are set, normalized.
func swarmServiceName(name string, labels map[string]string) string {
	svc, proj := labels["com.docker.compose.service"], labels["com.docker.compose.project"]
	if svc != "" && proj != "" {
		name = svc + "_" + proj
	}
	return provider.Normalize(name)
}
