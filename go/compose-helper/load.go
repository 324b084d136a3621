package main

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/cli/cli/compose/loader"
	"github.com/docker/cli/cli/compose/schema"
	"github.com/docker/cli/cli/compose/types"
	"github.com/sirupsen/logrus"
)

// LoadRequest is the input of `ccci-compose load`.
type LoadRequest struct {
	// WorkingDir is the directory relative paths are resolved against (bind mount sources, secret and
	// config files, env_file): docker stack deploy uses the directory of the first -c file.
	WorkingDir string `json:"workingDir"`
	// Files are the compose files in `-c` order, read by the caller: the helper reads no compose file.
	Files []FileIn `json:"files"`
	// Env is the whole environment interpolation sees (the process environment is not used).
	Env map[string]string `json:"env"`
}

// FileIn is one compose file: a name for messages and positions, and its content.
type FileIn struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// LoadResponse is the output of `ccci-compose load`.
type LoadResponse struct {
	// Config is the merged, interpolated, normalised configuration docker stack deploy would deploy, or
	// null when Docker's loader refuses the files.
	Config any `json:"config"`
	// Warnings are what docker stack deploy prints and carries on with.
	Warnings []Warning `json:"warnings"`
	// Problems are everything that makes docker stack deploy refuse the files: all of them, each with the
	// file, line and column of the offending node.
	Problems []Problem `json:"problems"`
	// Unset are the variables referred to as $VAR / ${VAR} that the env does not set: Docker silently
	// substitutes "" for them (it does not warn).
	Unset []string `json:"unset"`
	// Defaulted are the unset variables whose ${VAR-default} / ${VAR:-default} default was used.
	Defaulted []string `json:"defaulted"`
	// Positions maps every mapping key and list item path of every file to "file:line" (a later file
	// wins over an earlier one for the same path).
	Positions map[string]string `json:"positions"`
}

// Problem is a reason docker stack deploy would refuse the files.
type Problem struct {
	// Kind: yaml, version, forbidden, interpolation, bound, schema, load, image, merge.
	Kind    string `json:"kind"`
	Message string `json:"message"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	// Path is the dotted path of the offending node ("services.app.ports.0"), "" if none.
	Path string `json:"path"`
	// Detail is extra context of ours (not Docker's words), e.g. where a YAML construct started.
	Detail string `json:"detail,omitempty"`
}

// Warning is something docker stack deploy tells about and goes on.
type Warning struct {
	// Kind: unsupported, deprecated (Docker's "Ignoring ... options"), docker (a warning Docker's loader
	// logs), ignored (ours: a key docker stack deploy drops silently).
	Kind    string `json:"kind"`
	Message string `json:"message"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Path    string `json:"path"`
}

// logrus carries the loader's own warnings ("network.external.name is deprecated", "ignoring
// IP-address ..."); they are collected instead of printed.
type logCollector struct{ entries []string }

func (c *logCollector) Levels() []logrus.Level { return logrus.AllLevels }
func (c *logCollector) Fire(e *logrus.Entry) error {
	if e.Level <= logrus.WarnLevel {
		c.entries = append(c.entries, e.Message)
	}
	return nil
}

var logs = &logCollector{}

func init() {
	logrus.SetOutput(io.Discard)
	logrus.AddHook(logs)
}

func (c *logCollector) take() []string {
	out := c.entries
	c.entries = nil
	return out
}

type parsedFile struct {
	name      string
	content   []byte
	dict      map[string]any // as loader.ParseYAML returned it; nil if it failed
	positions positions
}

// Load runs docker stack deploy's loading of the files (loader.Load, then the image check deploy does)
// and, beside it, a file-by-file diagnosis that lists every problem and warning with its position.
func Load(req LoadRequest) (*LoadResponse, error) {
	if len(req.Files) == 0 {
		return nil, badRequest("no files")
	}
	if req.WorkingDir == "" || !filepath.IsAbs(req.WorkingDir) {
		return nil, badRequest("workingDir must be an absolute path, got %q", req.WorkingDir)
	}
	names := map[string]bool{}
	for i, f := range req.Files {
		if f.Name == "" {
			return nil, badRequest("files[%d] has no name", i)
		}
		if names[f.Name] {
			return nil, badRequest("files[%d]: name %q given twice", i, f.Name)
		}
		names[f.Name] = true
	}
	env := map[string]string{}
	maps.Copy(env, req.Env)

	resp := &LoadResponse{Warnings: []Warning{}, Problems: []Problem{}, Positions: map[string]string{}}

	// Parse every file with Docker's parser; positions come from a node tree of the same parser.
	files := make([]*parsedFile, len(req.Files))
	allParsed := true
	for i, f := range req.Files {
		pf := &parsedFile{name: f.Name, content: []byte(f.Content)}
		files[i] = pf
		dict, err := loader.ParseYAML(pf.content)
		if err != nil {
			allParsed = false
			for _, p := range yamlErrorPositions(pf.content, err) {
				p.File = f.Name
				resp.Problems = append(resp.Problems, p)
			}
			continue
		}
		pf.dict = dict
		pf.positions = buildPositions(pf.content)
		for _, p := range guardEnvFiles(pf.dict, req.WorkingDir, env) {
			placeInLastFile(&p, []*parsedFile{pf}, strings.Split(p.Path, "."))
			resp.Problems = append(resp.Problems, p)
		}
	}
	for _, pf := range files {
		if pf.positions == nil {
			continue
		}
		for path, at := range pf.positions {
			resp.Positions[path] = pf.name + ":" + strconv.Itoa(at.Line)
		}
	}

	// Docker's version: that of the first file (getConfigDetails).
	version := ""
	if files[0].dict != nil {
		version = schema.Version(files[0].dict)
	}

	lookup := newEnvLookup(env)
	opts := dockerInterpolateOptions()
	opts.LookupValue = lookup.lookup

	// 1. The diagnosis, file by file, in the order and with the steps of loader.Load.
	var diag []Problem
	for _, pf := range files {
		if pf.dict == nil {
			continue
		}
		d := diagnoseFile(pf, version, req.WorkingDir, env, lookup, opts)
		diag = append(diag, d.problems...)
		resp.Warnings = append(resp.Warnings, d.warnings...)
	}
	resp.Unset = sortedKeys(lookup.unset)
	resp.Defaulted = sortedKeys(lookup.defaulted)

	// 2. The real thing: loader.Load exactly as docker stack deploy calls it — unless a value could
	// grow past its bound, which Docker's loader would expand without one.
	if !allParsed || slices.ContainsFunc(diag, func(p Problem) bool { return p.Kind == "bound" }) {
		resp.Problems = append(resp.Problems, diag...) // Docker stops at the YAML error; the rest is ours
	} else {
		var cfg *types.Config
		err := safeLoad(func() (err error) { // Docker's loader trusts its schema; never crash on it
			cfg, err = dockerLoad(files, req.WorkingDir, env, version)
			return err
		})
		logs.take() // already reported, with positions, by the diagnosis
		if err == nil {
			// Docker accepted the files: whatever the diagnosis thinks, it refused nothing.
			resp.Config = configToJSON(cfg)
			resp.Problems = append(resp.Problems, imageProblems(cfg, files)...)
		} else {
			resp.Problems = append(resp.Problems, diag...)
			if !representsDockerError(err, resp.Problems) {
				resp.Problems = append(resp.Problems, dockerErrorProblem(err, files))
			}
		}
	}
	sortProblems(resp.Problems, files)
	return resp, nil
}

// dockerLoad is cli/command/stack's getConfigDetails + loadComposeFile, with the files' content and the
// env map in place of the file system and the process environment.
func dockerLoad(files []*parsedFile, workingDir string, env map[string]string, version string) (*types.Config, error) {
	details := types.ConfigDetails{
		Version:     version,
		WorkingDir:  workingDir,
		Environment: env,
	}
	for _, pf := range files {
		dict, err := loader.ParseYAML(pf.content) // a fresh copy: Load must see what Docker would
		if err != nil {
			return nil, err
		}
		guardEnvFiles(dict, workingDir, env) // reported above; here only kept from Docker's reading
		details.ConfigFiles = append(details.ConfigFiles, types.ConfigFile{Filename: pf.name, Config: dict})
	}
	return loader.Load(details)
}

// imageProblems is the check docker stack deploy makes right after loading.
func imageProblems(cfg *types.Config, files []*parsedFile) []Problem {
	var out []Problem
	for _, svc := range cfg.Services {
		var msg string
		if svc.Image == "" {
			msg = fmt.Sprintf("invalid image reference for service %s: no image specified", svc.Name)
		} else if _, err := reference.ParseAnyReference(svc.Image); err != nil {
			msg = fmt.Sprintf("invalid image reference for service %s: %v", svc.Name, err)
		} else {
			continue
		}
		p := Problem{Kind: "image", Message: msg}
		placeInLastFile(&p, files, []string{"services", svc.Name, "image"})
		out = append(out, p)
	}
	return out
}

// placeInLastFile points p at the last file that writes path (or its nearest written ancestor).
func placeInLastFile(p *Problem, files []*parsedFile, path []string) {
	p.Path = joinPath(path)
	bestLen := -1
	for _, pf := range files {
		if pf.positions == nil {
			continue
		}
		if at, found, ok := pf.positions.lookup(path); ok && len(found) >= bestLen {
			bestLen = len(found)
			p.File, p.Line, p.Column = pf.name, at.Line, at.Column
		}
	}
}

func representsDockerError(err error, problems []Problem) bool {
	if _, ok := err.(*loader.ForbiddenPropertiesError); ok {
		for _, p := range problems {
			if p.Kind == "forbidden" {
				return true
			}
		}
		return false
	}
	msg := err.Error()
	for _, p := range problems {
		if p.Message == msg || (p.Kind == "yaml" && strings.Contains(msg, p.Message)) {
			return true
		}
	}
	return false
}

// dockerErrorProblem reports loader.Load's own error when the diagnosis did not find it (a merge error,
// say). Its position is a guess from the names in the message.
func dockerErrorProblem(err error, files []*parsedFile) Problem {
	msg := err.Error()
	p := Problem{Kind: "load", Message: msg}
	if strings.HasPrefix(msg, "failed to merge file ") {
		p.Kind = "merge"
		name, _, _ := strings.Cut(strings.TrimPrefix(msg, "failed to merge file "), "\n")
		for _, pf := range files {
			if pf.name == name {
				p.File, p.Line, p.Column = pf.name, 1, 1
			}
		}
		if _, rest, ok := strings.Cut(msg, "cannot merge service "); ok {
			svc, _, _ := strings.Cut(rest, ":")
			placeInLastFile(&p, files, []string{"services", svc})
		}
	}
	return p
}

func sortProblems(ps []Problem, files []*parsedFile) {
	order := map[string]int{}
	for i, pf := range files {
		order[pf.name] = i
	}
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			if a.File == "" || b.File == "" {
				return b.File == ""
			}
			return order[a.File] < order[b.File]
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

func sortedKeys(m map[string]bool) []string {
	out := slices.Sorted(maps.Keys(m))
	if out == nil {
		out = []string{}
	}
	return out
}
