package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/docker/cli/cli/compose/loader"
	"github.com/docker/cli/cli/compose/types"
	"go.yaml.in/yaml/v3"
)

type file struct{ name, content string }

func load(t *testing.T, env map[string]string, files ...file) *LoadResponse {
	t.Helper()
	req := LoadRequest{WorkingDir: "/srv/recipe", Env: env}
	for _, f := range files {
		req.Files = append(req.Files, FileIn{Name: f.name, Content: f.content})
	}
	resp, err := Load(req)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	// Everything goes through JSON on the way out: test what the TS side gets.
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var out LoadResponse
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// get walks a decoded JSON value by a dotted path (list items by index).
func get(t *testing.T, v any, path string) any {
	t.Helper()
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[p]; !ok {
				t.Fatalf("%s: no %q in %v", path, p, keys(x))
			}
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(x) {
				t.Fatalf("%s: bad index %q into a list of %d", path, p, len(x))
			}
			v = x[i]
		default:
			t.Fatalf("%s: %q into a %T", path, p, v)
		}
	}
	return v
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func wantJSON(t *testing.T, what string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	if err := json.Unmarshal([]byte(asJSON(got)), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, asJSON(got), asJSON(w))
	}
}

func noProblems(t *testing.T, r *LoadResponse) {
	t.Helper()
	if len(r.Problems) > 0 || r.Config == nil {
		t.Fatalf("unexpected problems: %s", asJSON(r.Problems))
	}
}

type wantProblem struct {
	kind, path, file string
	line, column     int
	contains         string
}

func hasProblems(t *testing.T, r *LoadResponse, want ...wantProblem) {
	t.Helper()
	if len(r.Problems) != len(want) {
		t.Errorf("got %d problems, want %d: %s", len(r.Problems), len(want), asJSON(r.Problems))
	}
	for _, w := range want {
		found := false
		for _, p := range r.Problems {
			if p.Kind == w.kind && p.Path == w.path && p.File == w.file && p.Line == w.line &&
				(w.column == 0 || p.Column == w.column) && strings.Contains(p.Message, w.contains) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem %+v among %s", w, asJSON(r.Problems))
		}
	}
}

// Overlays as with COMPOSE_FILE=compose.yml:compose.a.yml:compose.b.yml (docker stack deploy -c ... -c ...).
func TestOverlaysMergeAsDocker(t *testing.T) {
	base := file{"compose.yml", `version: "3.8"
services:
  app:
    image: nginx:1.25
    tmpfs:
      - /run
    volumes:
      - data:/data
      - type: tmpfs
        target: /tmp
        tmpfs:
          size: 1000000
      - ./conf:/etc/conf:ro
    deploy:
      labels:
        a: "1"
        b: "1"
    secrets: [s1]
volumes:
  data:
secrets:
  s1:
    external: true
`}
	over := file{"compose.a.yml", `version: "3.8"
services:
  app:
    tmpfs:
      - /run
    volumes:
      - type: tmpfs
        target: /tmp
        tmpfs:
          size: 2000000
      - other:/data:ro
    deploy:
      labels:
        - b=2
        - c=2
volumes:
  other:
`}
	third := file{"compose.b.yml", `version: "3.8"
services:
  app:
    image: nginx:1.27
    secrets:
      - source: s1
        target: renamed
`}
	r := load(t, nil, base, over, third)
	noProblems(t, r)
	app := get(t, r.Config, "services.app")
	// Volumes are merged by target: the overlay's entry replaces the base's for the same target, and
	// the result is sorted by target.
	wantJSON(t, "volumes", get(t, app, "volumes"), `[
		{"type":"volume","source":"other","target":"/data","read_only":true},
		{"type":"bind","source":"/srv/recipe/conf","target":"/etc/conf","read_only":true},
		{"type":"tmpfs","target":"/tmp","tmpfs":{"size":2000000}}]`)
	// The service-level tmpfs list is appended to, repeats and all (and docker stack deploy then drops it).
	wantJSON(t, "tmpfs", get(t, app, "tmpfs"), `["/run","/run"]`)
	wantJSON(t, "labels", get(t, app, "deploy.labels"), `{"a":"1","b":"2","c":"2"}`)
	wantJSON(t, "secrets", get(t, app, "secrets"), `[{"source":"s1","target":"renamed"}]`)
	wantJSON(t, "image", get(t, app, "image"), `"nginx:1.27"`)
	wantJSON(t, "volumes", get(t, r.Config, "volumes"), `{"data":{},"other":{}}`)
	// Positions: the last file writing a path wins.
	if got := r.Positions["services.app.image"]; got != "compose.b.yml:4" {
		t.Errorf("position of services.app.image = %q", got)
	}
	if got := r.Positions["services.app.deploy.labels"]; got != "compose.a.yml:13" {
		t.Errorf("position of services.app.deploy.labels = %q", got)
	}
	if got := r.Positions["volumes.data"]; got != "compose.yml:20" {
		t.Errorf("position of volumes.data = %q", got)
	}
	// Two "ignored" warnings for tmpfs, one per file.
	n := 0
	for _, w := range r.Warnings {
		if w.Kind == "ignored" && w.Path == "services.app.tmpfs" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("tmpfs warnings: %s", asJSON(r.Warnings))
	}
}

func TestExtensionFieldsAndListMerges(t *testing.T) {
	r := load(t, nil, file{"compose.yml", `version: "3.8"
x-first: 1
services:
  app:
    image: nginx
    x-svc: {a: 1, b: 1}
    cap_add: [NET_ADMIN]
    ports: ["80:80", "443:443"]
networks:
  internal:
    driver: overlay
    x-net: 1
  proxy:
    external: true
    x-net: 2
`}, file{"compose.b.yml", `version: "3.8"
x-second: 2
services:
  app:
    x-svc: {b: 2, c: 2}
    cap_add: [NET_ADMIN]
    ports:
      - target: 8080
        published: 80
`})
	noProblems(t, r)
	// Top-level x-* fields: the first file's only. A service's: merged key by key. A network's: kept only
	// when it is external.
	wantJSON(t, "top level", get(t, r.Config, "x-first"), `1`)
	if _, ok := r.Config.(map[string]any)["x-second"]; ok {
		t.Error("x-second kept")
	}
	wantJSON(t, "service x-svc", get(t, r.Config, "services.app.x-svc"), `{"a":1,"b":2,"c":2}`)
	wantJSON(t, "networks", get(t, r.Config, "networks"), `{"internal":{"driver":"overlay"},"proxy":{"external":true,"name":"proxy","x-net":2}}`)
	// Plain lists are appended; ports are merged by published port (a long-form entry keeps only what it
	// says).
	wantJSON(t, "cap_add", get(t, r.Config, "services.app.cap_add"), `["NET_ADMIN","NET_ADMIN"]`)
	wantJSON(t, "ports", get(t, r.Config, "services.app.ports"),
		`[{"target":8080,"published":80},{"mode":"ingress","protocol":"tcp","target":443,"published":443}]`)
}

func TestInterpolation(t *testing.T) {
	r := load(t, map[string]string{"SET": "yes", "EMPTY": ""}, file{"compose.yml", `services:
  app:
    image: nginx
    environment:
      SOFT_UNSET: ${NOPE:-soft}
      SOFT_EMPTY: ${EMPTY:-soft}
      HARD_EMPTY: ${EMPTY-hard}
      HARD_UNSET: ${NOPE2-hard}
      PLAIN_UNSET: "[${MISSING}] [$ALSO_MISSING]"
      SET: $SET/${SET}
      REQUIRED_SET: ${SET:?must be set}
      DOLLARS: "$$HOME costs $$5"
    deploy:
      replicas: ${REPLICAS:-2}
`})
	noProblems(t, r)
	wantJSON(t, "environment", get(t, r.Config, "services.app.environment"), `{
		"SOFT_UNSET":"soft","SOFT_EMPTY":"soft","HARD_EMPTY":"","HARD_UNSET":"hard",
		"PLAIN_UNSET":"[] []","SET":"yes/yes","REQUIRED_SET":"yes","DOLLARS":"$HOME costs $5"}`)
	// Cast to an integer after interpolation, as Docker does for deploy.replicas.
	wantJSON(t, "replicas", get(t, r.Config, "services.app.deploy.replicas"), `2`)
	wantJSON(t, "unset", r.Unset, `["ALSO_MISSING","MISSING"]`)
	wantJSON(t, "defaulted", r.Defaulted, `["NOPE","NOPE2","REPLICAS"]`)
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	r := load(t, nil, file{"compose.yml", `version: "3.8"
x-deploy: &deploy
  mode: replicated
  replicas: 2
  restart_policy:
    condition: on-failure
x-env: &env
  A: a
  B: b
services:
  app:
    image: nginx
    environment:
      <<: *env
      B: overridden
    deploy:
      <<: *deploy
      replicas: 3
  worker:
    image: nginx
    environment: *env
    deploy: *deploy
`})
	noProblems(t, r)
	wantJSON(t, "app.environment", get(t, r.Config, "services.app.environment"), `{"A":"a","B":"overridden"}`)
	wantJSON(t, "app.deploy", get(t, r.Config, "services.app.deploy"),
		`{"mode":"replicated","replicas":3,"restart_policy":{"condition":"on-failure"}}`)
	wantJSON(t, "worker.deploy", get(t, r.Config, "services.worker.deploy"),
		`{"mode":"replicated","replicas":2,"restart_policy":{"condition":"on-failure"}}`)
	// Extension fields stay at the top level, as `docker stack config` prints them.
	wantJSON(t, "x-env", get(t, r.Config, "x-env"), `{"A":"a","B":"b"}`)
	// A merged key is written in the anchor; the explicit key where it is.
	for path, want := range map[string]string{
		"services.app.deploy.replicas":                 "compose.yml:18",
		"services.app.deploy.mode":                     "compose.yml:3",
		"services.app.deploy.restart_policy":           "compose.yml:5",
		"services.worker.deploy.replicas":              "compose.yml:4",
		"services.app.environment.B":                   "compose.yml:15",
		"services.worker.environment.A":                "compose.yml:8",
		"services.app.deploy.restart_policy.condition": "compose.yml:6",
	} {
		if got := r.Positions[path]; got != want {
			t.Errorf("position of %s = %q, want %q", path, got, want)
		}
	}
}

func TestDeployLabelsListAndMap(t *testing.T) {
	r := load(t, nil, file{"compose.yml", `services:
  list:
    image: nginx
    deploy:
      labels:
        - traefik.enable=true
        - "traefik.http.routers.x.rule=Host(` + "`a.example`" + `)"
        - novalue
        - empty=
  map:
    image: nginx
    deploy:
      labels:
        traefik.enable: "true"
        traefik.port: 80
        novalue:
`})
	noProblems(t, r)
	wantJSON(t, "list", get(t, r.Config, "services.list.deploy.labels"),
		"{\"traefik.enable\":\"true\",\"traefik.http.routers.x.rule\":\"Host(`a.example`)\",\"novalue\":\"\",\"empty\":\"\"}")
	wantJSON(t, "map", get(t, r.Config, "services.map.deploy.labels"),
		`{"traefik.enable":"true","traefik.port":"80","novalue":""}`)

	// In the map form a label's value must be a string, a number or null: an unquoted true is refused.
	r = load(t, nil, file{"compose.yml", "services:\n  app:\n    image: nginx\n    deploy:\n      labels:\n        traefik.enable: true\n"})
	hasProblems(t, r, wantProblem{kind: "schema", file: "compose.yml", line: 6, column: 9, path: "services.app.deploy.labels.traefik.enable",
		contains: "services.app.deploy.labels.traefik.enable: must be null or a number or a string"})
}

func TestEnvironmentBareNames(t *testing.T) {
	r := load(t, map[string]string{"FROM_ENV": "e1", "EMPTY_BUT_SET": "e2"}, file{"compose.yml", `services:
  app:
    image: nginx
    environment:
      - FROM_ENV
      - NOT_IN_ENV
      - EMPTY_BUT_SET=
      - EMPTY=
      - PLAIN=value=with=equals
`})
	noProblems(t, r)
	// A bare name takes its value from the environment, else stays without a value (null): the
	// container then gets no such variable. "NAME=" also takes the environment's value when there is one.
	wantJSON(t, "environment", get(t, r.Config, "services.app.environment"),
		`{"FROM_ENV":"e1","NOT_IN_ENV":null,"EMPTY_BUT_SET":"e2","EMPTY":"","PLAIN":"value=with=equals"}`)
}

func TestYAMLUnterminatedQuote(t *testing.T) {
	r := load(t, nil,
		file{"compose.yml", "services:\n  app:\n    image: nginx\n    command: \"sh -c 'echo hi'\n    environment:\n      - A=1\n"},
		file{"compose.b.yml", "services:\n  app:\n    image: nginx\n   bad: indentation\n"},
		file{"compose.c.yml", "services:\n  db:\n    image: \"postgres\n"})
	if r.Config != nil {
		t.Fatal("config despite a YAML error")
	}
	hasProblems(t, r,
		// Where the quote opened: line 4, column 14.
		wantProblem{kind: "yaml", file: "compose.yml", line: 4, column: 14, contains: "found unexpected end of stream"},
		// A badly indented key: where it is.
		wantProblem{kind: "yaml", file: "compose.b.yml", line: 4, column: 4, contains: "did not find expected key"},
		wantProblem{kind: "yaml", file: "compose.c.yml", line: 3, column: 12, contains: "yaml: line 3: found unexpected end of stream"},
	)
}

func TestSchemaErrorsAllReported(t *testing.T) {
	r := load(t, nil, file{"compose.yml", `version: "3.8"
services:
  app:
    image: nginx
    restart_polciy: always
    deploy:
      replicas: two
  db:
    image: postgres
    healthcheck:
      interval: 10 seconds
`})
	hasProblems(t, r,
		wantProblem{kind: "schema", file: "compose.yml", line: 5, column: 5, path: "services.app.restart_polciy",
			contains: "services.app: additional property 'restart_polciy' is not allowed"},
		wantProblem{kind: "schema", file: "compose.yml", line: 7, column: 7, path: "services.app.deploy.replicas",
			contains: "services.app.deploy.replicas: must be an integer"},
		wantProblem{kind: "schema", file: "compose.yml", line: 11, column: 7, path: "services.db.healthcheck.interval",
			contains: "'10 seconds' is not valid duration"},
	)
	// Docker's own single error is one of them, word for word.
	dict, _ := loader.ParseYAML([]byte(`version: "3.8"
services:
  app:
    image: nginx
    restart_polciy: always
    deploy:
      replicas: two
  db:
    image: postgres
    healthcheck:
      interval: 10 seconds
`))
	_, err := loader.Load(types.ConfigDetails{WorkingDir: "/srv", ConfigFiles: []types.ConfigFile{{Filename: "c", Config: dict}}})
	if err == nil {
		t.Fatal("Docker accepted it")
	}
	if !representsDockerError(err, r.Problems) {
		t.Errorf("Docker's error %q is not among %s", err, asJSON(r.Problems))
	}
}

func TestInvalidPortAndDuration(t *testing.T) {
	r := load(t, map[string]string{"PORT": "70000"}, file{"compose.yml", `services:
  app:
    image: nginx
    ports:
      - "8080:80"
      - "${PORT}:443"
      - target: 80
        published: eighty
    stop_grace_period: 1fortnight
`})
	hasProblems(t, r,
		wantProblem{kind: "schema", file: "compose.yml", line: 6, column: 9, path: "services.app.ports.1",
			contains: "services.app.ports.1: '70000:443' is not valid ports: invalid hostPort: 70000"},
		wantProblem{kind: "schema", file: "compose.yml", line: 8, column: 9, path: "services.app.ports.2.published",
			contains: "services.app.ports.2.published: must be an integer"},
		wantProblem{kind: "schema", file: "compose.yml", line: 9, column: 5, path: "services.app.stop_grace_period",
			contains: "is not valid duration"},
	)
}

func TestInterpolationErrorsAllReported(t *testing.T) {
	r := load(t, nil,
		file{"compose.yml", "services:\n  app:\n    image: ${IMAGE:?set IMAGE}\n    environment:\n      - DOMAIN=${DOMAIN:?the domain}\n"},
		file{"compose.b.yml", "services:\n  app:\n    deploy:\n      replicas: ${REPLICAS:-many}\n"})
	hasProblems(t, r,
		wantProblem{kind: "interpolation", file: "compose.yml", line: 3, column: 5, path: "services.app.image",
			contains: `invalid interpolation format for services.app.image: "required variable IMAGE is missing a value: set IMAGE"`},
		wantProblem{kind: "interpolation", file: "compose.yml", line: 5, column: 9, path: "services.app.environment.0",
			contains: `required variable DOMAIN is missing a value: the domain`},
		wantProblem{kind: "interpolation", file: "compose.b.yml", line: 4, column: 7, path: "services.app.deploy.replicas",
			contains: `error while interpolating services.app.deploy.replicas: failed to cast to expected type`},
	)
	// A missing required variable is a problem, neither "unset" nor "defaulted".
	wantJSON(t, "unset", r.Unset, `[]`)
	wantJSON(t, "defaulted", r.Defaulted, `["REPLICAS"]`)
}

func TestStackDeployChecks(t *testing.T) {
	r := load(t, nil, file{"compose.yml", `version: "3.8"
services:
  app:
    image: nginx
    extends: base
    build: .
    container_name: app
    ports:
      - "127.0.0.1:8080:80"
`}, file{"compose.b.yml", `version: "3.7"
services:
  noimage:
    command: "true"
`})
	hasProblems(t, r,
		wantProblem{kind: "forbidden", file: "compose.yml", line: 5, column: 5, path: "services.app.extends", contains: "extends"},
		wantProblem{kind: "version", file: "compose.b.yml", line: 1, column: 1, path: "version",
			contains: "version mismatched between two composefiles : 3.8 and 3.7"},
	)
	want := map[string]string{
		"unsupported": "services.app.build",
		"deprecated":  "services.app.container_name",
		"docker":      "services.app.ports.0",
	}
	for _, w := range r.Warnings {
		if want[w.Kind] == w.Path {
			delete(want, w.Kind)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing warnings %v in %s", want, asJSON(r.Warnings))
	}

	// Loads, but docker stack deploy refuses a service without an image.
	r = load(t, nil, file{"compose.yml", "services:\n  app:\n    image: nginx\n  noimage:\n    command: \"true\"\n"})
	if r.Config == nil {
		t.Fatal("no config")
	}
	hasProblems(t, r, wantProblem{kind: "image", file: "compose.yml", line: 4, column: 3, path: "services.noimage.image",
		contains: "invalid image reference for service noimage: no image specified"})
}

// configToJSON must say what `docker stack config` says (a YAML encoding of the same types.Config),
// except for byte sizes, which are numbers here and strings there.
func TestConfigJSONMatchesStackConfig(t *testing.T) {
	content := `version: "3.8"
x-top: {a: 1}
services:
  app:
    image: nginx
    command: nginx -g "daemon off;"
    environment: [A=1, B]
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    healthcheck:
      test: ["CMD", "true"]
      interval: 1m30s
      retries: 3
    deploy:
      mode: global
      resources:
        limits: {cpus: "0.5", memory: 1G}
        reservations: {memory: 512m}
      update_config: {parallelism: 1, delay: 5s, max_failure_ratio: 0.3, order: start-first}
      placement:
        constraints: [node.role == manager]
    logging:
      driver: json-file
      options: {max-size: 10m}
    networks:
      - front
    volumes:
      - type: volume
        source: v
        target: /v
        volume: {nocopy: true}
      - type: tmpfs
        target: /t
        tmpfs: {size: 65536}
    secrets:
      - source: s
        mode: 0400
    x-svc: {b: 2}
networks:
  front:
    driver: overlay
    attachable: true
    x-net: 1
volumes:
  v:
    external: true
secrets:
  s:
    file: ./s.txt
`
	r := load(t, nil, file{"compose.yml", content})
	noProblems(t, r)

	dict, err := loader.ParseYAML([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loader.Load(types.ConfigDetails{WorkingDir: "/srv/recipe", ConfigFiles: []types.ConfigFile{{Filename: "compose.yml", Config: dict}}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf) // as cli/command/stack/config.go does
	enc.SetIndent(2)
	if err := enc.Encode(&cfg); err != nil {
		t.Fatal(err)
	}
	var fromYAML any
	if err := yaml.Unmarshal(buf.Bytes(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	// Round-trip through JSON so that both sides have the same Go types.
	var want any
	if err := json.Unmarshal([]byte(asJSON(fromYAML)), &want); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"services.app.deploy.resources.limits.memory", "services.app.deploy.resources.reservations.memory"} {
		s := get(t, want, p).(string)
		n, _ := strconv.ParseFloat(s, 64)
		setPath(want, p, n)
	}
	if !reflect.DeepEqual(r.Config, want) {
		t.Errorf("config JSON differs from docker stack config:\n ours %s\nstack %s", asJSON(r.Config), asJSON(want))
	}
	wantJSON(t, "limits", get(t, r.Config, "services.app.deploy.resources.limits"), `{"cpus":"0.5","memory":1073741824}`)
	wantJSON(t, "ulimits", get(t, r.Config, "services.app.ulimits"), `{"nofile":{"soft":1024,"hard":2048},"nproc":512}`)
	wantJSON(t, "networks", get(t, r.Config, "services.app.networks"), `{"front":null}`)
	wantJSON(t, "secret mode", get(t, r.Config, "services.app.secrets.0.mode"), `256`)
}

func setPath(v any, path string, value any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		v = v.(map[string]any)[p]
	}
	v.(map[string]any)[parts[len(parts)-1]] = value
}

func TestMalformedRequests(t *testing.T) {
	for name, tc := range map[string]struct {
		args  []string
		stdin string
		code  int
	}{
		"not json":          {[]string{"load"}, "{", 2},
		"no files":          {[]string{"load"}, `{"workingDir":"/x","files":[]}`, 2},
		"relative dir":      {[]string{"load"}, `{"workingDir":"x","files":[{"name":"a","content":""}]}`, 2},
		"unknown field":     {[]string{"load"}, `{"workingDir":"/x","files":[],"bogus":1}`, 2},
		"unknown command":   {[]string{"frobnicate"}, ``, 2},
		"problems are data": {[]string{"load"}, `{"workingDir":"/x","files":[{"name":"a","content":"services: ["}]}`, 0},
		"render":            {[]string{"render"}, `{"items":[{"id":"a","template":"{{ if }}"}]}`, 0},
	} {
		var out, errOut bytes.Buffer
		if code := run(tc.args, strings.NewReader(tc.stdin), &out, &errOut); code != tc.code {
			t.Errorf("%s: exit %d, want %d (stderr %q)", name, code, tc.code, errOut.String())
		}
	}
}

// Values the schema lets through but the loader refuses, each pointed at its key.
func TestLoaderErrors(t *testing.T) {
	r := load(t, nil, file{"compose.yml", `services:
  app:
    image: nginx
    volumes:
      - /a:/b
      - "::::"
  db:
    image: postgres
    deploy:
      resources:
        limits:
          memory: lots
  files:
    image: nginx
    volumes:
      - type: bind
        target: /x
volumes:
  v:
    external: true
    driver: local
`})
	hasProblems(t, r,
		wantProblem{kind: "load", file: "compose.yml", line: 6, column: 9, path: "services.app.volumes.1", contains: "invalid spec: ::::: empty section between colons"},
		wantProblem{kind: "load", file: "compose.yml", line: 12, column: 11, path: "services.db.deploy.resources.limits.memory", contains: "invalid size: 'lots'"},
		wantProblem{kind: "load", file: "compose.yml", line: 13, column: 3, path: "services.files", contains: `invalid mount config for type "bind": field Source must not be empty`},
		wantProblem{kind: "load", file: "compose.yml", line: 19, column: 3, path: "volumes.v", contains: `conflicting parameters "external" and "driver" specified for volume "v"`},
	)
}
